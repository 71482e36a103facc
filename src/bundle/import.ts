import { ChartMirrorError, isChartMirrorError } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import type { TargetSpec } from '../config/load.js';
import type { HttpObserver } from '../http/client.js';
import { formatReference, tryParseReference } from '../oci/reference.js';
import { createContext } from '../pipeline/context.js';
import type { EventSink, ItemResult, PlanGroup } from '../pipeline/events.js';
import { execute } from '../pipeline/execute.js';
import { Journal } from '../pipeline/journal.js';
import { lockStateDir, type StateLock } from '../state/dir-lock.js';
import { bundleMaterializer } from '../pipeline/materialize.js';
import { newPlan, type Plan } from '../pipeline/plan.js';
import { journalKey } from '../pipeline/planner.js';
import type { RunResult } from '../pipeline/run.js';
import type { TargetBinding } from '../pipeline/targets.js';
import type { BundleImage, StateChart } from './format.js';
import { parseImageReference } from '../images/reference.js';
import { IMAGES_SOURCE } from '../pipeline/image-jobs.js';
import { describeBundle, openBundle, verifyBundle, type VerifiedBundle, type VerifiedChart } from './read.js';
import { defaultStatePath, mergeState, readStateFile, writeStateFile } from './state.js';
import type { OciLayout } from '../content/layout.js';

export interface ImportOptions {
  /** A bundle tar, its first part, or a bundle directory. */
  from: string;
  /** `oci://host[:port][/path]`. */
  to: string;
  plainHttp: boolean;
  /** CA bundle file(s) for the registry, trusted in addition to the default ones. */
  tlsCa?: string[];
  /** Explicit credentials; otherwise Helm's and Docker's config files, as sync. */
  credentials?: { username: string; password: string };
  stateDir: string;
  /** Also write the far side's state here (to carry back for `export --since`). */
  stateOut?: string;
  concurrency: number;
  verifyRemote: boolean;
  onConflict: 'fail' | 'overwrite';
  onEvent?: EventSink;
  signal?: AbortSignal;
  stopSignal?: AbortSignal;
  /** Told about every HTTP request and host pause (metrics). */
  httpObserver?: HttpObserver;
}

export interface ImportOutcome {
  result: RunResult;
  /** The state file(s) written, and how many chart versions they list. */
  stateFiles: string[];
  stateCharts: number;
}

export interface Destination {
  host: string;
  basePath: string;
  /** `oci://host/path`: the target name in results, and the state's destination. */
  display: string;
}

export function parseDestination(to: string): Destination {
  if (!to.startsWith('oci://')) throw new ChartMirrorError('USAGE', `--to ${to}: must be oci://host[:port]/path`);
  const parsed = tryParseReference(to, { allowTag: false });
  if (!parsed.ok) {
    if (parsed.problem === 'no valid registry host') throw new ChartMirrorError('USAGE', `--to ${to}: no valid registry host`);
    const basePath = to.slice('oci://'.length).replace(/\/+$/, '').split('/').slice(1).join('/');
    throw new ChartMirrorError('USAGE', `--to ${to}: "${basePath}" is not a valid repository path (lowercase letters, digits, . _ - and /; no tag)`);
  }
  const { registry: host, repository: basePath } = parsed.ref;
  return { host, basePath, display: formatReference({ registry: host, repository: basePath }) };
}

function firstFew(problems: string[]): string {
  const shown = problems.slice(0, 6);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  return `${shown.join('; ')}${more}`;
}

/** The refusal of a damaged bundle: one line naming what is damaged. */
function refuse(layout: OciLayout, problems: string[]): ChartMirrorError {
  return new ChartMirrorError('LAYOUT', `${layout.path} is damaged or incomplete; nothing was imported: ${firstFew(problems)}`);
}

/** The refusal of an intact bundle that holds chart versions sync would never have pushed. */
function refuseCharts(layout: OciLayout, refused: string[]): ChartMirrorError {
  const what = refused.length === 1 ? 'a chart version' : `${refused.length} chart versions`;
  return new ChartMirrorError('CHART', `${layout.path} holds ${what} sync would refuse; nothing was imported: ${firstFew(refused)}`);
}

/**
 * `import`: check the whole bundle first (every blob against its digest, every chart archive
 * against Helm's loading rules; a damaged, truncated or incomplete bundle, or one holding a
 * chart Helm cannot load, is refused before anything is sent), then push each chart version as
 * sync delivers to a registry: what the journal or the registry already has is skipped, blobs go
 * before the manifest, so a tag only ever points at complete content.
 */
