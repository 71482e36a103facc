/**
 * A mirror run: plan (read the indexes, decide) and execute the plan, or only plan (a dry run),
 * or execute a plan made earlier (`sync --plan`). Nothing is written (state directory, index
 * cache, layouts) until every index has been read and the plan stands: an unreachable source
 * or a config error found while planning stops the run with nothing on disk.
 */
import type { MirrorConfig } from '../config/load.js';
import type { HttpObserver } from '../http/client.js';
import { createContext } from './context.js';
import type { EventSink, ItemResult } from './events.js';
import { execute } from './execute.js';
import { Journal } from './journal.js';
import { imageDestinations, imagePlanOptions, imagesOn, runMaterializer } from './run-images.js';
import { checkPlanConfig, emitPlan, planItems, type Plan } from './plan.js';
import { planSync, type PlanOptions } from './planner.js';

export interface RunOptions {
  /** Plan only: read sources and targets, write nothing anywhere. */
  dryRun?: boolean;
  /** Execute this plan (made by `plan` from the same config) instead of planning now. */
  plan?: Plan;
  /** Where the plan came from, for messages (a file name). */
  planSource?: string;
  /** Chart versions in flight; overrides the config. */
  concurrency?: number;
  /** Abort in-flight work (hard stop). */
  signal?: AbortSignal;
  /** Stop taking new work (graceful stop); in-flight items finish. */
  stopSignal?: AbortSignal;
  onEvent?: EventSink;
  /** State directory; overrides the config. */
  stateDir?: string;
  /** Re-check journal-confirmed items with one HEAD each. */
  verifyRemote?: boolean;
  /** false: leave images out this time (--no-images), whatever images.enabled says. */
  images?: boolean;
  /** Told about every HTTP request and host pause of the run (metrics). */
  httpObserver?: HttpObserver;
}

export interface RunResult {
  items: ItemResult[];
  startedAt: Date;
  finishedAt: Date;
  interrupted: boolean;
  dryRun: boolean;
  /** The plan that was executed (or, in a dry run, made). */
  plan?: Plan;
}


/**
 * Make a plan for a config, as `chartmirror plan` does: every index read, the journal and
 * (with `inspectTargets`) each destination's tags consulted; nothing written.
 */
export async function makePlan(cfg: MirrorConfig, opts: PlanOptions & { onEvent?: EventSink; images?: boolean } = {}): Promise<Plan> {
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const ctx = await createContext(cfg, cfg.sources, { dryRun: true, emit });
  try {
    const images = imagePlanOptions(cfg, ctx, cfg.targets, { images: opts.images, discover: opts.inspectTargets ?? false, materialize: runMaterializer(cfg, ctx, opts.images ?? true, emit) });
    return (await planSync(cfg, ctx, { ...opts, ...images })).plan;
  } finally {
    await ctx.close();
  }
}

/**
 * The whole mirror: plan (or take the plan given), then fetch, verify, build and push with
 * bounded concurrency. One failing chart never stops the others; results come back per chart
 * version per target, and every one of them is also emitted as an event.
 */
export async function runMirror(cfg: MirrorConfig, opts: RunOptions = {}): Promise<RunResult> {
  const startedAt = new Date();
  const dryRun = opts.dryRun ?? false;
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const stateDir = opts.stateDir ?? cfg.stateDir;
  const concurrency = opts.concurrency ?? cfg.concurrency;
  if (opts.plan) checkPlanConfig(opts.plan, cfg, opts.planSource ?? 'the plan');

  const ctx = await createContext(cfg, cfg.sources, { dryRun, emit, httpObserver: opts.httpObserver });
  let journal: Journal | undefined;
  try {
    journal = await Journal.open(stateDir, { readOnly: true });
    let plan = opts.plan;
    let remember: (() => Promise<void>) | undefined;
    const materialize = runMaterializer(cfg, ctx, opts.images ?? true, emit);
    if (!plan) {
      const planned = await planSync(cfg, ctx, {
        stateDir,
        journal,
        verifyRemote: opts.verifyRemote,
        inspectTargets: dryRun,
        sizes: dryRun,
        concurrency,
        signal: opts.signal,
        // A plan to be shown finds the images now (charts are read); a run finds them as it goes.
        ...imagePlanOptions(cfg, ctx, cfg.targets, { images: opts.images, discover: dryRun, materialize }),
      });
      plan = planned.plan;
      remember = planned.rememberIndexes;
    } else {
      await ctx.openTargets(cfg.targets);
    }

    if (dryRun) {
      const items = planItems(plan, (target, repo, tag) => ctx.targets.get(target)?.reference(repo, tag));
      const settled = new Set(plan.settled);
      emitPlan(plan, emit);
      for (const r of items) if (!settled.has(r)) emit({ type: 'item', result: r });
      return { items, startedAt, finishedAt: new Date(), interrupted: false, dryRun, plan };
    }

    await journal.openForWriting();
    await remember?.();
    remember = undefined; // it holds the indexes, which the run no longer needs
    const { items, interrupted } = await execute(plan, {
      targets: ctx.targets,
      journal,
      materialize,
      concurrency,
      ...(imagesOn(cfg, opts.images) ? { images: imageDestinations(cfg, cfg.targets) } : {}),
      verifyRemote: opts.verifyRemote ?? false,
      emit,
      signal: opts.signal,
      stopSignal: opts.stopSignal,
    });
    return { items, startedAt, finishedAt: new Date(), interrupted, dryRun, plan };
  } finally {
    await journal?.close();
    await ctx.close();
  }
}
