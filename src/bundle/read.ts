/**
 * What a bundle holds, read through the content engine's layout reader (a directory, a tar, or
 * the parts of one): the listing cross-checked against index.json (or derived from index.json
 * for a layout that came without one), and every blob checked against its digest.
 */
import { createHash } from 'node:crypto';
import { ChartMirrorError, errorMessage } from '../errors.js';
import { LIMITS } from '../defaults.js';
import { loadChartArchive } from '../chart/archive.js';
import { formatBytes } from '../report/summary.js';
import { parseManifest as parseOciManifest } from '../content/graph.js';
import { OciLayout } from '../content/layout.js';
import { readVerified } from '../content/verify.js';
import type { Descriptor } from '../oci/descriptor.js';
import {
  ANNOTATION_TITLE,
  ANNOTATION_VERSION,
  HELM_CHART_MEDIA_TYPE,
  HELM_CONFIG_MEDIA_TYPE,
  HELM_PROV_MEDIA_TYPE,
  LEGACY_CHART_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
} from '../oci/media-types.js';
import { isValidRepository, isValidTag, tagForVersion } from '../oci/reference.js';
import { referrersTag } from '../content/referrers-tag.js';
import type { Referrer } from '../content/referrers.js';
import { walkGraph } from '../content/walk.js';
import { VERSION } from '../version.js';
import { EXPORT_MARKER, INDEX_FILE, LISTING_FILE, LISTING_SCHEMA_VERSION, parseListing, type BundleChart, type BundleImage, type BundleListing } from './format.js';

/** A manifest's config and layers, checked enough to copy it. */
export interface ParsedManifest {
  config: Descriptor;
  layers: Descriptor[];
  annotations: Record<string, string>;
}

function chartManifest(bytes: Buffer, mediaType: string): ParsedManifest {
  const m = parseOciManifest(bytes, mediaType || OCI_MANIFEST_MEDIA_TYPE);
  if (!m.config) throw new ChartMirrorError('MANIFEST', 'the manifest has no valid config descriptor');
  return { config: m.config, layers: m.layers, annotations: m.annotations };
}

/** Open a bundle (a tar, its first part, or a directory) to read; damage is described, not thrown. */
export function openBundle(path: string): Promise<OciLayout> {
  return OciLayout.open(path, { create: 'never', readOnly: true, tolerant: true });
}

export interface DescribedBundle {
  listing: BundleListing;
  /** True when the bundle has no chartmirror listing and this one was derived from index.json. */
  derived: boolean;
  /**
   * index.json descriptor per chart, at the same index as its entry in listing.charts;
   * undefined for an entry index.json does not name (reported in `problems`).
   */
  manifests: Array<Descriptor | undefined>;
  /** Structural damage: missing or unreadable files, a listing that disagrees with index.json. */
  problems: string[];
  warnings: string[];
}

/**
 * Read what a bundle says it holds: oci-layout, index.json and the listing, cross-checked.
 * A layout without a listing (another tool's, or a sync `layout:` target) gets one derived from
 * index.json and the manifests' annotations. Blobs are not checked here (see verifyBundle).
 */
