import type { PipelineEvent } from '../pipeline/events.js';
import type { RunSummary } from '../report/summary.js';
import { PlainProgress, type LogFormat } from './plain.js';

/** Progress output. Renderers see only PipelineEvents; the pipeline knows nothing of them. */
export interface ProgressRenderer {
  start(): void;
  handle(e: PipelineEvent): void;
  /** Stop rendering (await it before writing anything else to the terminal). */
  stop(): Promise<void>;
  /** The closing line every run ends with: pushed, present, failed, excluded, bytes, time. */
  finish(summary: RunSummary): void;
}

export interface ProgressChoice {
  format: LogFormat;
  verbose: boolean;
  quiet: boolean;
}

/**
 * A listr2 task list when `out` is a terminal (text format, not quiet); otherwise plain lines
 * (text or JSON) for logs, CI and pipes.
 */
export async function createProgress(out: NodeJS.WriteStream, opts: ProgressChoice, env: NodeJS.ProcessEnv = process.env): Promise<ProgressRenderer> {
  if (opts.format === 'text' && !opts.quiet && out.isTTY === true && env.TERM !== 'dumb') {
    // listr2 is loaded only for a terminal.
    const { TtyProgress } = await import('./tty.js');
    return new TtyProgress(out, { verbose: opts.verbose });
  }
  return new PlainProgress(out, { format: opts.format, verbose: opts.verbose, quiet: opts.quiet });
}
