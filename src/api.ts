/**
 * The library under the CLI (as `pkg/crane` sits under `crane`): every command is a function
 * here, with typed options and results. Nothing here exits the process or installs signal
 * handlers; failures are ChartMirrorErrors with a `code`.
 */
import type { MirrorConfig } from './config/load.js';
import { runExport, type ExportOutcome } from './bundle/export.js';
import { runImport, type ImportOutcome } from './bundle/import.js';
import { inspectBundle as inspect, type Inspection } from './bundle/inspect.js';
import { DEFAULTS } from './defaults.js';
import type { EventSink } from './pipeline/events.js';
import type { Plan } from './pipeline/plan.js';
import type { Shard } from './pipeline/shard.js';
import type { PlanOptions as PlannerOptions } from './pipeline/planner.js';
import { makePlan, runMirror, type RunResult } from './pipeline/run.js';
import { checkSelections } from './pipeline/selection.js';
import { jsonReport } from './report/json-report.js';
import type { Report } from './report/report-schema.js';

export interface PlanOptions {
  /** List each destination repository's tags, so the plan says what is there already. Default true. */
  inspectTargets?: boolean;
  /** Look up archive sizes (a HEAD each, or stat). Default true. */
  sizes?: boolean;
  /** Where the journal and index cache live: a directory or oci://host/path. Default: the config's. */
  state?: string;
  /** Plan only this shard's part (parseShard('1/3')). */
  shard?: Shard;
  /** Keep journal-confirmed versions as work, to be re-checked with one HEAD each. Default false. */
  verifyRemote?: boolean;
  /** Look-ups in flight. Default: the config's concurrency. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Progress (index warnings); the plan itself is the result. */
  onEvent?: EventSink;
  /** false: leave images out, whatever images.enabled says. */
  images?: boolean;
}

/**
 * What a sync would do, as a value: every job with its source, chart, version, URL, digest,
 * size and per target the repository, tag and state, plus the results already settled.
 * Reads indexes, the journal and (by default) the targets' tags; writes nothing.
 */
export async function plan(cfg: MirrorConfig, opts: PlanOptions = {}): Promise<Plan> {
  checkSelections(cfg);
  const o: PlannerOptions & { onEvent?: EventSink; images?: boolean; state?: string } = {
    images: opts.images,
    inspectTargets: opts.inspectTargets ?? true,
    sizes: opts.sizes ?? true,
    state: opts.state,
    shard: opts.shard,
    verifyRemote: opts.verifyRemote,
    concurrency: opts.concurrency,
    signal: opts.signal,
    onEvent: opts.onEvent,
  };
  return makePlan(cfg, o);
}

export interface MirrorOptions {
  /** Execute this plan (from `plan()` or a `plan --output` file, made from the same config). */
  plan?: Plan;
  /** Plan only, as `chartmirror plan`: write nothing anywhere. */
  dryRun?: boolean;
  /** Every event as it happens: plan, item start, item result, retry, warning. */
  onEvent?: EventSink;
  /** Abort: no new work, and work in flight is abandoned (reported as interrupted). */
  signal?: AbortSignal;
  /** Stop gracefully: no new work; work in flight finishes. */
  stopSignal?: AbortSignal;
  /** Chart versions in flight. Default: the config's (16). */
  concurrency?: number;
  /** Where the journal and index cache live: a directory or oci://host/path. Default: the config's. */
  state?: string;
  /** Do only this shard's part of the work (parseShard('auto/3')); a plan's own shard wins. */
  shard?: Shard;
  /** Re-check journal-confirmed versions with one HEAD each. Default false. */
  verifyRemote?: boolean;
  /** false: leave images out this time, whatever images.enabled says (--no-images). */
  images?: boolean;
}

/** The result of a run: exactly the JSON report (`--report`), plus the plan that ran. */
export type MirrorResult = Report & { plan?: Plan };

function asReport(command: string, r: RunResult): MirrorResult {
  return { ...jsonReport(command, r), ...(r.plan ? { plan: r.plan } : {}) };
}

