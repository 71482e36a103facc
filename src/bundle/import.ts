import PQueue from 'p-queue';
import { ChartMirrorError, errorMessage, isChartMirrorError } from '../errors.js';
import type { MirrorConfig, TargetConfig } from '../config/load.js';
import type { ArtifactContent, Target } from '../content/target.js';
import { DEFAULT_TIMEOUTS } from '../http/client.js';
import { DEFAULT_RETRY } from '../http/retry.js';
import { createContext } from '../pipeline/context.js';
import type { EventSink, ItemResult } from '../pipeline/events.js';
import { Journal } from '../pipeline/journal.js';
import type { RunResult } from '../pipeline/run.js';
import { REPO_PATH, type StateChart } from './format.js';
import { describeBundle, verifyBundle, type VerifiedChart } from './read.js';
import { defaultStatePath, mergeState, readStateFile, writeStateFile } from './state.js';
import { openBundle, readBlob, type BundleStore } from './store.js';

export interface ImportOptions {
  /** A bundle tar, its first part, or a bundle directory. */
  from: string;
  /** `oci://host[:port][/path]`. */
  to: string;
  plainHttp: boolean;
  /** CA bundle file(s) for the registry (replace the system roots, as Helm's --ca-file). */
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
  const rest = to.slice('oci://'.length).replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  const host = slash < 0 ? rest : rest.slice(0, slash);
  const basePath = slash < 0 ? '' : rest.slice(slash + 1);
  if (!host || !/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) throw new ChartMirrorError('USAGE', `--to ${to}: no valid registry host`);
  if (basePath && !REPO_PATH.test(basePath)) {
    throw new ChartMirrorError('USAGE', `--to ${to}: "${basePath}" is not a valid repository path (lowercase letters, digits, . _ - and /; no tag)`);
  }
  return { host, basePath, display: `oci://${host}${basePath ? `/${basePath}` : ''}` };
}

/** The refusal of a damaged bundle: one line naming what is damaged. */
function refuse(store: BundleStore, problems: string[]): ChartMirrorError {
  const shown = problems.slice(0, 6);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  return new ChartMirrorError('LAYOUT', `${store.display} is damaged or incomplete; nothing was imported: ${shown.join('; ')}${more}`);
}

interface Work {
  v: VerifiedChart;
  repository: string;
  key: string;
  journaled: boolean;
}

/**
 * `import`: check the whole bundle first (every blob against its digest; a damaged, truncated
 * or incomplete bundle is refused before anything is sent), then push each chart version as
 * sync delivers to a registry: what the journal or the registry already has is skipped, blobs go
 * before the manifest, so a tag only ever points at complete content.
 */
