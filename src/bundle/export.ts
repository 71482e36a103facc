import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ChartMirrorError, ConfigError } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import type { MirrorConfig, TargetConfig } from '../config/load.js';
import type { OciLayout } from '../content/layout.js';
import { verified } from '../content/verify.js';
import type { Descriptor } from '../oci/descriptor.js';
import { ANNOTATION_REF_NAME, HELM_CHART_MEDIA_TYPE, LEGACY_CHART_MEDIA_TYPE, OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE } from '../oci/media-types.js';
import { referrersTag } from '../content/referrers-tag.js';
import { IMAGES_SOURCE } from '../pipeline/image-jobs.js';
import { walkGraph } from '../content/walk.js';
import { createContext } from '../pipeline/context.js';
import type { EventSink, ItemResult } from '../pipeline/events.js';
import { execute } from '../pipeline/execute.js';
import { Journal } from '../pipeline/journal.js';
import { imageDestinations, imagePlanOptions, imagesOn, runMaterializer } from '../pipeline/run-images.js';
import type { Plan } from '../pipeline/plan.js';
import { planSync } from '../pipeline/planner.js';
import type { RunResult } from '../pipeline/run.js';
import { publicUrl } from '../http/redact-url.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import { VERSION } from '../version.js';
import {
  EXPORT_MARKER,
  INDEX_FILE,
  LISTING_FILE,
  LISTING_SCHEMA_VERSION,
  OCI_LAYOUT_FILE,
  ociLayoutJson,
  type BundleChart,
  type BundleImage,
  type BundleListing,
  type StateChart,
} from './format.js';
import { readBlob } from './read.js';
import { loadSince } from './state.js';
import { tarStream, type TarInput } from './tar.js';
import { writeSplitFile, type WrittenFile } from './write.js';
import { parseManifest } from '../content/graph.js';

/** The one target an export writes to; also the `target` of its report items. */
export const BUNDLE_TARGET = 'bundle';

export interface ExportOptions {
  /** `*.tar` (a tar, or parts with `split`) or a directory (an OCI layout). */
  to: string;
  /** Cut the tar into parts of this many bytes. */
  split?: number;
  /** State files or earlier bundles: chart versions they name are left out. */
  since?: string[];
  /** Where the index cache is read (default: the config's state directory); nothing is written there. */
  stateDir?: string;
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
  stopSignal?: AbortSignal;
  /** false: leave images out (--no-images). */
  images?: boolean;
}

export interface ExportOutcome {
  result: RunResult;
  /** What was written; absent when interrupted. */
  bundle?: { kind: 'tar' | 'dir'; files: WrittenFile[] | string[]; charts: number; blobs: number; bytes: number; leftOut: number };
  /** The layout being filled, kept when the export was interrupted: run again to resume. */
  staging?: string;
}

export function isTarPath(path: string): boolean {
  return /\.tar$/i.test(path);
}

/**
 * `export`: plan as sync does, with one destination (the staging layout, each chart at
 * repository `{chart}`; the config's own targets are ignored), run the plan through the one
 * executor (same fetching, verification and artifacts), then write the bundle from the layout.
 * The staging layout survives an interruption, so a second run resumes: what it already holds
 * is found there and counts as present.
 *
 * `since`: chart versions the far side holds are settled as excluded in the plan (unless the
 * index now lists a different archive digest: a republished version goes into the bundle again).
 */
