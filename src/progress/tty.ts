import { Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper } from 'listr2';
import type { ItemResult, PipelineEvent, PlanGroup } from '../pipeline/events.js';
import { formatBytes, formatDuration, summaryLine, type RunSummary } from '../report/summary.js';
import { cell, escapeControl } from '../report/text.js';
import { redact } from '../util/secrets.js';
import { routeLine } from './plain.js';
import type { ProgressRenderer } from './renderer.js';
import { eta, rate, Tally, type Progress } from './tally.js';

type TaskWrapper = ListrTaskWrapper<any, any, any>;

interface GroupTask {
  progress: Progress;
  task?: TaskWrapper;
  resolve?: () => void;
  reject?: (e: Error) => void;
  ended: boolean;
  /** Failures seen before the task started (plan-time ones). */
  pending: string[];
  failures: number;
}

/** Failure lines kept on screen per source and target; the reports hold every one. */
const FAILURE_LINES = 10;

/**
 * The terminal renderer: a listr2 task list with one task per source and target, its title
 * showing done/total, bytes, rate and ETA; failures appear under their task as they happen.
 * The list starts at the plan; what comes before (index lines, warnings) is plain lines, so a
 * run that fails before any work prints nothing but its error.
 */
export class TtyProgress implements ProgressRenderer {
  private readonly tally: Tally;
  private readonly groups = new Map<string, GroupTask>();
  private readonly preplanFailures: ItemResult[] = [];
  private readonly later: string[] = [];
  private running: Promise<unknown> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private stopping = false;
  private dryRun = false;
  // A second SIGINT exits at once, past listr2's cleanup: give the cursor back anyway.
  private readonly showCursor = () => this.out.write('\x1b[?25h');

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly opts: { verbose: boolean },
    now: () => number = Date.now,
  ) {
    this.tally = new Tally(now);
  }

  start(): void {}

  private line(text: string): void {
    if (this.running) this.later.push(text);
    else this.out.write(escapeControl(redact(text)) + '\n');
  }

  handle = (e: PipelineEvent): void => {
    const g = this.tally.apply(e);
    switch (e.type) {
      case 'source-indexed':
        this.line(`source ${e.source}: ${e.versions} versions in the ${e.listedIn ?? 'index'}, ${e.selected} selected, ${e.excluded} excluded${e.notModified ? ' (index unchanged)' : ''}`);
        return;
      case 'warning':
        this.line(`warning: ${e.message}`);
        return;
      case 'plan':
        if (e.shard) this.line(`shard ${e.shard.index}/${e.shard.count}: the charts whose (source, chart) hash falls in it`);
        this.begin(e.groups);
        return;
      case 'item':
        if (!g) {
          if (e.result.status === 'failed') this.preplanFailures.push(e.result);
          return;
        }
        this.onItem(g, e.result);
        return;
      case 'stopping':
        this.stopping = true;
        for (const t of this.groups.values()) this.refresh(t);
        return;
      case 'retry':
        if (this.opts.verbose) this.line(`retry ${e.what}: attempt ${e.attempt} failed (${e.error})`);
        return;
      case 'route':
        if (this.opts.verbose) this.line(routeLine(e));
        return;
      default:
        return;
    }
  };

  private begin(groups: PlanGroup[]): void {
    for (const pg of groups) {
      const progress = this.tally.groups.get(`${pg.source}\u0000${pg.target}`)!;
      const pending = this.preplanFailures.filter((r) => r.source === pg.source && r.target === pg.target).map(failureLine);
      this.groups.set(`${pg.source}\u0000${pg.target}`, { progress, ended: false, pending, failures: pending.length });
    }
    // listr2 picks its renderer by looking at stdout; progress goes to stderr, so the default
    // renderer is both the primary and the "fallback", and both get the same options.
    const rendererOptions = {
      logger: new ListrLogger({ useIcons: true, toStderr: [], processOutput: new ProcessOutput(this.out, this.out, { leaveEmptyLine: false }) }),
      collapseErrors: false,
      showErrorMessage: false, // the failure lines under the task say it
      formatOutput: 'truncate' as const,
    };
    const taskOptions = { persistentOutput: true, outputBar: FAILURE_LINES };
    const list = new Listr<unknown, 'default', 'default'>(
      [...this.groups.values()].map((t) => ({
        title: this.title(t),
        task: (_ctx: unknown, task: TaskWrapper) =>
          new Promise<void>((resolve, reject) => {
            Object.assign(t, { task, resolve, reject });
            for (const l of t.pending.slice(-FAILURE_LINES)) task.output = l;
            this.refresh(t);
            this.maybeEnd(t);
          }),
        rendererOptions: taskOptions,
        fallbackRendererOptions: taskOptions,
      })),
      {
        concurrent: true,
        exitOnError: false,
        registerSignalListeners: false, // chartmirror handles SIGINT/SIGTERM itself
        renderer: 'default',
        fallbackRenderer: 'default',
        rendererOptions,
        fallbackRendererOptions: rendererOptions,
      },
    );
    process.once('exit', this.showCursor);
    this.running = list.run().catch(() => undefined);
    this.ticker = setInterval(() => this.groups.forEach((t) => this.refresh(t)), 1000);
    this.ticker.unref();
  }

  private onItem(g: Progress, r: ItemResult): void {
    const t = this.groups.get(`${g.source}\u0000${g.target}`);
    if (!t) return;
    if (r.status === 'planned') this.dryRun = true;
    if (r.status === 'failed') {
      t.failures++;
      const l = failureLine(r);
      if (t.task) t.task.output = l;
      else t.pending.push(l);
    }
    this.refresh(t);
    this.maybeEnd(t);
  }

  private title(t: GroupTask): string {
    const p = t.progress;
    const name = `${cell(p.source)} → ${cell(p.target)}`;
    if (t.ended) return `${name}: ${counts(p)}`;
    const ms = this.tally.elapsedMs();
    const bytes = this.dryRun ? p.bytesPlanned : p.bytesUploaded;
    const r = rate(p.bytesUploaded, ms);
    const left = eta(p, ms);
    const parts = [`${p.done}/${p.total}`, `${formatBytes(bytes)}${this.dryRun ? ' to push' : ''}`];
    if (r) parts.push(`${formatBytes(Math.round(r))}/s`);
    if (left !== undefined) parts.push(`ETA ${formatDuration(left)}`);
    if (p.failed) parts.push(`${p.failed} failed`);
    return `${name}  ${parts.join('  ')}${this.stopping ? '  (stopping…)' : ''}`;
  }

  private refresh(t: GroupTask): void {
    if (t.task) t.task.title = this.title(t);
  }

  private maybeEnd(t: GroupTask, force = false): void {
    if (t.ended || !t.task) return;
    if (!force && t.progress.done < t.progress.total) return;
    t.ended = true;
    this.refresh(t);
    const failed = t.progress.failed;
    if (failed > 0) {
      const hidden = t.failures - (FAILURE_LINES - 1); // the note takes a line too
      if (hidden > 0) t.task.output = `… and ${hidden} more (see --report)`;
      t.reject!(new Error(`${failed} failed`));
    } else t.resolve!();
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (!this.running) return;
    // Tasks whose items did not all arrive (an interrupted run) end now. A task function
    // that has not been called yet ends as soon as it is.
    for (const t of this.groups.values()) {
      t.progress.total = Math.min(t.progress.total, t.progress.done);
      this.maybeEnd(t, true);
    }
    await this.running;
    this.running = undefined;
    process.off('exit', this.showCursor);
    for (const l of this.later.splice(0)) this.line(l);
  }

  finish(s: RunSummary): void {
    this.out.write(escapeControl(redact(summaryLine(s))) + '\n');
  }
}

function failureLine(r: ItemResult): string {
  return escapeControl(redact(`${r.chart} ${r.version}: ${r.reason ?? 'failed'}`));
}

function counts(p: Progress): string {
  const parts: string[] = [];
  if (p.pushed) parts.push(`${p.pushed} pushed`);
  if (p.planned) parts.push(`${p.planned} to push (${formatBytes(p.bytesPlanned)})`);
  if (p.present) parts.push(`${p.present} present`);
  if (p.failed) parts.push(`${p.failed} failed`);
  if (p.excluded) parts.push(`${p.excluded} excluded`);
  if (p.bytesUploaded) parts.push(`${formatBytes(p.bytesUploaded)} uploaded`);
  return parts.length ? parts.join(', ') : 'nothing to do';
}
