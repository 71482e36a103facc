import { ChartMirrorError } from '../errors.js';
import type { PipelineEvent } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';
import { createProgress, type ProgressRenderer } from '../progress/renderer.js';
import { runSummary } from '../report/summary.js';
import { writeReports } from '../report/write.js';
import { EXIT } from './exit-codes.js';
import { installSignalHandlers, type StopControl } from './signals.js';

/** How long in-flight items get after SIGINT/SIGTERM before they are abandoned. */
const GRACE_MS = 5_000;

export function checkConcurrency(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new ChartMirrorError('USAGE', '--concurrency must be a positive whole number');
}

/** Progress and signals around one pipeline run, the same for sync, plan, export and import. */
export async function runWithProgress(
  args: { 'log-format': 'text' | 'json'; verbose: boolean; debug: boolean; quiet: boolean },
  run: (hooks: { onEvent: (e: PipelineEvent) => void; signals: StopControl }) => Promise<RunResult>,
): Promise<{ result: RunResult; progress: ProgressRenderer; signals: StopControl }> {
  const progress = await createProgress(process.stderr, { format: args['log-format'], verbose: args.verbose || args.debug, quiet: args.quiet });
  const onEvent = (e: PipelineEvent) => progress.handle(e);
  const signals = installSignalHandlers({ graceMs: GRACE_MS, onStop: (signal) => onEvent({ type: 'stopping', signal }) });
  progress.start();
  try {
    return { result: await run({ onEvent, signals }), progress, signals };
  } finally {
    await progress.stop();
    signals.dispose();
  }
}

/**
 * Write the reports asked for (also after an interrupted run), then the closing summary; a
 * report that cannot be written fails the command after the summary.
 */
export async function finishRun(
  args: { report?: string; 'report-md'?: string; junit?: string; map?: string },
  command: string,
  result: RunResult,
  progress: ProgressRenderer,
): Promise<void> {
  let reportError: unknown;
  try {
    await writeReports({ json: args.report, markdown: args['report-md'], junit: args.junit, map: args.map }, command, result);
  } catch (e) {
    reportError = e;
  }
  progress.finish(runSummary(result));
  if (reportError) throw reportError;
}

/** 130/143 after a signal, 1 when anything failed, else 0. */
export function runExitCode(result: RunResult, signals: StopControl): number {
  if (signals.received) return signals.received === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM;
  return result.items.some((i) => i.status === 'failed') ? EXIT.FAILED : EXIT.OK;
}