export async function describeBundle(layout: OciLayout): Promise<DescribedBundle> {
  const problems: string[] = [...layout.problems];
  const warnings: string[] = [];
  const empty = (): DescribedBundle => ({ listing: emptyListing(), derived: true, manifests: [], problems, warnings });
  if (await layout.files.readRootFile(EXPORT_MARKER)) problems.push(`an export into it has not finished (${EXPORT_MARKER} is there): run that export again first`);
  if (!layout.indexRead) return empty();
  const byRef = layout.refs();
  const display = layout.path;

  const listingBytes = await layout.files.readRootFile(LISTING_FILE);
  if (!listingBytes) {
    return deriveListing(layout, byRef, problems, warnings);
  }
  let listing: BundleListing;
  try {
    listing = parseListing(listingBytes, display);
  } catch (e) {
    problems.push(errorMessage(e).replace(`${display}: `, ''));
    return empty();
  }
  // Kept at the index of each chart's entry, also for an entry that is bad: one bad entry must
  // not put every later chart with the manifest of the next one.
  const manifests: Array<Descriptor | undefined> = [];
  const listed = new Set<string>();
  for (const c of listing.charts) {
    const what = `${c.chart} ${c.version}`;
    if (!isValidRepository(c.repository)) problems.push(`${what}: repository "${c.repository}" is not a valid repository path`);
    if (c.tag !== tagForVersion(c.version) || !isValidTag(c.tag)) problems.push(`${what}: tag "${c.tag}" does not belong to version ${c.version}`);
    const ref = `${c.repository}:${c.tag}`;
    if (listed.has(ref)) problems.push(`the listing names ${ref} twice`);
    listed.add(ref);
    // Refs of the chart's referrers: cosign tags, and the fallback index of the others.
    for (const r of c.referrers ?? []) if (r.tag) listed.add(`${c.repository}:${r.tag}`);
    if (c.referrers?.some((r) => !r.tag)) listed.add(`${c.repository}:${referrersTag(c.digest)}`);
    const d = byRef.get(ref);
    if (!d) {
      problems.push(`${what}: the listing names ${ref} but ${INDEX_FILE} does not`);
      manifests.push(undefined);
      continue;
    }
    if (d.digest !== c.digest || d.size !== c.size) problems.push(`${what}: ${INDEX_FILE} and the listing disagree about ${ref}`);
    manifests.push({ mediaType: d.mediaType || OCI_MANIFEST_MEDIA_TYPE, digest: c.digest, size: c.size });
  }
  for (const img of listing.images ?? []) {
    const ref = img.tag.startsWith('sha256:') ? `${img.repository}@${img.tag}` : `${img.repository}:${img.tag}`;
    if (!isValidRepository(img.repository)) problems.push(`image ${img.image}: repository "${img.repository}" is not a valid repository path`);
    if (listed.has(ref)) problems.push(`the listing names ${ref} twice`);
    listed.add(ref);
    const d = byRef.get(ref);
    if (!d) problems.push(`image ${img.image}: the listing names ${ref} but ${INDEX_FILE} does not`);
    else if (d.digest !== img.digest || d.size !== img.size) problems.push(`image ${img.image}: ${INDEX_FILE} and the listing disagree about ${ref}`);
  }
  for (const ref of byRef.keys()) if (!listed.has(ref)) problems.push(`${INDEX_FILE} lists ${ref}, the listing does not`);
  if (listing.totals.charts !== listing.charts.length) problems.push(`the listing counts ${listing.totals.charts} chart versions but names ${listing.charts.length}`);
  return { listing, derived: false, manifests, problems, warnings };
}

function emptyListing(): BundleListing {
  return {
    schemaVersion: LISTING_SCHEMA_VERSION,
    kind: 'chartmirror-bundle',
    tool: { name: 'chartmirror', version: VERSION },
    totals: { charts: 0, blobs: 0, bytes: 0 },
    charts: [],
  };
}

/** A listing for a layout that came without one: every Helm chart manifest in index.json. */
async function deriveListing(
  layout: OciLayout,
  byRef: Map<string, Descriptor>,
  problems: string[],
  warnings: string[],
): Promise<DescribedBundle> {
  const listing = emptyListing();
  const manifests: Descriptor[] = [];
  const blobs = new Map<string, number>();
  for (const [ref, d] of [...byRef].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let m: ParsedManifest;
    try {
      m = chartManifest(await readBlob(layout, d), d.mediaType);
    } catch (e) {
      problems.push(`manifest ${d.digest} of ${ref}: ${errorMessage(e).replace(`${layout.path}: `, '')}`);
      continue;
    }
    if (m.config.mediaType !== HELM_CONFIG_MEDIA_TYPE) {
      warnings.push(`${ref} is not a Helm chart (config ${m.config.mediaType}): skipped`);
      continue;
    }
    const colon = ref.lastIndexOf(':');
    const chart = m.annotations[ANNOTATION_TITLE] ?? (colon > 0 ? ref.slice(0, colon).split('/').pop()! : ref);
    const repository = colon > 0 ? ref.slice(0, colon) : chart;
    const tag = colon > 0 ? ref.slice(colon + 1) : ref;
    const version = m.annotations[ANNOTATION_VERSION] ?? tag;
    if (!isValidRepository(repository) || !isValidTag(tag)) {
      warnings.push(`${ref}: not a repository:tag reference name: skipped`);
      continue;
    }
    const all = [d, m.config, ...m.layers];
    for (const b of all) blobs.set(b.digest, b.size);
    const chartLayer = m.layers.find((l) => l.mediaType === HELM_CHART_MEDIA_TYPE);
    const entry: BundleChart = {
      source: 'bundle',
      chart,
      version,
      tag,
      repository,
      digest: d.digest,
      size: d.size,
      bytes: all.reduce((n, b) => n + b.size, 0),
      ...(chartLayer ? { archiveDigest: chartLayer.digest } : {}),
    };
    listing.charts.push(entry);
    manifests.push({ mediaType: d.mediaType || OCI_MANIFEST_MEDIA_TYPE, digest: d.digest, size: d.size });
  }
  listing.totals = { charts: listing.charts.length, blobs: blobs.size, bytes: [...blobs.values()].reduce((a, b) => a + b, 0) };
  return { listing, derived: true, manifests, problems, warnings };
}

