import type { PipelineEvent, ItemResult } from '../pipeline/events.js';
import { redact } from '../util/secrets.js';
import { publicUrl } from '../http/redact-url.js';
import { formatBytes, formatDuration, summaryLine, type RunSummary } from '../report/summary.js';
import { escapeControl } from '../report/text.js';
import { eta, rate, Tally } from './tally.js';
import type { ProgressRenderer } from './renderer.js';

export type LogFormat = 'text' | 'json';

/** `network: https://reg:5000 via proxy http://proxy:3128 (HTTPS_PROXY)`, or `… direct (NO_PROXY)`. */
export function routeLine(r: { origin: string; proxy?: string; reason: string }): string {
  return `network: ${r.origin} ${r.proxy ? `via proxy ${r.proxy}` : 'direct'} (${r.reason})`;
}

export interface PlainOptions {
  format: LogFormat;
  /** List journal hits and exclusions too, and every retry. */
  verbose: boolean;
  /** Only failures, the stop notice and the final summary. */
  quiet?: boolean;
  /** A progress summary line this often while work is pending (0: never). Default 10 s. */
  summaryEveryMs?: number;
}

/**
 * Output for logs, CI and cron: one line per finished item and a periodic summary line, no
 * escape codes (control characters in messages are dropped). `json` writes one JSON object
 * per line for log pipelines; every line, the final summary included, parses on its own.
 */
export class PlainProgress implements ProgressRenderer {
  private readonly tally: Tally;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly opts: PlainOptions,
    now: () => number = Date.now,
  ) {
    this.tally = new Tally(now);
  }

  start(): void {
    const every = this.opts.summaryEveryMs ?? 10_000;
    if (every > 0 && !this.opts.quiet) {
      this.timer = setInterval(() => this.periodic(), every);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  finish(s: RunSummary): void {
    this.write(summaryLine(s), { event: 'summary', ...s });
  }

  private write(line: string, obj: Record<string, unknown>): void {
    if (this.opts.format === 'json') this.out.write(redact(JSON.stringify({ time: new Date().toISOString(), ...obj })) + '\n');
    else this.out.write(escapeControl(redact(line)) + '\n');
  }

  /** The periodic line; public so tests need not wait for the timer. */
  periodic(): void {
    const all = this.tally.all;
    if (!this.tally.planned || all.total === 0 || all.done >= all.total) return;
    const ms = this.tally.elapsedMs();
    const r = rate(all.bytesUploaded, ms);
    const left = eta(all, ms);
    const pct = Math.floor((all.done * 100) / all.total);
    this.write(
      `progress: ${all.done}/${all.total} done (${pct}%), ${all.failed} failed, ${formatBytes(all.bytesUploaded)} uploaded` +
        `${r ? `, ${formatBytes(Math.round(r))}/s` : ''}${left !== undefined ? `, about ${formatDuration(left)} left` : ''}`,
      { event: 'progress', done: all.done, total: all.total, failed: all.failed, bytesUploaded: all.bytesUploaded, bytesPerSecond: r ? Math.round(r) : null, etaMs: left !== undefined ? Math.round(left) : null },
    );
  }

  handle = (e: PipelineEvent): void => {
    this.tally.apply(e);
    const quiet = this.opts.quiet ?? false;
    switch (e.type) {
      case 'source-indexed':
        if (quiet) return;
        this.write(
          `source ${e.source}: ${e.versions} versions in the ${e.listedIn ?? 'index'}, ${e.selected} selected, ${e.excluded} excluded${e.notModified ? ' (index unchanged)' : ''}`,
          { event: 'source', ...e },
        );
        return;
      case 'plan':
        if (quiet) return;
        this.write(
          `plan${e.shard ? ` (shard ${e.shard.index}/${e.shard.count})` : ''}: ${e.total} chart versions x targets; ${e.pending} to check or push, ${e.present} already confirmed, ${e.failed} invalid, ${e.excluded} excluded`,
          { event: 'plan', total: e.total, pending: e.pending, present: e.present, failed: e.failed, excluded: e.excluded, targets: e.targets, ...(e.shard ? { shard: e.shard } : {}) },
        );
        if (e.groups.length > 1 || this.opts.format === 'json') {
          for (const g of e.groups) {
            this.write(
              `plan ${g.source} -> ${g.target}: ${g.pending} to check or push, ${g.present} already confirmed, ${g.failed} invalid, ${g.excluded} excluded`,
              { event: 'plan-group', ...g },
            );
          }
        }
        return;
      case 'item':
        this.item(e.result);
        return;
      case 'retry':
        if (!quiet && (this.opts.verbose || this.opts.format === 'json')) {
          this.write(`retry ${e.what}: attempt ${e.attempt} failed (${e.error}); again in ${(e.delayMs / 1000).toFixed(1)}s`, { event: 'retry', ...e });
        }
        return;
      case 'warning':
        if (!quiet) this.write(`warning: ${e.message}`, { event: 'warning', message: e.message });
        return;
      case 'route':
        if (!quiet && this.opts.verbose) this.write(routeLine(e), { event: 'route', origin: e.origin, ...(e.proxy ? { proxy: e.proxy } : {}), reason: e.reason });
        return;
      case 'stopping':
        this.write(`${e.signal}: stopping; finishing what is in flight (send again to exit at once)`, { event: 'stopping', signal: e.signal });
        return;
      default:
        return;
    }
  };

  private item(r: ItemResult): void {
    if (this.opts.quiet && r.status !== 'failed') return;
    // Journal hits and exclusions are summarised, not listed, unless asked for.
    if (!this.opts.verbose && ((r.status === 'present' && r.via === 'journal') || r.status === 'excluded')) return;
    const what = `${r.source}/${r.chart} ${r.version} -> ${r.target}`;
    const detail =
      r.status === 'failed' || r.status === 'excluded'
        ? `: ${r.reason}`
        : r.reference
          ? ` ${r.reference}`
          : r.repository && r.tag
            ? ` ${r.repository}:${r.tag}`
            : '';
    const warn = r.warnings?.length ? ` (warning: ${r.warnings.join('; ')})` : '';
    this.write(`${r.status.padEnd(8)} ${what}${detail}${warn}`, { event: 'item', ...r, ...(r.url ? { url: publicUrl(r.url) } : {}) });
  }
}
