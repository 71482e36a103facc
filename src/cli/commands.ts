import { loadConfig } from '../config/load.js';
import { configJsonSchema } from '../config/schema.js';
import { ChartMirrorError } from '../errors.js';
import { runMirror } from '../pipeline/run.js';
import type { PipelineEvent } from '../pipeline/events.js';
import { PlainProgress } from '../progress/plain.js';
import { jsonReport, writeReportFile } from '../report/json-report.js';
import { formatBytes, formatDuration, summarise } from '../report/summary.js';
import { redact } from '../util/secrets.js';
import { EXIT } from './exit-codes.js';
import { installSignalHandlers } from './signals.js';
import type { GlobalArgs } from './options.js';

export interface SyncArgs extends GlobalArgs {
  report?: string;
  concurrency?: number;
  state?: string;
  dryRun: boolean;
  'verify-remote': boolean;
}

const GRACE_MS = 5_000;

export async function syncCommand(args: SyncArgs, command: 'sync' | 'plan'): Promise<number> {
  if (args.concurrency !== undefined && (!Number.isInteger(args.concurrency) || args.concurrency < 1)) {
    throw new ChartMirrorError('USAGE', '--concurrency must be a positive whole number');
  }
  const cfg = await loadConfig(args.config);
  const out = process.stderr;
  const progress = new PlainProgress(out, { format: args['log-format'], verbose: args.verbose || args.debug });
  const onEvent = (e: PipelineEvent) => {
    if (args.quiet && !(e.type === 'item' && e.result.status === 'failed')) return;
    progress.handle(e);
  };
  const signals = installSignalHandlers({
    graceMs: GRACE_MS,
    onStop: (signal) => onEvent({ type: 'stopping', signal }),
  });
  progress.start();
  let result;
  try {
    result = await runMirror(cfg, {
      dryRun: args.dryRun,
      concurrency: args.concurrency,
      stateDir: args.state,
      verifyRemote: args['verify-remote'],
      onEvent,
      stopSignal: signals.stop,
      signal: signals.abort,
    });
  } finally {
    progress.stop();
    signals.dispose();
  }
  if (args.report) await writeReportFile(args.report, JSON.stringify(jsonReport(command, result), null, 2) + '\n');

  const s = summarise(result.items);
  const took = formatDuration(result.finishedAt.getTime() - result.startedAt.getTime());
  const line = result.dryRun
    ? `plan: ${s.planned} to push, ${s.present} present, ${s.failed} failed, ${s.excluded} excluded (${took}); nothing was written`
    : `done: ${s.pushed} pushed, ${s.present} present, ${s.failed} failed, ${s.excluded} excluded; ${formatBytes(s.bytesUploaded)} uploaded in ${took}`;
  out.write(redact(line) + '\n');
  if (signals.received) return signals.received === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM;
  return s.failed > 0 ? EXIT.FAILED : EXIT.OK;
}

export async function validateCommand(args: GlobalArgs): Promise<number> {
  const cfg = await loadConfig(args.config);
  process.stdout.write(
    `${args.config}: valid (${cfg.sources.length} source${cfg.sources.length === 1 ? '' : 's'}, ${cfg.targets.length} target${cfg.targets.length === 1 ? '' : 's'})\n`,
  );
  return EXIT.OK;
}

export function schemaCommand(): number {
  process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
  return EXIT.OK;
}
