import { ChartMirrorError, errorMessage } from '../errors.js';
import { tagForVersion } from '../oci/artifact.js';
import type { Descriptor } from '../oci/descriptor.js';
import {
  ANNOTATION_REF_NAME,
  ANNOTATION_TITLE,
  ANNOTATION_VERSION,
  HELM_CHART_MEDIA_TYPE,
  HELM_CONFIG_MEDIA_TYPE,
  HELM_PROV_MEDIA_TYPE,
  OCI_LAYOUT_VERSION,
  OCI_MANIFEST_MEDIA_TYPE,
} from '../oci/media-types.js';
import { VERSION } from '../version.js';
import {
  EXPORT_MARKER,
  INDEX_FILE,
  LISTING_FILE,
  LISTING_SCHEMA_VERSION,
  OCI_LAYOUT_FILE,
  OCI_TAG,
  REPO_PATH,
  parseListing,
  parseManifest,
  type BundleChart,
  type BundleListing,
  type ParsedManifest,
} from './format.js';
import { checkBlob, readBlob, type BundleStore } from './store.js';

export interface DescribedBundle {
  listing: BundleListing;
  /** True when the bundle has no chartmirror listing and this one was derived from index.json. */
  derived: boolean;
  /** index.json descriptor per chart (same order as listing.charts). */
  manifests: Descriptor[];
  /** Structural damage: missing or unreadable files, a listing that disagrees with index.json. */
  problems: string[];
  warnings: string[];
}

interface IndexJson {
  manifests?: Descriptor[];
}

/**
 * Read what a bundle says it holds: oci-layout, index.json and the listing, cross-checked.
 * A layout without a listing (another tool's, or a sync `layout:` target) gets one derived from
 * index.json and the manifests' annotations. Blobs are not checked here (see verifyBundle).
 */
export async function describeBundle(store: BundleStore): Promise<DescribedBundle> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const empty = (): DescribedBundle => ({ listing: emptyListing(), derived: true, manifests: [], problems, warnings });
  if (store.problem) problems.push(store.problem);
  if (await store.readFile(EXPORT_MARKER)) problems.push(`an export into it has not finished (${EXPORT_MARKER} is there): run that export again first`);

  const marker = await store.readFile(OCI_LAYOUT_FILE);
  if (!marker) {
    problems.push(`${OCI_LAYOUT_FILE} is missing: not an OCI image layout`);
  } else {
    let version: unknown;
    try {
      version = (JSON.parse(marker.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      version = undefined;
    }
    if (version !== OCI_LAYOUT_VERSION) problems.push(`${OCI_LAYOUT_FILE} is damaged or names an unsupported version`);
  }

  const indexBytes = await store.readFile(INDEX_FILE);
  if (!indexBytes) {
    problems.push(`${INDEX_FILE} is missing`);
    return empty();
  }
  let index: IndexJson;
  try {
    index = JSON.parse(indexBytes.toString('utf8')) as IndexJson;
    if (!Array.isArray(index.manifests)) throw new Error('no manifests list');
  } catch (e) {
    problems.push(`${INDEX_FILE} is damaged (${errorMessage(e)})`);
    return empty();
  }
  const byRef = new Map<string, Descriptor>();
  for (const d of index.manifests!) {
    const ref = d?.annotations?.[ANNOTATION_REF_NAME];
    if (ref && typeof d.digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(d.digest)) byRef.set(ref, d);
  }

  const listingBytes = await store.readFile(LISTING_FILE);
  if (!listingBytes) {
    return deriveListing(store, byRef, problems, warnings);
  }
  let listing: BundleListing;
  try {
    listing = parseListing(listingBytes, store.display);
  } catch (e) {
    problems.push(errorMessage(e).replace(`${store.display}: `, ''));
    return empty();
  }
  const manifests: Descriptor[] = [];
  const listed = new Set<string>();
  for (const c of listing.charts) {
    const what = `${c.chart} ${c.version}`;
    if (!REPO_PATH.test(c.repository)) problems.push(`${what}: repository "${c.repository}" is not a valid repository path`);
    if (c.tag !== tagForVersion(c.version) || !OCI_TAG.test(c.tag)) problems.push(`${what}: tag "${c.tag}" does not belong to version ${c.version}`);
    const ref = `${c.repository}:${c.tag}`;
    if (listed.has(ref)) problems.push(`the listing names ${ref} twice`);
    listed.add(ref);
    const d = byRef.get(ref);
    if (!d) {
      problems.push(`${what}: the listing names ${ref} but ${INDEX_FILE} does not`);
      continue;
    }
    if (d.digest !== c.digest || d.size !== c.size) problems.push(`${what}: ${INDEX_FILE} and the listing disagree about ${ref}`);
    manifests.push({ mediaType: d.mediaType || OCI_MANIFEST_MEDIA_TYPE, digest: c.digest, size: c.size });
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
  store: BundleStore,
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
      m = parseManifest(await readBlob(store, d));
    } catch (e) {
      problems.push(`manifest ${d.digest} of ${ref}: ${errorMessage(e).replace(`${store.display}: `, '')}`);
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
    if (!REPO_PATH.test(repository) || !OCI_TAG.test(tag)) {
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

/**
 * Check every blob every chart version needs against its digest, reading each once. Returns
 * the charts with their manifests, and every problem found (all of them, not just the first).
 */
export async function verifyBundle(
  store: BundleStore,
  described: DescribedBundle,
  signal?: AbortSignal,
): Promise<{ charts: VerifiedChart[]; problems: string[] }> {
  const problems: string[] = [];
  const charts: VerifiedChart[] = [];
  const checked = new Map<string, string | undefined>();
  const check = async (d: Descriptor): Promise<string | undefined> => {
    if (!checked.has(d.digest)) checked.set(d.digest, await checkBlob(store, d));
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
      manifestBytes = await readBlob(store, md);
      parsed = parseManifest(manifestBytes);
    } catch (e) {
      problems.push(`${what}: manifest ${md.digest}: ${errorMessage(e)}`);
      continue;
    }
    const blobs = [parsed.config, ...parsed.layers];
    for (const b of blobs) {
      const p = await check(b);
      if (p) note(what, b, label(b.mediaType), p);
    }
    const chartLayer = parsed.layers.find((l) => l.mediaType === HELM_CHART_MEDIA_TYPE);
    if (c.archiveDigest && chartLayer?.digest !== c.archiveDigest) problems.push(`${what}: the listing's archive digest is not the manifest's chart layer`);
    for (const b of [md, ...blobs]) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      bytes += b.size;
    }
    charts.push({ chart: c, manifest: { descriptor: md, bytes: manifestBytes }, blobs });
  }
  if (missing > 3) problems.push(`${missing - 3} more blobs are missing`);
  if (!described.derived && problems.length === 0) {
    const t = described.listing.totals;
    if (t.blobs !== seen.size || t.bytes !== bytes) problems.push(`the listing counts ${t.blobs} blobs (${t.bytes} bytes), the manifests reference ${seen.size} (${bytes} bytes)`);
  }
  return { charts, problems };
}