export async function runImport(opts: ImportOptions): Promise<ImportOutcome> {
  const startedAt = new Date();
  const dest = parseDestination(opts.to);
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const items: ItemResult[] = [];
  const record = (r: ItemResult) => {
    items.push(r);
    emit({ type: 'item', result: r });
  };

  const store = await openBundle(opts.from);
  let interrupted = false;
  let charts: VerifiedChart[];
  try {
    const described = await describeBundle(store);
    for (const message of described.warnings) emit({ type: 'warning', message: `${store.display}: ${message}` });
    // Verified even when index.json or the listing has problems: the message then names every damaged chart version.
    let verified: Awaited<ReturnType<typeof verifyBundle>>;
    try {
      verified = described.manifests.length ? await verifyBundle(store, described, opts.stopSignal) : { charts: [], problems: [] };
    } catch (e) {
      // Stopped while checking: nothing was sent, there is nothing to record.
      if (isChartMirrorError(e) && e.code === 'ABORTED') return { result: { items, startedAt, finishedAt: new Date(), interrupted: true, dryRun: false }, stateFiles: [], stateCharts: 0 };
      throw e;
    }
    const problems = [...described.problems, ...verified.problems];
    if (problems.length) throw refuse(store, problems);
    charts = verified.charts;

    const ctx = await createContext(importConfig(dest, opts), { dryRun: false, emit });
    let journal: Journal | undefined;
    try {
      journal = await Journal.open(opts.stateDir);
      const target = ctx.targets.get(dest.display)!.target;
      const work = plan(charts, dest, target, journal, record, opts.verifyRemote);
      emit({
        type: 'plan',
        total: charts.length,
        pending: work.length,
        present: charts.length - work.length,
        failed: 0,
        excluded: 0,
        targets: [dest.display],
        groups: groups(charts, work, dest.display),
      });
      interrupted = await execute(work, { store, target, journal, record, emit, dest, opts });
    } finally {
      await journal?.close();
      await ctx.close();
    }
  } finally {
    await store.close();
  }

  const stateFiles = [defaultStatePath(opts.stateDir), ...(opts.stateOut ? [opts.stateOut] : [])];
  const prev = await readStateFile(stateFiles[0]!).catch(() => undefined);
  if (prev && prev.destination !== dest.display) {
    emit({ type: 'warning', message: `${stateFiles[0]} described ${prev.destination}; it now describes ${dest.display} only (use --state-out per destination)` });
  }
  const confirmed = new Set(items.filter((i) => i.status === 'pushed' || i.status === 'present').map((i) => `${i.source}\u0000${i.chart}\u0000${i.version}`));
  const state = mergeState(
    prev,
    dest.display,
    charts
      .filter((v) => confirmed.has(`${v.chart.source}\u0000${v.chart.chart}\u0000${v.chart.version}`))
      .map((v): StateChart => ({
        chart: v.chart.chart,
        version: v.chart.version,
        tag: v.chart.tag,
        repository: v.chart.repository,
        digest: v.chart.digest,
        ...(v.chart.archiveDigest ? { archiveDigest: v.chart.archiveDigest } : {}),
        source: v.chart.source,
      })),
  );
  for (const f of stateFiles) await writeStateFile(f, state);
  return { result: { items, startedAt, finishedAt: new Date(), interrupted, dryRun: false }, stateFiles, stateCharts: state.charts.length };
}

