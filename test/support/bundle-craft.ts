/**
 * Bundles written by hand (a layout directory with a chartmirror listing), for cases export
 * would never write: a chart archive Helm refuses, a listing entry that lies, an image with a
 * layer of a gigabyte (a sparse file of zeros: no time or disk spent writing it).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const HELM_CHART = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

export interface CraftedDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface CraftedChart {
  name: string;
  version: string;
  /** The chart archive (a .tgz), as Helm would or would not load it. */
  archive: Buffer;
}

export interface CraftedListingChart {
  source: string;
  chart: string;
  version: string;
  tag: string;
  repository: string;
  digest: string;
  size: number;
  archiveDigest: string;
  bytes: number;
}

export interface CraftedListing {
  schemaVersion: 1;
  kind: 'chartmirror-bundle';
  tool: { name: string; version: string };
  totals: { charts: number; blobs: number; bytes: number };
  charts: CraftedListingChart[];
  images?: Array<{ image: string; repository: string; tag: string; mediaType: string; digest: string; size: number; bytes: number }>;
}

export interface CraftedBundle {
  dir: string;
  listing: CraftedListing;
  /** Write the listing again (after a test changed it). */
  writeListing(listing: CraftedListing): Promise<void>;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function blob(dir: string, mediaType: string, bytes: Buffer): Promise<CraftedDescriptor> {
  const digest = sha256(bytes);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** A file of `size` zero bytes that takes no disk space (sparse), and its digest. */
async function zeros(dir: string, size: number): Promise<CraftedDescriptor> {
  const h = createHash('sha256');
  const block = Buffer.alloc(8 * 1024 * 1024);
  for (let left = size; left > 0; left -= block.length) h.update(left >= block.length ? block : block.subarray(0, left));
  const digest = `sha256:${h.digest('hex')}`;
  const fh = await open(join(dir, 'blobs', 'sha256', digest.slice(7)), 'w');
  await fh.truncate(size);
  await fh.close();
  return { mediaType: OCI_LAYER, digest, size };
}

/**
 * Write a bundle directory: each chart as `helm push` would lay it out (config, one chart
 * layer, title and version annotations), tagged `<name>:<version>`; per entry of `zeroLayers`, an
 * image `images/big<i>:1.0` whose only layer is that many zero bytes.
 */
export async function craftBundle(dir: string, charts: CraftedChart[], opts: { zeroLayers?: number[] } = {}): Promise<CraftedBundle> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const refs: Array<CraftedDescriptor & { annotations: Record<string, string> }> = [];
  const blobs = new Map<string, number>();
  const listing: CraftedListing = {
    schemaVersion: 1,
    kind: 'chartmirror-bundle',
    tool: { name: 'chartmirror', version: '0.0.0-crafted' },
    totals: { charts: charts.length, blobs: 0, bytes: 0 },
    charts: [],
  };
  for (const c of charts) {
    const config = await blob(dir, HELM_CONFIG, Buffer.from(JSON.stringify({ name: c.name, version: c.version, apiVersion: 'v2' })));
    const layer = await blob(dir, HELM_CHART, c.archive);
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        config,
        layers: [layer],
        annotations: { 'org.opencontainers.image.title': c.name, 'org.opencontainers.image.version': c.version },
      }),
    );
    const manifest = await blob(dir, OCI_MANIFEST, body);
    const tag = c.version.replace(/\+/g, '_');
    refs.push({ ...manifest, annotations: { 'org.opencontainers.image.ref.name': `${c.name}:${tag}` } });
    for (const d of [manifest, config, layer]) blobs.set(d.digest, d.size);
    listing.charts.push({
      source: 'crafted',
      chart: c.name,
      version: c.version,
      tag,
      repository: c.name,
      digest: manifest.digest,
      size: manifest.size,
      archiveDigest: layer.digest,
      bytes: manifest.size + config.size + layer.size,
    });
  }
  for (const [i, size] of (opts.zeroLayers ?? []).entries()) {
    const layer = await zeros(dir, size);
    const config = await blob(dir, OCI_CONFIG, Buffer.from(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":${i}}`));
    const manifest = await blob(dir, OCI_MANIFEST, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] })));
    const repository = `images/big${i}`;
    refs.push({ ...manifest, annotations: { 'org.opencontainers.image.ref.name': `${repository}:1.0` } });
    for (const d of [manifest, config, layer]) blobs.set(d.digest, d.size);
    (listing.images ??= []).push({ image: `example.com/big${i}:1.0`, repository, tag: '1.0', ...manifest, bytes: manifest.size + config.size + layer.size });
  }
  listing.totals.blobs = blobs.size;
  listing.totals.bytes = [...blobs.values()].reduce((a, b) => a + b, 0);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: refs }));
  const writeListing = (l: CraftedListing) => writeFile(join(dir, 'chartmirror-bundle.json'), JSON.stringify(l, null, 2));
  await writeListing(listing);
  return { dir, listing, writeListing };
}