export async function runImport(opts: ImportOptions): Promise<ImportOutcome> {
  const startedAt = new Date();
  const dest = parseDestination(opts.to);
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const items: ItemResult[] = [];
  const done = (interrupted: boolean): RunResult => ({ items, startedAt, finishedAt: new Date(), interrupted, dryRun: false });

  const layout = await openBundle(opts.from);
  let interrupted = false;
  let charts: VerifiedChart[];
  try {
    const described = await describeBundle(layout);
    for (const message of described.warnings) emit({ type: 'warning', message: `${layout.path}: ${message}` });
    // Verified even when index.json or the listing has problems: the message then names every damaged chart version.
    let verified: VerifiedBundle;
    try {
      verified =
        described.manifests.length || described.listing.images?.length
          ? await verifyBundle(layout, described, opts.stopSignal)
          : { charts: [], images: [], problems: [], refused: [] };
    } catch (e) {
      // Stopped while checking: nothing was sent, there is nothing to record.
      if (isChartMirrorError(e) && e.code === 'ABORTED') return { result: done(true), stateFiles: [], stateCharts: 0 };
      throw e;
    }
    const problems = [...described.problems, ...verified.problems];
    if (problems.length) throw refuse(layout, [...problems, ...verified.refused]);
    // All or nothing, as for damage: export never writes such a chart, so the bundle is not what
    // an export wrote (or another tool made the layout); nothing of it is sent.
    if (verified.refused.length) throw refuseCharts(layout, verified.refused);
    charts = verified.charts;

    const ctx = await createContext({ timeouts: { ...DEFAULTS.timeouts }, retry: { ...DEFAULTS.retry } }, [], { dryRun: false, emit, httpObserver: opts.httpObserver });
    let journal: Journal | undefined;
    let lock: StateLock | undefined;
    try {
      await ctx.openTargets([destinationSpec(dest, opts)], { conflictHint: () => 'pass --on-conflict overwrite to replace it' });
      lock = await lockStateDir(opts.stateDir, {
        command: 'import',
        leaseMs: DEFAULTS.state.lockLeaseMs,
        renewMs: DEFAULTS.state.lockRenewMs,
        onWarning: (message) => emit({ type: 'warning', message }),
      });
      journal = await Journal.open(opts.stateDir);
      const plan = importPlan(charts, verified.images, dest, ctx.targets.get(dest.display)!, journal, opts.verifyRemote);
      const run = await execute(plan, {
        targets: ctx.targets,
        journal,
        materialize: bundleMaterializer(layout.repository('')),
        concurrency: opts.concurrency,
        verifyRemote: opts.verifyRemote,
        emit,
        signal: opts.signal,
        stopSignal: opts.stopSignal,
      });
      items.push(...run.items);
      interrupted = run.interrupted;
    } finally {
      await journal?.close();
      await lock?.release();
      await ctx.close();
    }
  } finally {
    await layout.close();
  }

  const stateFiles = [defaultStatePath(opts.stateDir), ...(opts.stateOut ? [opts.stateOut] : [])];
  const prev = await readStateFile(stateFiles[0]!).catch(() => undefined);
  if (prev && prev.destination !== dest.display) {
    emit({ type: 'warning', message: `${stateFiles[0]} described ${prev.destination}; it now describes ${dest.display} only (use --state-out per destination)` });
  }
  const confirmed = new Set(items.filter((i) => i.status === 'pushed' || i.status === 'present').map((i) => `${i.source}\u0000${i.chart}\u0000${i.version}`));
  const chartStates = charts
    .filter((v) => confirmed.has(`${v.chart.source}\u0000${v.chart.chart}\u0000${v.chart.version}`))
    .map((v): StateChart => ({
      chart: v.chart.chart,
      version: v.chart.version,
      tag: v.chart.tag,
      repository: v.chart.repository,
      digest: v.chart.digest,
      ...(v.chart.archiveDigest ? { archiveDigest: v.chart.archiveDigest } : {}),
      source: v.chart.source,
    }));
  // Images are in the state too (source `images`): an incremental export leaves them out.
  const imageStates = items
    .filter((i) => i.kind === 'image' && (i.status === 'pushed' || i.status === 'present') && i.digest && i.repository && i.tag)
    .map((i): StateChart => ({ chart: i.chart, version: i.version, tag: i.tag!, repository: i.repository!, digest: i.digest!, source: IMAGES_SOURCE }));
  const state = mergeState(prev, dest.display, [...chartStates, ...imageStates]);
  for (const f of stateFiles) await writeStateFile(f, state);
  return { result: done(interrupted), stateFiles, stateCharts: state.charts.length };
}

