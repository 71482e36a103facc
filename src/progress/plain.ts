import type { PipelineEvent, ItemResult } from '../pipeline/events.js';
import { redact } from '../util/secrets.js';
import { formatBytes } from '../report/summary.js';

export type LogFormat = 'text' | 'json';

/**
 * Output for logs, CI and cron: one line per finished item and a periodic summary line, no
 * escape codes. `json` writes one JSON object per line for log pipelines.
 */
export class PlainProgress {
  private done = 0;
  private pending = 0;
  private bytes = 0;
  private failed = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly opts: { format: LogFormat; verbose: boolean; summaryEveryMs?: number },
  ) {}

  start(): void {
    const every = this.opts.summaryEveryMs ?? 10_000;
    if (every > 0) {
      this.timer = setInterval(() => this.periodic(), every);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private write(line: string, obj: Record<string, unknown>): void {
    if (this.opts.format === 'json') this.out.write(redact(JSON.stringify({ time: new Date().toISOString(), ...obj })) + '\n');
    else this.out.write(redact(line) + '\n');
  }

  private periodic(): void {
    if (this.pending === 0) return;
    const secs = (Date.now() - this.started) / 1000;
    this.write(`progress: ${this.done}/${this.pending} done, ${this.failed} failed, ${formatBytes(this.bytes)} uploaded, ${secs.toFixed(0)}s`, {
      event: 'progress',
      done: this.done,
      total: this.pending,
      failed: this.failed,
      bytesUploaded: this.bytes,
    });
  }

  handle = (e: PipelineEvent): void => {
    switch (e.type) {
      case 'source-indexed':
        this.write(
          `source ${e.source}: ${e.versions} versions in the index, ${e.selected} selected, ${e.excluded} excluded${e.notModified ? ' (index unchanged)' : ''}`,
          { event: 'source', ...e },
        );
        return;
      case 'plan':
        this.pending = e.pending;
        this.write(
          `plan: ${e.total} chart versions x targets; ${e.pending} to check or push, ${e.present} already confirmed, ${e.failed} invalid, ${e.excluded} excluded`,
          { event: 'plan', ...e },
        );
        return;
      case 'item':
        this.item(e.result);
        return;
      case 'retry':
        if (this.opts.verbose || this.opts.format === 'json') {
          this.write(`retry ${e.what}: attempt ${e.attempt} failed (${e.error}); again in ${(e.delayMs / 1000).toFixed(1)}s`, { event: 'retry', ...e });
        }
        return;
      case 'warning':
        this.write(`warning: ${e.message}`, { event: 'warning', message: e.message });
        return;
      case 'stopping':
        this.write(`${e.signal}: stopping; finishing what is in flight (send again to exit at once)`, { event: 'stopping', signal: e.signal });
        return;
      default:
        return;
    }
  };

  private item(r: ItemResult): void {
    const inPlan = r.status === 'pushed' || r.status === 'failed' || (r.status === 'present' && r.via === 'target') || r.status === 'planned';
    if (inPlan) this.done++;
    if (r.status === 'failed') this.failed++;
    this.bytes += r.bytesUploaded ?? 0;
    // Journal hits and exclusions are summarised, not listed, unless asked for.
    if (!this.opts.verbose && ((r.status === 'present' && r.via === 'journal') || r.status === 'excluded')) return;
    const what = `${r.source}/${r.chart} ${r.version} -> ${r.target}`;
    const detail =
      r.status === 'failed' || r.status === 'excluded'
        ? `: ${r.reason}`
        : r.reference
          ? ` ${r.reference}`
          : '';
    const warn = r.warnings?.length ? ` (warning: ${r.warnings.join('; ')})` : '';
    this.write(`${r.status.padEnd(8)} ${what}${detail}${warn}`, { event: 'item', ...r });
  }
}