export interface VerifiedChart {
  chart: BundleChart;
  /** The chart's referrers, each checked with its whole graph. */
  referrers: Referrer[];
  manifest: { descriptor: Descriptor; bytes: Buffer };
  /** Config first, then the layers, as the manifest lists them. */
  blobs: Descriptor[];
}

function label(mediaType: string): string {
  if (mediaType === HELM_CONFIG_MEDIA_TYPE) return 'config';
  if (mediaType === HELM_CHART_MEDIA_TYPE) return 'chart archive';
  if (mediaType === HELM_PROV_MEDIA_TYPE) return 'provenance';
  return mediaType;
}

export interface VerifiedBundle {
  charts: VerifiedChart[];
  images: BundleImage[];
  /** Damage: missing or changed blobs, manifests that are not manifests, a listing that lies. */
  problems: string[];
  /**
   * Chart versions that are intact but that sync would never have pushed: not a Helm chart,
   * an archive Helm's loader refuses or larger than sync accepts, a Chart.yaml that names
   * another chart or version than the listing. One line each, naming the chart version.
   */
  refused: string[];
}

const CHART_LAYER_TYPES = [HELM_CHART_MEDIA_TYPE, LEGACY_CHART_MEDIA_TYPE];

/**
 * Check every blob every chart version needs against its digest, reading each once, and every
 * chart layer with the checks sync applies to an archive before it pushes (Helm's loading
 * rules, the size caps, Chart.yaml's name and version against the listing). Chart archives are
 * read whole for that, one at a time (at most LIMITS.archiveBytes); every other blob streams
 * through a hash. Returns the charts with their manifests, and every problem found (all of
 * them, not just the first).
 */
