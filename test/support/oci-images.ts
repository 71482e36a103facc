import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from './exec.js';

export interface BuiltImage {
  platform: { os: string; architecture: string };
  manifest: { mediaType: string; digest: string; size: number };
}

export interface MultiPlatformLayout {
  /** The OCI layout directory. */
  dir: string;
  /** Ref name of the image index in index.json. */
  ref: string;
  /** The index: descriptor and exact bytes. */
  index: { mediaType: string; digest: string; size: number; bytes: Buffer };
  images: BuiltImage[];
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * An OCI layout made by an independent tool: umoci builds two single-layer images (amd64 and
 * arm64, each with its own file), and an image index of the two is added by hand, tagged `ref`.
 * This is a multi-platform image as registries serve them, with no chartmirror code involved.
 */
export async function buildMultiPlatformLayout(dir: string, ref = 'multi:1.0'): Promise<MultiPlatformLayout> {
  await runOk('umoci', ['init', '--layout', dir]);
  const images: BuiltImage[] = [];
  for (const architecture of ['amd64', 'arm64']) {
    const tag = `img-${architecture}`;
    const file = join(dir, '..', `hello-${architecture}.txt`);
    await writeFile(file, `hello from ${architecture}\n`.repeat(50));
    await runOk('umoci', ['new', '--image', `${dir}:${tag}`]);
    await runOk('umoci', ['insert', '--rootless', '--image', `${dir}:${tag}`, file, '/hello']);
    await runOk('umoci', ['config', '--image', `${dir}:${tag}`, '--os', 'linux', '--architecture', architecture]);
    images.push({ platform: { os: 'linux', architecture }, manifest: await refDescriptor(dir, tag) });
  }
  await runOk('umoci', ['gc', '--layout', dir]);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map((i) => ({ ...i.manifest, platform: i.platform })),
    }),
  );
  const index = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(bytes), size: bytes.length, bytes };
  await writeFile(join(dir, 'blobs', 'sha256', index.digest.slice(7)), bytes);
  const indexJson = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: unknown[] };
  indexJson.manifests.push({ mediaType: index.mediaType, digest: index.digest, size: index.size, annotations: { 'org.opencontainers.image.ref.name': ref } });
  await writeFile(join(dir, 'index.json'), JSON.stringify(indexJson));
  return { dir, ref, index, images };
}

async function refDescriptor(dir: string, ref: string): Promise<BuiltImage['manifest']> {
  const idx = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }>;
  };
  const d = idx.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!d) throw new Error(`umoci left no ${ref} in ${dir}`);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}
