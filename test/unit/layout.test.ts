import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../support/tmp.js';
import { LayoutTarget, OciLayout } from '../../src/content/layout.js';
import type { ArtifactContent } from '../../src/content/target.js';
import { sha256Digest } from '../../src/util/digest.js';

function content(text: string): ArtifactContent {
  const blob = Buffer.from(text);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [{ digest: sha256Digest(blob) }] }));
  return {
    manifest: { descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(manifest), size: manifest.length }, bytes: manifest },
    blobs: [{ descriptor: { mediaType: 'x', digest: sha256Digest(blob), size: blob.length }, bytes: blob }],
  };
}

describe('OCI layout target', () => {
  it('writes a spec layout and tags by ref name', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const t = await LayoutTarget.open('disk', dir);
    const c = content('hello');
    const out = await t.push('nginx', '1.0.0', c);
    expect(out.bytesUploaded).toBe(5 + c.manifest.bytes.length);
    await t.close();
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toEqual([
      { ...c.manifest.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'nginx:1.0.0' } },
    ]);
    expect(await readFile(join(dir, 'blobs', 'sha256', c.blobs[0]!.descriptor.digest.slice(7)), 'utf8')).toBe('hello');
  });

  it('adds on re-runs without duplicating, and skips blobs it has', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const t1 = await LayoutTarget.open('disk', dir);
    await t1.push('nginx', '1.0.0', content('a'));
    await t1.close();
    const t2 = await LayoutTarget.open('disk', dir);
    const again = await t2.push('nginx', '1.0.0', content('a'));
    expect(again.blobsSkipped).toBe(1);
    expect(again.bytesUploaded).toBe(0);
    await t2.push('redis', '2.0.0', content('b'));
    await t2.close();
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([
      'nginx:1.0.0',
      'redis:2.0.0',
    ]);
    expect(await t2.resolve('redis', '2.0.0')).toBe(content('b').manifest.descriptor.digest);
    expect([...(await t2.listTags('nginx'))]).toEqual(['1.0.0']);
  });

  it('commits many concurrent tags in few index writes, all persisted', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const t = await LayoutTarget.open('disk', dir);
    await Promise.all(Array.from({ length: 50 }, (_, i) => t.push('c', `1.0.${i}`, content(`v${i}`))));
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(50);
  });

  it('refuses bytes that do not match their descriptor and leaves no temp file', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const layout = await OciLayout.open(dir);
    await expect(layout.writeBlob({ mediaType: 'x', digest: sha256Digest('a'), size: 1 }, Buffer.from('b'))).rejects.toThrow(/do not match/);
    const names = await readdir(join(dir, 'blobs', 'sha256'));
    expect(names).toEqual([]);
  });

  it('removes stale temp files left by a crash, and reports a damaged blob', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const t = await LayoutTarget.open('disk', dir);
    const c = content('x');
    await t.push('c', '1', c);
    await t.close();
    await writeFile(join(dir, 'blobs', 'sha256', '.tmp-deadbeef-1234'), 'partial');
    const blobPath = join(dir, 'blobs', 'sha256', c.blobs[0]!.descriptor.digest.slice(7));
    await writeFile(blobPath, 'y');
    const layout = await OciLayout.open(dir);
    expect((await readdir(join(dir, 'blobs', 'sha256'))).some((n) => n.startsWith('.tmp-'))).toBe(false);
    await expect(layout.readBlob(c.blobs[0]!.descriptor)).rejects.toThrow(/damaged/);
  });

  it('refuses to open a directory that is not a layout when asked not to create', async () => {
    const dir = await tmpDir('layout-');
    await expect(OciLayout.open(dir, { create: false })).rejects.toThrow(/not an OCI image layout/);
  });
});
