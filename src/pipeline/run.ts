/**
 * A mirror run: plan (read the indexes, decide) and execute the plan, or only plan (a dry run),
 * or execute a plan made earlier (`sync --plan`). Nothing is written (state directory, index
 * cache, layouts) until every index has been read and the plan stands: an unreachable source
 * or a config error found while planning stops the run with nothing on disk.
 */
import type { MirrorConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import type { HttpObserver, RouteInfo } from '../http/client.js';
import { openRunState, stateLocation, type RunState } from '../state/run-state.js';
import { createContext, retryReporter, type RunContext } from './context.js';
import { shardText, type Shard } from './shard.js';
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
  /** Where the journal and index cache live: a directory or oci://host/path; overrides the config. */
  state?: string;
  /** Do only this shard's part of the work (the plan's shard, when executing a plan). */
  shard?: Shard;
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
  /** The part of the work this run did, when sharded. */
  shard?: Shard;
  /** Reports joined by `report merge`: how many, and their shards. */
  merged?: { reports: number; shards: Shard[] };
  /** When a proxy is configured: how each origin the run talked to was reached (plans show it). */
  routes?: RouteInfo[];
}


/**
 * Make a plan for a config, as `chartmirror plan` does: every index read, the journal and
 * (with `inspectTargets`) each destination's tags consulted; nothing written.
 */
export async function makePlan(cfg: MirrorConfig, opts: PlanOptions & { onEvent?: EventSink; images?: boolean; state?: string } = {}): Promise<Plan> {
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const ctx = await createContext(cfg, cfg.sources, { dryRun: true, emit });
  let state: RunState | undefined;
  try {
    state = await openState(cfg, ctx, { state: opts.state, shard: opts.shard, lock: false, emit, signal: opts.signal });
    const journal = await Journal.open(state.dir, { readOnly: true, inherit: state.inherit });
    const images = imagePlanOptions(cfg, ctx, cfg.targets, { images: opts.images, discover: opts.inspectTargets ?? false, materialize: runMaterializer(cfg, ctx, opts.images ?? true, emit) });
    return (await planSync(cfg, ctx, { ...opts, stateDir: state.dir, journal, ...images })).plan;
  } finally {
    await state?.close();
    await ctx.close();
  }
}

/** The run's state (directory or registry), opened through the run's registry connections. */
function openState(cfg: MirrorConfig, ctx: RunContext, o: { state?: string; shard?: Shard; lock: boolean; emit: EventSink; signal?: AbortSignal }): Promise<RunState> {
  return openRunState(stateLocation(cfg, o.state), {
    shard: o.shard,
    lock: o.lock,
    command: 'sync',
    connector: ctx.connector,
    retry: cfg.retry,
    onRetry: retryReporter('state', o.emit),
    onWarning: (message) => o.emit({ type: 'warning', message }),
    signal: o.signal,
  });
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
  const concurrency = opts.concurrency ?? cfg.concurrency;
  if (opts.plan) checkPlanConfig(opts.plan, cfg, opts.planSource ?? 'the plan');
  const shard = planShard(opts.plan, opts.shard, opts.planSource);

  const ctx = await createContext(cfg, cfg.sources, { dryRun, emit, httpObserver: opts.httpObserver });
  // Nothing is in flight while planning: a stop (the first SIGTERM) ends it at once.
  const planSignal = opts.stopSignal ? anySignal([opts.signal, opts.stopSignal]) : opts.signal;
  let state: RunState | undefined;
  let journal: Journal | undefined;
  try {
    // The lock comes first: a second run stops here, before it reads anything.
    state = await openState(cfg, ctx, { state: opts.state, shard, lock: !dryRun, emit, signal: planSignal });
    journal = await Journal.open(state.dir, { readOnly: true, inherit: state.inherit });
    let plan = opts.plan;
    let remember: (() => Promise<void>) | undefined;
    const materialize = runMaterializer(cfg, ctx, opts.images ?? true, emit);
    if (!plan) {
      const planned = await planSync(cfg, ctx, {
        stateDir: state.dir,
        journal,
        shard,
        verifyRemote: opts.verifyRemote,
        inspectTargets: dryRun,
        sizes: dryRun,
        concurrency,
        signal: planSignal,
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
      return { items, startedAt, finishedAt: new Date(), interrupted: false, dryRun, plan, ...(shard ? { shard } : {}), ...networkRoutes(ctx) };
    }

    await journal.openForWriting();
    state.track(journal);
    await remember?.();
    remember = undefined; // it holds the indexes, which the run no longer needs
    // A run whose lock was taken over (it was presumed gone) stops taking new work.
    const stop = state.lost ? anySignal([opts.stopSignal, state.lost]) : opts.stopSignal;
    const { items, interrupted } = await execute(plan, {
      targets: ctx.targets,
      journal,
      materialize,
      concurrency,
      ...(imagesOn(cfg, opts.images) ? { images: imageDestinations(cfg, cfg.targets) } : {}),
      verifyRemote: opts.verifyRemote ?? false,
      emit,
      signal: opts.signal,
      stopSignal: stop,
    });
    if (journal.writeError) {
      emit({ type: 'warning', message: `the journal could not be written (${journal.writeError}); what was pushed is at its targets, and the next run checks it there instead of trusting the journal` });
    }
    return { items, startedAt, finishedAt: new Date(), interrupted, dryRun, plan, ...(shard ? { shard } : {}) };
  } finally {
    await journal?.close();
    await state?.close();
    await ctx.close();
  }
}

/** The routes of the run's requests, when any proxy is set (otherwise every one went direct). */
function networkRoutes(ctx: RunContext): { routes?: RouteInfo[] } {
  const routes = ctx.http.routes();
  return ctx.http.proxy.configured || routes.some((r) => r.proxy) ? { routes } : {};
}

/** A plan made for one shard runs as that shard; --shard, when also given, must agree. */
function planShard(plan: Plan | undefined, shard: Shard | undefined, planSource = 'the plan'): Shard | undefined {
  if (!plan) return shard;
  if (shard && (!plan.shard || plan.shard.index !== shard.index || plan.shard.count !== shard.count)) {
    throw new ConfigError(`${planSource} was made for ${plan.shard ? `shard ${shardText(plan.shard)}` : 'the whole work (no shard)'}, not shard ${shardText(shard)}; leave --shard out or make the plan with the same --shard`);
  }
  return plan.shard;
}

function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}
