/**
 * What an air-gap bundle is: one OCI image layout (image-spec image-layout.md) plus a listing.
 *
 *   oci-layout                 {"imageLayoutVersion":"1.0.0"}
 *   index.json                 one descriptor per chart version, ref name `<repository>:<tag>`
 *   chartmirror-bundle.json    the listing: chart, version, tag, digest, source URL, provenance
 *   blobs/sha256/<hex>         manifests, configs, chart archives, .prov files
 *
 * As a tar these are the entries, in this order (the three small files first, so a reader finds
 * them without scanning the archive; then the blobs sorted by digest).
 */
import { z } from 'zod';
import { ChartMirrorError } from '../errors.js';
import { OCI_LAYOUT_VERSION } from '../oci/media-types.js';

export { INDEX_FILE, OCI_LAYOUT_FILE } from '../content/layout.js';
export const LISTING_FILE = 'chartmirror-bundle.json';
/** Present in a directory while an export fills it: marks it as ours to reuse and prune. */
export const EXPORT_MARKER = '.chartmirror-export';

export const LISTING_SCHEMA_VERSION = 1;
export const STATE_SCHEMA_VERSION = 1;

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/);
const provenance = z.enum(['ignored', 'absent', 'checked', 'verified']);

const BundleChartSchema = z.object({
  /** Source name in the exporting config ('bundle' when the layout came without a listing). */
  source: z.string(),
  chart: z.string(),
  version: z.string(),
  tag: z.string(),
  /** Repository path inside the bundle; import pushes to `<--to path>/<repository>`. */
  repository: z.string(),
  /** Manifest digest and size. */
  digest,
  size: z.number().int().nonnegative(),
  /** sha256 of the chart archive (the chart layer): what the source's index.yaml lists. */
  archiveDigest: digest.optional(),
  provenance: provenance.optional(),
  /** The archive URL in the source, without credentials or query. */
  url: z.string().optional(),
  /** Manifest + config + layers, in bytes. */
  bytes: z.number().int().nonnegative(),
  /**
   * Signatures, SBOMs and attestations of the chart (from oci:// sources), each a manifest in
   * the bundle with its whole graph; cosign-style ones under their tag, the others listed in the
   * fallback index `<repository>:sha256-<hex>`.
   */
  referrers: z
    .array(
      z.object({
        mediaType: z.string(),
        digest,
        size: z.number().int().nonnegative(),
        artifactType: z.string().optional(),
        tag: z.string().optional(),
      }),
    )
    .optional(),
});

/** A container image in the bundle: its whole graph (index, platform manifests, configs, layers). */
const BundleImageSchema = z.object({
  /** The image as the charts (or images.extra) name it, normalized: docker.io/library/nginx:1.25. */
  image: z.string(),
  /** Repository path inside the bundle; import pushes to `<--to path>/<repository>`. */
  repository: z.string(),
  /** The tag it lands under (the digest for an image named by digest only). */
  tag: z.string(),
  /** The root: an image index or a manifest. */
  mediaType: z.string(),
  digest,
  size: z.number().int().nonnegative(),
  /** The digest at the source, when a platform subset made a new index. */
  sourceDigest: digest.optional(),
  /** Chart versions that use it (source/chart@version). */
  usedBy: z.array(z.string()).optional(),
  /** Every blob of the image, in bytes. */
  bytes: z.number().int().nonnegative(),
});

export const BundleListingSchema = z.object({
  schemaVersion: z.literal(LISTING_SCHEMA_VERSION),
  kind: z.literal('chartmirror-bundle'),
  tool: z.object({ name: z.string(), version: z.string() }),
  /** Set by `export --since`: how many selected chart versions were left out as already on the far side. */
  incremental: z.object({ leftOut: z.number().int().nonnegative() }).optional(),
  totals: z.object({
    charts: z.number().int().nonnegative(),
    blobs: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
  }),
  charts: z.array(BundleChartSchema),
  /** Container images the charts use (images.enabled). */
  images: z.array(BundleImageSchema).optional(),
});

export type BundleChart = z.infer<typeof BundleChartSchema>;
export type BundleImage = z.infer<typeof BundleImageSchema>;
export type BundleListing = z.infer<typeof BundleListingSchema>;

const StateChartSchema = z.object({
  chart: z.string(),
  version: z.string(),
  tag: z.string(),
  repository: z.string(),
  digest,
  archiveDigest: digest.optional(),
  source: z.string().optional(),
});

/**
 * What the far side holds at one destination, written by `import` and read by `export --since`.
 * Cumulative: each import adds what it confirmed to what the file already listed.
 */
export const FarSideStateSchema = z.object({
  schemaVersion: z.literal(STATE_SCHEMA_VERSION),
  kind: z.literal('chartmirror-state'),
  /** `oci://host/path` the entries were confirmed at. */
  destination: z.string(),
  updatedAt: z.string(),
  charts: z.array(StateChartSchema),
});

export type StateChart = z.infer<typeof StateChartSchema>;
export type FarSideState = z.infer<typeof FarSideStateSchema>;

export function ociLayoutJson(): string {
  return JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION });
}

/**
 * One line naming the first problems of a zod parse. `label` may name the entry a path is in
 * (`charts.3` -> the chart version listed there), so a message says which one is bad.
 */
export function zodProblems(error: z.ZodError, label?: (path: readonly PropertyKey[]) => string | undefined): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${(label?.(i.path) ?? (i.path.length ? i.path.join('.') : '(top)'))}: ${i.message}`)
    .join('; ');
}

/** `charts.3.digest` of a listing as `charts[3] (nginx 1.2.3) digest`, when the entry names itself. */
function listingPath(raw: unknown, path: readonly PropertyKey[]): string | undefined {
  const [list, i, ...rest] = path;
  if ((list !== 'charts' && list !== 'images') || typeof i !== 'number') return undefined;
  const entry = (raw as Record<string, unknown[]> | undefined)?.[list]?.[i] as Record<string, unknown> | undefined;
  const text = (v: unknown) => (typeof v === 'string' && v.length <= 200 ? v : undefined);
  const name = list === 'charts' ? [text(entry?.chart), text(entry?.version)].filter(Boolean).join(' ') : (text(entry?.image) ?? '');
  return `${list}[${i}]${name ? ` (${name})` : ''}${rest.length ? ` ${rest.join('.')}` : ''}`;
}

export function parseListing(bytes: Buffer, where: string): BundleListing {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new ChartMirrorError('LAYOUT', `${where}: ${LISTING_FILE} is not JSON (${(e as Error).message})`);
  }
  const parsed = BundleListingSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ChartMirrorError('LAYOUT', `${where}: ${LISTING_FILE} is not a chartmirror listing: ${zodProblems(parsed.error, (path) => listingPath(raw, path))}`);
  }
  return parsed.data;
}
