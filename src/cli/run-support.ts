import { escapeControl } from '../report/text.js';
import { ChartMirrorError, InterruptedError } from '../errors.js';
import type { HttpObserver } from '../http/client.js';
import { MetricsCollector, type RunOutcome } from '../metrics/collector.js';
import { checkPushgatewayUrl, emitMetrics, type MetricsLabels, type MetricsOutputs } from '../metrics/output.js';
import type { PipelineEvent } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';
import { createProgress, type ProgressRenderer } from '../progress/renderer.js';
import { runSummary } from '../report/summary.js';
import { writeReports } from '../report/write.js';
import { redact } from '../util/secrets.js';
import { EXIT } from './exit-codes.js';
import { installSignalHandlers, type StopControl } from './signals.js';

/** How long in-flight items get after SIGINT/SIGTERM before they are abandoned. */
const GRACE_MS = 5_000;

export function checkConcurrency(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new ChartMirrorError('USAGE', '--concurrency must be a positive whole number');
}

export interface MetricsArgs {
  'metrics-file'?: string;
  pushgateway?: string;
}

/** A run's metrics: what collects them, and where they go when the run ends. */
export interface RunMetrics {
  collector: MetricsCollector;
  outputs: MetricsOutputs;
}

/**
 * The run's metrics when --metrics-file or --pushgateway asks for them (a bad --pushgateway URL
 * is a usage error now). `pairs`: the sources and targets the config pairs.
 */
export function startMetrics(
  args: MetricsArgs,
  labels: MetricsLabels,
  pairs: { source: string; target: string }[] = [],
  proxy?: MetricsOutputs['proxy'],
): RunMetrics | undefined {
  const file = args['metrics-file'];
  const pushgateway = args.pushgateway;
  if (!file && !pushgateway) return undefined;
  if (pushgateway) checkPushgatewayUrl(pushgateway);
  const collector = new MetricsCollector();
  collector.expect(pairs);
  return { collector, outputs: { file, pushgateway, labels, ...(proxy ? { proxy } : {}) } };
}

/** One warning line on stderr, as the progress output writes them (text or JSON); --quiet does not hide it. */
export function warn(format: 'text' | 'json', message: string): void {
  const line = format === 'json' ? JSON.stringify({ time: new Date().toISOString(), event: 'warning', message }) : `warning: ${message}`;
  process.stderr.write(escapeControl(redact(line)) + '\n');
}

async function finishMetrics(metrics: RunMetrics, run: RunOutcome, format: 'text' | 'json'): Promise<void> {
  for (const w of await emitMetrics(metrics.collector, run, metrics.outputs)) warn(format, w);
}

/**
 * Progress and signals around one pipeline run, the same for sync, plan, export and import.
 * With `metrics`, events and HTTP requests are counted too, and a run that stops with an error
 * (an index that cannot be read) still writes and pushes its metrics before the error goes on.
 */
export async function runWithProgress(
  args: { 'log-format': 'text' | 'json'; verbose: boolean; debug: boolean; quiet: boolean },
  run: (hooks: { onEvent: (e: PipelineEvent) => void; signals: StopControl; httpObserver?: HttpObserver }) => Promise<RunResult>,
  metrics?: RunMetrics,
): Promise<{ result: RunResult; progress: ProgressRenderer; signals: StopControl }> {
  const startedAt = new Date();
  const progress = await createProgress(process.stderr, { format: args['log-format'], verbose: args.verbose || args.debug, quiet: args.quiet });
  const collect = metrics?.collector.onEvent;
  const onEvent = (e: PipelineEvent) => {
    collect?.(e);
    progress.handle(e);
  };
  const signals = installSignalHandlers({ graceMs: GRACE_MS, onStop: (signal) => onEvent({ type: 'stopping', signal }) });
  progress.start();
  let result: RunResult;
  try {
    result = await run({ onEvent, signals, httpObserver: metrics?.collector });
  } catch (e) {
    await progress.stop();
    signals.dispose();
    if (metrics) {
      const stopped: RunOutcome = { items: [], startedAt, finishedAt: new Date(), interrupted: signals.received !== undefined, dryRun: false, error: true };
      await finishMetrics(metrics, stopped, args['log-format']);
    }
    // Stopped by a signal while planning: the signal's exit code, not a config error's.
    if (signals.received) throw new InterruptedError(signals.received);
    throw e;
  }
  await progress.stop();
  signals.dispose();
  return { result, progress, signals };
}

/**
 * Write the reports asked for (also after an interrupted run), then the closing summary; a
 * report that cannot be written fails the command after the summary.
 */
export async function finishRun(
  args: { report?: string; 'report-md'?: string; junit?: string; map?: string; 'log-format': 'text' | 'json' },
  command: string,
  result: RunResult,
  progress: ProgressRenderer,
  metrics?: RunMetrics,
): Promise<void> {
  let reportError: unknown;
  try {
    await writeReports({ json: args.report, markdown: args['report-md'], junit: args.junit, map: args.map }, command, result);
  } catch (e) {
    reportError = e;
  }
  // Metrics never fail the run: what cannot be written or pushed is a warning before the summary.
  if (metrics) await finishMetrics(metrics, result, args['log-format']);
  progress.finish(runSummary(result));
  if (reportError) throw reportError;
}

/** 130/143 after a signal, 1 when anything failed, else 0. */
export function runExitCode(result: RunResult, signals: StopControl): number {
  if (signals.received) return signals.received === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM;
  return result.items.some((i) => i.status === 'failed') ? EXIT.FAILED : EXIT.OK;
}