/** The registry the bundle goes to, as a run destination (HTTP, TLS and auth as for sync targets). */
function destinationSpec(dest: Destination, opts: ImportOptions): TargetSpec {
  return {
    name: dest.display,
    kind: 'registry',
    host: dest.host,
    plainHttp: opts.plainHttp,
    ...(opts.credentials ? { auth: { username: opts.credentials.username, password: opts.credentials.password } } : {}),
    ...(opts.tlsCa?.length ? { tls: { ca: opts.tlsCa, insecureSkipVerify: false } } : {}),
    onConflict: opts.onConflict,
    manifestMediaType: false,
    mount: true,
    chunkSize: DEFAULTS.chunkSize,
    connections: DEFAULTS.connections.registries,
  };
}

function base(v: VerifiedChart, dest: Destination, repository: string): Omit<ItemResult, 'status'> {
  const c = v.chart;
  return {
    source: c.source,
    chart: c.chart,
    version: c.version,
    target: dest.display,
    repository,
    tag: c.tag,
    ...(c.url ? { url: c.url } : {}),
    ...(c.provenance ? { provenance: c.provenance } : {}),
    archiveSize: v.blobs.find((b) => b.digest === c.archiveDigest)?.size,
  };
}

/**
 * Every chart version of the bundle as a job for the one destination; what the journal has
 * confirmed there is settled as present (unless --verify-remote asks the registry again).
 */
function importPlan(charts: VerifiedChart[], images: BundleImage[], dest: Destination, binding: TargetBinding, journal: Journal, verifyRemote: boolean): Plan {
  const plan = newPlan({ targets: [dest.display] });
  const groups = new Map<string, PlanGroup>();
  for (const v of charts) {
    const c = v.chart;
    const repository = dest.basePath ? `${dest.basePath}/${c.repository}` : c.repository;
    const g = groups.get(c.source) ?? { source: c.source, target: dest.display, pending: 0, present: 0, failed: 0, excluded: 0 };
    groups.set(c.source, g);
    // The same key sync uses: a sync journal and an import journal in one state dir agree.
    const entry = journal.get(journalKey(c.source, c.chart, c.version, binding.id, repository));
    const journaled = entry?.digest === c.digest;
    if (journaled && !verifyRemote) {
      g.present++;
      plan.settled.push({ ...base(v, dest, repository), status: 'present', via: 'journal', digest: c.digest, reference: binding.reference(repository, c.tag, c.digest) });
      continue;
    }
    g.pending++;
    plan.jobs.push({
      source: c.source,
      chart: c.chart,
      version: c.version,
      origin: {
        kind: 'bundle',
        manifest: v.manifest.descriptor,
        ...(c.archiveDigest ? { archiveDigest: c.archiveDigest } : {}),
        ...(c.url ? { url: c.url } : {}),
        ...(c.provenance ? { provenance: c.provenance } : {}),
        ...(base(v, dest, repository).archiveSize !== undefined ? { archiveSize: base(v, dest, repository).archiveSize } : {}),
        ...(v.referrers.length ? { referrers: v.referrers } : {}),
      },
      destinations: [{ target: dest.display, repository, tag: c.tag, ...(journaled ? { journaled: { digest: c.digest } } : {}) }],
    });
  }
  if (images.length) groups.set(IMAGES_SOURCE, { source: IMAGES_SOURCE, target: dest.display, pending: 0, present: 0, failed: 0, excluded: 0 });
  for (const img of images) {
    const repository = dest.basePath ? `${dest.basePath}/${img.repository}` : img.repository;
    const parsed = parseImageReference(img.image);
    const chart = parsed.ok ? `${parsed.ref.registry}/${parsed.ref.repository}` : img.image;
    const version = parsed.ok ? (parsed.ref.tag ?? parsed.ref.digest!) : img.tag;
    const g = groups.get(IMAGES_SOURCE)!;
    const entry = journal.get(journalKey(IMAGES_SOURCE, chart, version, binding.id, repository));
    const journaled = entry?.digest === img.digest;
    const base = { source: IMAGES_SOURCE, chart, version, kind: 'image' as const, url: img.image, ...(img.usedBy ? { usedBy: img.usedBy } : {}) };
    if (journaled && !verifyRemote) {
      g.present++;
      plan.settled.push({ ...base, target: dest.display, status: 'present', via: 'journal', digest: img.digest, repository, tag: img.tag, reference: binding.reference(repository, img.tag, img.digest) });
      continue;
    }
    g.pending++;
    plan.jobs.push({
      source: IMAGES_SOURCE,
      chart,
      version,
      origin: { kind: 'bundle', manifest: { mediaType: img.mediaType, digest: img.digest, size: img.size }, url: img.image },
      destinations: [{ target: dest.display, repository, tag: img.tag, ...(journaled ? { journaled: { digest: img.digest } } : {}) }],
    });
  }
  plan.groups = [...groups.values()];
  return plan;
}