export async function runExport(cfg: MirrorConfig, opts: ExportOptions): Promise<ExportOutcome> {
  const startedAt = new Date();
  const tar = isTarPath(opts.to);
  if (opts.split !== undefined && !tar) throw new ChartMirrorError('USAGE', '--split needs --to FILE.tar');
  const out = resolve(opts.to);
  const staging = tar ? `${out}.staging` : out;
  if (tar && (await stat(out).catch(() => undefined))?.isDirectory()) throw new ConfigError(`--to ${opts.to}: is a directory`);
  const since = opts.since?.length ? await loadSince(opts.since) : [];
  const fresh = !(await stat(staging).catch(() => undefined));
  await claimDirectory(staging, opts.to);

  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const target = bundleTarget(staging);
  let result: RunResult;
  let layout: OciLayout;
  const ctx = await createContext(cfg, cfg.sources, { dryRun: false, emit }).catch(async (e) => {
    if (fresh) await rm(staging, { recursive: true, force: true });
    throw e;
  });
  let leftOut = 0;
  const materialize = runMaterializer(cfg, ctx, opts.images ?? true, emit);
  try {
    let plan: Plan;
    try {
      // No journal: what the staging layout already holds is found there (a resumed export).
      plan = (
        await planSync(cfg, ctx, {
          targets: [target],
          journal: Journal.inMemory(),
          stateDir: opts.stateDir,
          signal: opts.signal,
          ...imagePlanOptions(cfg, ctx, [target], { images: opts.images, discover: false, materialize }),
        })
      ).plan;
    } catch (e) {
      // Failed before any chart version was tried (an unreadable index, a config problem): leave no litter.
      if (fresh) await rm(staging, { recursive: true, force: true });
      throw e;
    }
    leftOut = leaveOut(plan, since);
    const binding = ctx.targets.get(BUNDLE_TARGET)!;
    const run = await execute(plan, {
      targets: ctx.targets,
      journal: Journal.inMemory(),
      materialize,
      ...(imagesOn(cfg, opts.images) ? { images: { ...imageDestinations(cfg, [target]), leaveOut: farSideImages(since) } } : {}),
      concurrency: opts.concurrency ?? cfg.concurrency,
      verifyRemote: false,
      emit,
      signal: opts.signal,
      stopSignal: opts.stopSignal,
    });
    result = { items: run.items, startedAt, finishedAt: new Date(), interrupted: run.interrupted, dryRun: false, plan };
    layout = binding.layout!;
    if (result.interrupted) return { result, staging };

    const { listing, index, blobs } = await buildListing(layout, result.items, since.length ? leftOut : undefined);
    const meta = {
      [OCI_LAYOUT_FILE]: Buffer.from(ociLayoutJson()),
      [INDEX_FILE]: Buffer.from(JSON.stringify(index, null, 2) + '\n'),
      [LISTING_FILE]: Buffer.from(JSON.stringify(listing, null, 2) + '\n'),
    };
    const summary = { charts: listing.totals.charts, blobs: listing.totals.blobs, bytes: listing.totals.bytes, leftOut };
    await layout.flush();
    if (!tar) {
      for (const [name, bytes] of Object.entries(meta)) await writeFileAtomic(join(staging, name), bytes);
      await pruneBlobs(staging, new Set(blobs.map((b) => b.digest.slice('sha256:'.length))));
      await rm(join(staging, EXPORT_MARKER), { force: true });
      return { result, bundle: { kind: 'dir', files: [staging], ...summary } };
    }
    const entries: TarInput[] = [
      ...Object.entries(meta).map(([path, data]) => ({ kind: 'file' as const, path, size: data.length, data })),
      { kind: 'dir', path: 'blobs' },
      { kind: 'dir', path: 'blobs/sha256' },
      ...blobs.map((d) => ({ kind: 'file' as const, path: `blobs/sha256/${d.digest.slice('sha256:'.length)}`, size: d.size, data: () => stagedBlob(layout, d, staging) })),
    ];
    let files: WrittenFile[];
    try {
      files = await writeSplitFile(out, tarStream(entries), { split: opts.split, stop: opts.stopSignal });
    } catch (e) {
      if (e instanceof ChartMirrorError && e.code === 'ABORTED') return { result: { ...result, interrupted: true }, staging };
      throw e;
    }
    await rm(staging, { recursive: true, force: true });
    // Those references named the staging layout, which is gone: the bundle is the tar now.
    for (const i of result.items) if (i.target === BUNDLE_TARGET) delete i.reference;
    return { result, bundle: { kind: 'tar', files, ...summary } };
  } finally {
    await ctx.close();
  }
}

/** `--since`: images the far side holds (a state file's or an earlier bundle's) are left out. */
function farSideImages(since: StateChart[]): ((chart: string, version: string) => string | undefined) | undefined {
  const held = new Set(since.filter((s) => s.source === IMAGES_SOURCE).map((s) => `${s.chart}\u0000${s.version}`));
  if (held.size === 0) return undefined;
  return (chart, version) => (held.has(`${chart}\u0000${version}`) ? 'already on the far side (--since)' : undefined);
}

/**
 * `--since`: chart versions the far side holds are settled as excluded, unless the index now
 * lists a different archive digest (a republished version goes into the bundle again).
 */
function leaveOut(plan: Plan, since: StateChart[]): number {
  if (since.length === 0) return 0;
  const known = new Map<string, StateChart[]>();
  for (const c of since) {
    const k = `${c.chart}\u0000${c.version}`;
    known.set(k, [...(known.get(k) ?? []), c]);
  }
  let leftOut = 0;
  plan.jobs = plan.jobs.filter((j) => {
    const digest = j.origin.kind === 'index' ? j.origin.digest : undefined;
    const there = known.get(`${j.chart}\u0000${j.version}`)?.some((c) => !digest || !c.archiveDigest || c.archiveDigest === digest);
    if (!there) return true;
    for (const d of j.destinations) {
      leftOut++;
      const g = plan.groups.find((x) => x.source === j.source && x.target === d.target);
      if (g) {
        g.pending--;
        g.excluded++;
      }
      plan.settled.push({ source: j.source, chart: j.chart, version: j.version, target: d.target, status: 'excluded', reason: 'already on the far side (--since)', repository: d.repository, tag: d.tag });
    }
    return false;
  });
  return leftOut;
}