export async function verifyBundle(layout: OciLayout, described: DescribedBundle, signal?: AbortSignal): Promise<VerifiedBundle> {
  const problems: string[] = [];
  const refused: string[] = [];
  const charts: VerifiedChart[] = [];
  const checked = new Map<string, string | undefined>();
  const check = async (d: Descriptor): Promise<string | undefined> => {
    if (!checked.has(d.digest)) checked.set(d.digest, await checkBlob(layout, d));
    return checked.get(d.digest);
  };
  let missing = 0;
  const note = (what: string, d: Descriptor, kind: string, problem: string) => {
    if (problem === 'is missing') missing++;
    // With a truncated tar every later blob is missing: name the first few, count the rest.
    if (problem !== 'is missing' || missing <= 3) problems.push(`${what}: ${kind} ${d.digest} ${problem}`);
  };
  let bytes = 0;
  const seen = new Set<string>();
  for (const [i, c] of described.listing.charts.entries()) {
    if (signal?.aborted) throw new ChartMirrorError('ABORTED', 'interrupted while checking the bundle');
    const md = described.manifests[i];
    if (!md) continue;
    const what = `${c.chart} ${c.version}`;
    const bad = await check(md);
    if (bad) {
      note(what, md, 'manifest', bad);
      continue;
    }
    let parsed: ParsedManifest;
    let manifestBytes: Buffer;
    try {
      manifestBytes = await readBlob(layout, md);
      parsed = chartManifest(manifestBytes, md.mediaType);
    } catch (e) {
      problems.push(`${what}: manifest ${md.digest}: ${errorMessage(e)}`);
      continue;
    }
    const blobs = [parsed.config, ...parsed.layers];
    const chartLayers = parsed.layers.filter((l) => CHART_LAYER_TYPES.includes(l.mediaType));
    const chartLayer = chartLayers[0];
    // The chart archive is read once, whole, for Helm's checks and its digest together.
    let archive: Buffer | undefined;
    let intact = true;
    for (const b of blobs) {
      let p: string | undefined;
      if (b === chartLayer && chartLayers.length === 1 && b.size <= LIMITS.archiveBytes) {
        const read = await readChecked(layout, b);
        checked.set(b.digest, read.problem);
        p = read.problem;
        archive = read.bytes;
      } else {
        p = await check(b);
      }
      if (p) {
        note(what, b, label(b.mediaType), p);
        intact = false;
      }
    }
    if (c.archiveDigest && chartLayer?.digest !== c.archiveDigest) problems.push(`${what}: the listing's archive digest is not the manifest's chart layer`);
    if (intact) {
      const refusal = await helmRefusal(layout, c, parsed, chartLayers, archive);
      if (refusal) refused.push(`${what}: ${refusal}`);
    }
    archive = undefined;
    const counted = [md, ...blobs];
    const referrers: Referrer[] = [];
    for (const r of c.referrers ?? []) {
      const bad = await check(r);
      if (bad) {
        note(what, r, 'referrer', bad);
        continue;
      }
      let graph: Descriptor[];
      try {
        graph = await walkGraph(layout.repository(''), r);
      } catch (e) {
        problems.push(`${what}: referrer ${r.digest}: ${errorMessage(e)}`);
        continue;
      }
      for (const g of graph.slice(1)) {
        const p = await check(g);
        if (p) note(what, g, 'referrer blob', p);
      }
      counted.push(...graph);
      referrers.push({ descriptor: { mediaType: r.mediaType, digest: r.digest, size: r.size }, ...(r.tag ? { tag: r.tag } : {}), ...(r.artifactType ? { artifactType: r.artifactType } : {}) });
    }
    const fallback = layout.resolveRef(`${c.repository}:${referrersTag(c.digest)}`);
    if (fallback && c.referrers?.some((r) => !r.tag)) counted.push(fallback);
    for (const b of counted) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      bytes += b.size;
    }
    charts.push({ chart: c, referrers, manifest: { descriptor: md, bytes: manifestBytes }, blobs });
  }
  const images: BundleImage[] = [];
  for (const img of described.listing.images ?? []) {
    if (signal?.aborted) throw new ChartMirrorError('ABORTED', 'interrupted while checking the bundle');
    const root: Descriptor = { mediaType: img.mediaType, digest: img.digest, size: img.size };
    const what = `image ${img.image}`;
    const bad = await check(root);
    if (bad) {
      note(what, root, 'manifest', bad);
      continue;
    }
    let graph: Descriptor[];
    try {
      graph = await walkGraph(layout.repository(''), root);
    } catch (e) {
      problems.push(`${what}: ${errorMessage(e)}`);
      continue;
    }
    for (const g of graph.slice(1)) {
      const p = await check(g);
      if (p) note(what, g, 'blob', p);
    }
    for (const b of graph) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      bytes += b.size;
    }
    images.push(img);
  }
  if (missing > 3) problems.push(`${missing - 3} more blobs are missing`);
  if (!described.derived && problems.length === 0) {
    const t = described.listing.totals;
    if (t.blobs !== seen.size || t.bytes !== bytes) problems.push(`the listing counts ${t.blobs} blobs (${t.bytes} bytes), the manifests reference ${seen.size} (${bytes} bytes)`);
  }
  return { charts, images, problems, refused };
}

/**
 * Why sync would not have pushed this chart version (undefined: it would have). `archive`: the
 * chart layer's bytes, already checked against its digest (absent when it is too large to read).
 */
