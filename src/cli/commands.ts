import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { loadConfig, type MirrorConfig } from '../config/load.js';
import { ChartMirrorError, ConfigError, errorMessage } from '../errors.js';
import { checkPlanConfig, parsePlan, serializePlan, type Plan } from '../pipeline/plan.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import { runMirror } from '../pipeline/run.js';
import { checkSelections } from '../pipeline/selection.js';
import { shardFrom, shardLabel } from '../pipeline/shard.js';
import { formatPlan } from '../report/plan-text.js';
import { metricsLabels } from '../metrics/output.js';
import { checkConcurrency, finishRun, runExitCode, runWithProgress, startMetrics, type MetricsArgs } from './run-support.js';
import type { GlobalArgs } from './options.js';

export interface SyncArgs extends GlobalArgs, MetricsArgs {
  report?: string;
  'report-md'?: string;
  junit?: string;
  map?: string;
  concurrency?: number;
  state?: string;
  dryRun: boolean;
  'verify-remote': boolean;
  /** sync --plan: execute this plan file. */
  planFile?: string;
  /** plan --output: write the plan here. */
  output?: string;
  /** --no-images: false. */
  images?: boolean;
  /** --shard i/n | auto/n (else CHARTMIRROR_SHARD). */
  shard?: string;
}

/**
 * sync and plan (= sync --dry-run). Progress goes to stderr; a dry run prints the plan on
 * stdout. Reports are written after the run, also when it was interrupted.
 */
export async function syncCommand(args: SyncArgs, command: 'sync' | 'plan'): Promise<number> {
  checkConcurrency(args.concurrency);
  const cfg = await loadConfig(args.config);
  checkSelections(cfg);
  const plan = args.planFile ? await readPlanFile(args.planFile, cfg) : undefined;
  const shard = shardFrom(args.shard) ?? plan?.shard;
  const pairs = cfg.sources.flatMap((s) => s.targets.map((target) => ({ source: s.name, target })));
  const metrics = startMetrics(args, metricsLabels(args.config, shard ? shardLabel(shard) : undefined), pairs, cfg.proxy);
  const { result, progress, signals } = await runWithProgress(args, ({ onEvent, signals, httpObserver }) =>
    runMirror(cfg, {
      dryRun: args.dryRun,
      plan,
      planSource: args.planFile,
      concurrency: args.concurrency,
      state: args.state,
      shard,
      verifyRemote: args['verify-remote'],
      images: args.images,
      onEvent,
      httpObserver,
      stopSignal: signals.stop,
      signal: signals.abort,
    }),
    metrics,
  );
  if (result.dryRun) process.stdout.write(formatPlan(result));
  let outputError: unknown;
  if (args.output && result.plan) await writePlanFile(args.output, result.plan).catch((e: unknown) => (outputError = e));
  await finishRun(args, command, result, progress, metrics);
  if (outputError) throw outputError;
  return runExitCode(result, signals);
}

/** A plan file for `sync --plan`: a ConfigError (exit 2) when unreadable, not a plan, or made from another config. */
async function readPlanFile(file: string, cfg: MirrorConfig): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`--plan ${file}: ${code === 'ENOENT' ? 'no such file (write one with chartmirror plan --output FILE)' : `cannot read (${code ?? errorMessage(e)})`}`);
  }
  const plan = parsePlan(text, `--plan ${file}`);
  checkPlanConfig(plan, cfg, `--plan ${file}`);
  return plan;
}

async function writePlanFile(file: string, plan: Plan): Promise<void> {
  try {
    await mkdir(dirname(resolve(file)), { recursive: true });
    await writeFileAtomic(file, serializePlan(plan), { fsync: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ChartMirrorError('INTERNAL', `--output ${file}: cannot write (${code ?? errorMessage(e)})`, { cause: e });
  }
}