/** The one destination of an export: the staging layout, each chart at repository `{chart}`. */
function bundleTarget(staging: string): TargetConfig {
  return {
    name: BUNDLE_TARGET,
    kind: 'layout',
    layoutDir: staging,
    basePath: '',
    repository: '{chart}',
    plainHttp: false,
    // Helm's exact manifest bytes: what a default `sync` pushes, and what helm push would.
    manifestMediaType: false,
    // The staging layout is ours: a republished version replaces what an earlier run staged.
    onConflict: 'overwrite',
    mount: false,
    chunkSize: DEFAULTS.chunkSize,
    connections: 1,
  };
}

/**
 * A directory the export may fill and prune: absent, empty, or one an export made (it has a
 * listing, or the in-progress marker). Anything else is someone else's and is refused.
 */
async function claimDirectory(dir: string, given: string): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (s && !s.isDirectory()) throw new ConfigError(`--to ${given}: ${dir} exists and is not a directory (a bundle file must end in .tar)`);
  const names = s ? await readdir(dir) : [];
  if (names.length && !names.includes(LISTING_FILE) && !names.includes(EXPORT_MARKER)) {
    throw new ConfigError(`--to ${given}: ${dir} is not empty and holds no chartmirror bundle; name a new or empty directory`);
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, EXPORT_MARKER), 'chartmirror export in progress: run it again to resume\n');
}

/** Listing, index.json and every blob (sorted by digest) of the chart versions this export holds. */
async function buildListing(
  layout: OciLayout,
  items: ItemResult[],
  leftOut: number | undefined,
): Promise<{ listing: BundleListing; index: unknown; blobs: Descriptor[] }> {
  const held = items.filter((i) => i.kind !== 'image' && i.target === BUNDLE_TARGET && (i.status === 'pushed' || i.status === 'present') && i.digest && i.repository && i.tag);
  const ref = (i: { repository?: string; tag?: string }) => `${i.repository}:${i.tag}`;
  held.sort((a, b) => (ref(a) < ref(b) ? -1 : ref(a) > ref(b) ? 1 : 0));
  const blobs = new Map<string, Descriptor>();
  const charts: BundleChart[] = [];
  const manifests: Descriptor[] = [];
  for (const i of held) {
    const size = await layout.blobSize(i.digest!);
    if (size === undefined) throw new ChartMirrorError('LAYOUT', `${layout.path}: staged manifest ${i.digest} of ${i.chart} ${i.version} is missing; delete ${layout.path} and export again`);
    const md: Descriptor = { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: i.digest!, size };
    const m = parseManifest(await readBlob(layout, md), md.mediaType);
    if (!m.config) throw new ChartMirrorError('LAYOUT', `${layout.path}: staged manifest ${i.digest} has no config`);
    const all: Descriptor[] = [md, m.config, ...m.layers];
    for (const b of all) blobs.set(b.digest, { mediaType: b.mediaType, digest: b.digest, size: b.size });
    const archive = m.layers.find((l) => l.mediaType === HELM_CHART_MEDIA_TYPE || l.mediaType === LEGACY_CHART_MEDIA_TYPE);
    const referrers = await stagedReferrers(layout, i, blobs, manifests);
    charts.push({
      source: i.source,
      chart: i.chart,
      version: i.version,
      tag: i.tag!,
      repository: i.repository!,
      digest: md.digest,
      size,
      ...(archive ? { archiveDigest: archive.digest } : {}),
      ...(i.provenance ? { provenance: i.provenance } : {}),
      ...(i.url ? { url: publicUrl(i.url) } : {}),
      bytes: all.reduce((n, b) => n + b.size, 0),
      ...(referrers.length ? { referrers } : {}),
    });
    manifests.push({ ...md, annotations: { [ANNOTATION_REF_NAME]: ref(i) } });
  }
  const images = await stagedImages(layout, items, blobs, manifests);
  manifests.sort((a, b) => (a.annotations![ANNOTATION_REF_NAME]! < b.annotations![ANNOTATION_REF_NAME]! ? -1 : 1));
  const sorted = [...blobs.values()].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const listing: BundleListing = {
    schemaVersion: LISTING_SCHEMA_VERSION,
    kind: 'chartmirror-bundle',
    tool: { name: 'chartmirror', version: VERSION },
    ...(leftOut !== undefined ? { incremental: { leftOut } } : {}),
    totals: { charts: charts.length, blobs: sorted.length, bytes: sorted.reduce((n, b) => n + b.size, 0) },
    charts,
    ...(images.length ? { images } : {}),
  };
  const index = { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests };
  return { listing, index, blobs: sorted };
}