/** `chartmirror sync`: mirror every selected chart version into every target. */
export async function mirror(cfg: MirrorConfig, opts: MirrorOptions = {}): Promise<MirrorResult> {
  checkSelections(cfg);
  const r = await runMirror(cfg, {
    plan: opts.plan,
    dryRun: opts.dryRun,
    onEvent: opts.onEvent,
    signal: opts.signal,
    stopSignal: opts.stopSignal ?? opts.signal,
    concurrency: opts.concurrency,
    state: opts.state,
    shard: opts.shard,
    verifyRemote: opts.verifyRemote,
    images: opts.images,
  });
  return asReport(opts.dryRun ? 'plan' : 'sync', r);
}

export interface ExportBundleOptions {
  /** false: leave images out, whatever images.enabled says. */
  images?: boolean;
  /** `*.tar` (a tar, or parts with `split`) or a directory (an OCI layout). */
  to: string;
  /** Cut the tar into parts of this many bytes. */
  split?: number;
  /** State files written by import, or earlier bundles: chart versions they hold are left out. */
  since?: string[];
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
  stopSignal?: AbortSignal;
}

export interface ExportBundleResult {
  report: Report;
  /** What was written; absent when interrupted. */
  bundle?: ExportOutcome['bundle'];
  /** The staging directory kept after an interruption: export again to resume. */
  staging?: string;
}

/** `chartmirror export`: fetch and verify as sync does, into one air-gap bundle. */
export async function exportBundle(cfg: MirrorConfig, opts: ExportBundleOptions): Promise<ExportBundleResult> {
  checkSelections(cfg);
  const out = await runExport(cfg, { ...opts, stopSignal: opts.stopSignal ?? opts.signal });
  return { report: jsonReport('export', out.result), ...(out.bundle ? { bundle: out.bundle } : {}), ...(out.staging ? { staging: out.staging } : {}) };
}

export interface ImportBundleOptions {
  /** A bundle tar, its first part, or a bundle directory. */
  from: string;
  /** `oci://host[:port][/path]`: chart versions land at `<path>/<repository>:<tag>`. */
  to: string;
  /** Talk HTTP, not HTTPS. Default false. */
  plainHttp?: boolean;
  /** CA bundle file(s) for the registry. */
  tlsCa?: string[];
  /** Default: Helm's and Docker's credential stores. */
  credentials?: { username: string; password: string };
  /** Journal and far-side state. Default `.chartmirror` in the working directory. */
  stateDir?: string;
  /** Also write the far-side state here (to carry back for export `since`). */
  stateOut?: string;
  /** Default 16. */
  concurrency?: number;
  verifyRemote?: boolean;
  /** A tag that holds a different manifest: fail (default) or overwrite. */
  onConflict?: 'fail' | 'overwrite';
  onEvent?: EventSink;
  signal?: AbortSignal;
  stopSignal?: AbortSignal;
}

export interface ImportBundleResult {
  report: Report;
  stateFiles: string[];
  stateCharts: number;
}

/** `chartmirror import`: check a whole bundle, then push it into a registry. */
export async function importBundle(opts: ImportBundleOptions): Promise<ImportBundleResult> {
  const out: ImportOutcome = await runImport({
    from: opts.from,
    to: opts.to,
    plainHttp: opts.plainHttp ?? false,
    tlsCa: opts.tlsCa,
    credentials: opts.credentials,
    stateDir: opts.stateDir ?? DEFAULTS.stateDirName,
    stateOut: opts.stateOut,
    concurrency: opts.concurrency ?? DEFAULTS.concurrency,
    verifyRemote: opts.verifyRemote ?? false,
    onConflict: opts.onConflict ?? 'fail',
    onEvent: opts.onEvent,
    signal: opts.signal,
    stopSignal: opts.stopSignal ?? opts.signal,
  });
  return { report: jsonReport('import', out.result), stateFiles: out.stateFiles, stateCharts: out.stateCharts };
}

/** `chartmirror inspect`: what a bundle holds; with `verify`, every blob checked against its digest. */
export function inspectBundle(path: string, opts: { verify?: boolean } = {}): Promise<Inspection> {
  return inspect(path, { verify: opts.verify ?? false });
}