async function helmRefusal(layout: OciLayout, c: BundleChart, m: ParsedManifest, chartLayers: Descriptor[], archive: Buffer | undefined): Promise<string | undefined> {
  if (m.config.mediaType !== HELM_CONFIG_MEDIA_TYPE) return `not a Helm chart: its config is ${m.config.mediaType}, not ${HELM_CONFIG_MEDIA_TYPE}`;
  if (chartLayers.length === 0) return `not a Helm chart: no layer of type ${HELM_CHART_MEDIA_TYPE}`;
  if (chartLayers.length > 1) return `not a chart Helm can pull: ${chartLayers.length} chart layers`;
  const layer = chartLayers[0]!;
  if (layer.size > LIMITS.archiveBytes) {
    return `chart archive ${layer.digest} is ${formatBytes(layer.size)}, more than the ${formatBytes(LIMITS.archiveBytes)} a chart archive may be`;
  }
  const prov = m.layers.find((l) => l.mediaType === HELM_PROV_MEDIA_TYPE);
  if (prov && prov.size > LIMITS.provenanceBytes) {
    return `provenance ${prov.digest} is ${formatBytes(prov.size)}, more than the ${formatBytes(LIMITS.provenanceBytes)} a .prov may be`;
  }
  try {
    const config = JSON.parse((await readBlob(layout, m.config)).toString('utf8')) as unknown;
    if (!config || typeof config !== 'object' || Array.isArray(config)) throw new Error('not an object');
  } catch (e) {
    if (e instanceof ChartMirrorError) return `config ${m.config.digest}: ${errorMessage(e).replace(`${layout.path}: `, '')}`;
    return `not a Helm chart: its config blob is not a JSON object`;
  }
  let chart;
  try {
    chart = await loadChartArchive(archive!);
  } catch (e) {
    return `chart archive ${layer.digest}: Helm cannot load it: ${errorMessage(e)}`;
  }
  const md = chart.metadata;
  if (md.name !== c.chart) return `Chart.yaml name "${md.name}" does not match the listing's chart "${c.chart}"`;
  if (md.version !== c.version) return `Chart.yaml version "${md.version}" does not match the listing's version "${c.version}"`;
  return undefined;
}

/**
 * A blob read whole and checked against its descriptor: its bytes, or a problem (one phrase,
 * without the digest, as checkBlob words it).
 */
async function readChecked(layout: OciLayout, desc: Descriptor): Promise<{ bytes?: Buffer; problem?: string }> {
  const size = await layout.blobSize(desc.digest);
  if (size === undefined) return { problem: 'is missing' };
  const where = layout.files.where(desc.digest);
  if (size !== desc.size) return { problem: `is ${size} bytes, its descriptor says ${desc.size} (in ${where})` };
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for await (const chunk of await layout.openBlob(desc)) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    hash.update(b);
    chunks.push(b);
  }
  if (`sha256:${hash.digest('hex')}` !== desc.digest) return { problem: `does not match its digest (damaged, in ${where})` };
  return { bytes: Buffer.concat(chunks, desc.size) };
}

/**
 * Stream a blob and compare it with its descriptor; a problem (one phrase, without the digest)
 * or undefined when it is intact.
 */
export async function checkBlob(layout: OciLayout, desc: Descriptor): Promise<string | undefined> {
  const size = await layout.blobSize(desc.digest);
  if (size === undefined) return 'is missing';
  const where = layout.files.where(desc.digest);
  if (size !== desc.size) return `is ${size} bytes, its descriptor says ${desc.size} (in ${where})`;
  const hash = createHash('sha256');
  for await (const chunk of await layout.openBlob(desc)) hash.update(chunk);
  if (`sha256:${hash.digest('hex')}` !== desc.digest) return `does not match its digest (damaged, in ${where})`;
  return undefined;
}

/** A small blob's bytes (a manifest), checked against its descriptor as they are read. */
export async function readBlob(layout: OciLayout, desc: Descriptor): Promise<Buffer> {
  const problem = await checkSize(layout, desc);
  if (problem) throw problem;
  try {
    return await readVerified(await layout.openBlob(desc), desc, LIMITS.manifestBytes, 'blob');
  } catch (e) {
    if (e instanceof ChartMirrorError && e.code === 'DIGEST') {
      throw new ChartMirrorError('DIGEST', `${layout.path}: blob ${desc.digest} does not match its digest (damaged, in ${layout.files.where(desc.digest)})`);
    }
    throw e;
  }
}

async function checkSize(layout: OciLayout, desc: Descriptor): Promise<ChartMirrorError | undefined> {
  const size = await layout.blobSize(desc.digest);
  if (size === undefined) return new ChartMirrorError('LAYOUT', `${layout.path}: blob ${desc.digest} is missing`);
  if (size !== desc.size) return new ChartMirrorError('DIGEST', `${layout.path}: blob ${desc.digest} is ${size} bytes, its descriptor says ${desc.size}`);
  return undefined;
}