/**
 * The referrers an item carried into the staging layout: each graph's blobs, the refs that name
 * them (cosign tags, and the fallback index of the others), and the listing's entries.
 */
async function stagedReferrers(layout: OciLayout, i: ItemResult, blobs: Map<string, Descriptor>, manifests: Descriptor[]): Promise<NonNullable<BundleChart['referrers']>> {
  if (!i.referrers?.length) return [];
  const store = layout.repository('');
  const out: NonNullable<BundleChart['referrers']> = [];
  const add = (d: Descriptor) => blobs.set(d.digest, { mediaType: d.mediaType, digest: d.digest, size: d.size });
  for (const r of i.referrers) {
    const d = await layout.resolveDigest(r.digest);
    if (!d) throw new ChartMirrorError('LAYOUT', `${layout.path}: staged referrer ${r.digest} of ${i.chart} ${i.version} is missing; delete ${layout.path} and export again`);
    for (const g of await walkGraph(store, d)) add(g);
    out.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, ...(r.artifactType ? { artifactType: r.artifactType } : {}), ...(r.tag ? { tag: r.tag } : {}) });
    if (r.tag) manifests.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: { [ANNOTATION_REF_NAME]: `${i.repository}:${r.tag}` } });
  }
  const fallback = `${i.repository}:${referrersTag(i.digest!)}`;
  const index = layout.resolveRef(fallback);
  if (index && i.referrers.some((r) => !r.tag)) {
    add(index);
    manifests.push({ mediaType: index.mediaType, digest: index.digest, size: index.size, annotations: { [ANNOTATION_REF_NAME]: fallback } });
  }
  return out;
}

/** The images an export staged: each graph's blobs, its ref (repository:tag, or @digest), its listing entry. */
async function stagedImages(layout: OciLayout, items: ItemResult[], blobs: Map<string, Descriptor>, manifests: Descriptor[]): Promise<BundleImage[]> {
  const held = items.filter((i) => i.kind === 'image' && i.target === BUNDLE_TARGET && (i.status === 'pushed' || i.status === 'present') && i.digest && i.repository && i.tag);
  const store = layout.repository('');
  const out: BundleImage[] = [];
  for (const i of held) {
    const root = await layout.resolveDigest(i.digest!);
    if (!root) throw new ChartMirrorError('LAYOUT', `${layout.path}: staged image ${i.url} (${i.digest}) is missing; delete ${layout.path} and export again`);
    const graph = await walkGraph(store, root);
    for (const d of graph) blobs.set(d.digest, d);
    const ref = i.tag!.startsWith('sha256:') ? `${i.repository}@${i.tag}` : `${i.repository}:${i.tag}`;
    manifests.push({ mediaType: root.mediaType, digest: root.digest, size: root.size, annotations: { [ANNOTATION_REF_NAME]: ref } });
    out.push({
      image: i.url!,
      repository: i.repository!,
      tag: i.tag!,
      mediaType: root.mediaType,
      digest: root.digest,
      size: root.size,
      ...(i.sourceDigest ? { sourceDigest: i.sourceDigest } : {}),
      ...(i.usedBy?.length ? { usedBy: i.usedBy } : {}),
      bytes: graph.reduce((n, d) => n + d.size, 0),
    });
  }
  return out.sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
}

/** A staged blob's bytes for the tar, checked against its digest on the way through. */
async function* stagedBlob(layout: OciLayout, d: Descriptor, staging: string): AsyncGenerator<Buffer> {
  try {
    yield* verified(await layout.openBlob(d), d);
  } catch (e) {
    if (e instanceof ChartMirrorError && (e.code === 'DIGEST' || e.code === 'NOT_FOUND')) {
      throw new ChartMirrorError('LAYOUT', `${staging}: staged blob ${d.digest} is damaged; delete ${staging} and export again`);
    }
    throw e;
  }
}

/** Remove blobs (and unfinished temp files) the bundle does not reference. */
async function pruneBlobs(layout: string, keep: Set<string>): Promise<void> {
  const dir = join(layout, 'blobs', 'sha256');
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => !keep.has(n)).map((n) => rm(join(dir, n), { force: true })));
}