/** A config with no sources and one registry target: createContext then wires HTTP, TLS and auth as for sync. */
function importConfig(dest: Destination, opts: ImportOptions): MirrorConfig {
  const target: TargetConfig = {
    name: dest.display,
    kind: 'registry',
    host: dest.host,
    basePath: dest.basePath,
    repository: dest.basePath ? `${dest.basePath}/{chart}` : '{chart}',
    plainHttp: opts.plainHttp,
    ...(opts.credentials ? { auth: { username: opts.credentials.username, password: opts.credentials.password } } : {}),
    ...(opts.tlsCa?.length ? { tls: { ca: opts.tlsCa, insecureSkipVerify: false } } : {}),
    onConflict: opts.onConflict,
    manifestMediaType: false,
    mount: true,
    chunkSize: 64 * 1024 * 1024,
    connections: 16,
  };
  return {
    file: '(import)',
    dir: process.cwd(),
    sources: [],
    targets: [target],
    concurrency: opts.concurrency,
    stateDir: opts.stateDir,
    timeouts: { ...DEFAULT_TIMEOUTS },
    retry: { ...DEFAULT_RETRY },
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

function plan(
  charts: VerifiedChart[],
  dest: Destination,
  target: Target,
  journal: Journal,
  record: (r: ItemResult) => void,
  verifyRemote: boolean,
): Work[] {
  const work: Work[] = [];
  for (const v of charts) {
    const c = v.chart;
    const repository = dest.basePath ? `${dest.basePath}/${c.repository}` : c.repository;
    // The same key sync uses: a sync journal and an import journal in one state dir agree.
    const key = Journal.key({ source: c.source, chart: c.chart, version: c.version, destination: `${target.id}/${repository}` });
    const journaled = journal.get(key)?.digest === c.digest;
    if (journaled && !verifyRemote) {
      record({ ...base(v, dest, repository), status: 'present', via: 'journal', digest: c.digest, reference: target.reference(repository, c.tag, c.digest) });
      continue;
    }
    work.push({ v, repository, key, journaled });
  }
  return work;
}

function groups(charts: VerifiedChart[], work: Work[], target: string) {
  const bySource = new Map<string, { source: string; target: string; pending: number; present: number; failed: number; excluded: number }>();
  const pending = new Set(work.map((w) => w.v));
  for (const v of charts) {
    const g = bySource.get(v.chart.source) ?? { source: v.chart.source, target, pending: 0, present: 0, failed: 0, excluded: 0 };
    if (pending.has(v)) g.pending++;
    else g.present++;
    bySource.set(v.chart.source, g);
  }
  return [...bySource.values()];
}

interface ExecuteContext {
  store: BundleStore;
  target: Target;
  journal: Journal;
  record: (r: ItemResult) => void;
  emit: EventSink;
  dest: Destination;
  opts: ImportOptions;
}

/** Push with bounded concurrency; returns whether a signal stopped it. */
async function execute(work: Work[], x: ExecuteContext): Promise<boolean> {
  const { opts } = x;
  const queue = new PQueue({ concurrency: opts.concurrency });
  const notStarted = new Set(work);
  let stopped = false;
  const stop = () => {
    stopped = true;
    queue.clear();
  };
  opts.stopSignal?.addEventListener('abort', stop, { once: true });
  opts.signal?.addEventListener('abort', stop, { once: true });
  if (opts.stopSignal?.aborted || opts.signal?.aborted) stop();
  // One tag listing per repository, shared by the versions of a chart.
  const listings = new Map<string, Promise<Set<string> | undefined>>();
  const tagsOf = (repo: string) => {
    let p = listings.get(repo);
    if (!p) {
      p = x.target.listTags(repo, opts.signal).catch(() => undefined);
      listings.set(repo, p);
    }
    return p;
  };
  for (const w of work) {
    void queue.add(async () => {
      notStarted.delete(w);
      x.emit({ type: 'item-start', source: w.v.chart.source, chart: w.v.chart.chart, version: w.v.chart.version });
      try {
        x.record({ ...base(w.v, x.dest, w.repository), ...(await deliver(w, x, tagsOf)) });
      } catch (e) {
        const aborted = isChartMirrorError(e) && e.code === 'ABORTED';
        x.record({
          ...base(w.v, x.dest, w.repository),
          status: 'failed',
          code: isChartMirrorError(e) ? e.code : 'INTERNAL',
          reason: aborted ? 'interrupted' : errorMessage(e),
        });
      }
    });
  }
  await queue.onIdle();
  opts.stopSignal?.removeEventListener('abort', stop);
  opts.signal?.removeEventListener('abort', stop);
  for (const w of notStarted) {
    x.record({ ...base(w.v, x.dest, w.repository), status: 'failed', code: 'ABORTED', reason: 'interrupted before it started' });
  }
  return stopped;
}

async function deliver(
  w: Work,
  x: ExecuteContext,
  tagsOf: (repo: string) => Promise<Set<string> | undefined>,
): Promise<Pick<ItemResult, 'status' | 'digest' | 'reference' | 'bytesUploaded' | 'via'>> {
  const { target, journal, opts } = x;
  const c = w.v.chart;
  const digest = c.digest;
  const listed = await tagsOf(w.repository);
  if (listed === undefined || listed.has(c.tag) || w.journaled) {
    const remote = await target.resolve(w.repository, c.tag, opts.signal);
    if (remote === digest) {
      await journal.record(w.key, { digest, archive: c.archiveDigest });
      return { status: 'present', via: 'target', digest, reference: target.reference(w.repository, c.tag, digest) };
    }
    if (remote !== undefined && opts.onConflict !== 'overwrite') {
      throw new ChartMirrorError('CONFLICT', `tag ${w.repository}:${c.tag} already holds ${remote}, not ${digest}; pass --on-conflict overwrite to replace it`);
    }
  }
  // Blobs are read (and checked against their digests) only when the registry lacks them.
  const content: ArtifactContent = {
    manifest: w.v.manifest,
    blobs: w.v.blobs.map((d) => ({ descriptor: d, bytes: () => readBlob(x.store, d) })),
  };
  const outcome = await target.push(w.repository, c.tag, content, opts.signal);
  await journal.record(w.key, { digest, archive: c.archiveDigest });
  return { status: 'pushed', digest, reference: target.reference(w.repository, c.tag, digest), bytesUploaded: outcome.bytesUploaded };
}
