import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../support/tmp.js';
import { copy } from '../../src/content/copy.js';
import { OciLayout } from '../../src/content/layout.js';
import { MemoryStore } from '../../src/content/memory.js';
import { bufferStream } from '../../src/content/verify.js';
import { sha256Digest } from '../../src/util/digest.js';

/** A one-layer artifact in a memory store; returns the store and its manifest descriptor. */
function artifact(text: string) {
  const store = new MemoryStore();
  const blob = Buffer.from(text);
  const layer = store.add('application/octet-stream', blob);
  const config = store.add('application/vnd.test.config+json', Buffer.from('{}'));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [layer] }));
  const root = store.add('application/vnd.oci.image.manifest.v1+json', manifest);
  return { store, root, layer, manifest };
}

describe('OCI layout store', () => {
  it('writes a spec layout and tags by ref name', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const layout = await OciLayout.open(dir);
    const a = artifact('hello');
    const out = await copy(a.store, layout.repository('nginx'), a.root, { tag: '1.0.0' });
    expect(out.bytes).toBe(5 + 2 + a.manifest.length);
    await layout.close();
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toEqual([{ ...a.root, annotations: { 'org.opencontainers.image.ref.name': 'nginx:1.0.0' } }]);
    expect(await readFile(join(dir, 'blobs', 'sha256', a.layer.digest.slice(7)), 'utf8')).toBe('hello');
  });

  it('adds on re-runs without duplicating, and skips what it has', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const l1 = await OciLayout.open(dir);
    await copy(artifact('a').store, l1.repository('nginx'), artifact('a').root, { tag: '1.0.0' });
    await l1.close();
    const l2 = await OciLayout.open(dir);
    const again = await copy(artifact('a').store, l2.repository('nginx'), artifact('a').root, { tag: '1.0.0' });
    expect(again.bytes).toBe(0);
    expect(again.skipped).toBe(1); // the root is there, so everything under it is
    await copy(artifact('b').store, l2.repository('redis'), artifact('b').root, { tag: '2.0.0' });
    await l2.close();
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([
      'nginx:1.0.0',
      'redis:2.0.0',
    ]);
    expect((await l2.repository('redis').resolve('2.0.0'))?.digest).toBe(artifact('b').root.digest);
    expect(await l2.repository('nginx').tags()).toEqual(['1.0.0']);
    expect(await l2.repository('').tags()).toEqual(['nginx:1.0.0', 'redis:2.0.0']);
  });

  it('commits many concurrent tags in few index writes, all persisted', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const layout = await OciLayout.open(dir);
    await Promise.all(Array.from({ length: 50 }, (_, i) => copy(artifact(`v${i}`).store, layout.repository('c'), artifact(`v${i}`).root, { tag: `1.0.${i}` })));
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(50);
  });

  it('refuses bytes that do not match their descriptor and leaves no temp file', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const layout = await OciLayout.open(dir);
    await expect(layout.writeBlob({ mediaType: 'x', digest: sha256Digest('a'), size: 1 }, bufferStream(Buffer.from('b')))).rejects.toThrow(/does not match its digest/);
    await expect(layout.writeBlob({ mediaType: 'x', digest: sha256Digest('ab'), size: 2 }, bufferStream(Buffer.from('a')))).rejects.toThrow(/truncated/);
    await expect(layout.writeBlob({ mediaType: 'x', digest: sha256Digest('a'), size: 1 }, bufferStream(Buffer.from('aa')))).rejects.toThrow(/more than the 1 bytes/);
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
  });

  it('removes stale temp files left by a crash (not those another writer is writing), and refuses a damaged blob when read', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const l1 = await OciLayout.open(dir);
    const a = artifact('x');
    await copy(a.store, l1.repository('c'), a.root, { tag: '1' });
    await l1.close();
    const blobs = join(dir, 'blobs', 'sha256');
    await writeFile(join(blobs, '.tmp-deadbeef-1234'), 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(blobs, '.tmp-deadbeef-1234'), twoHoursAgo, twoHoursAgo);
    // Another process sharing the layout is writing this one right now.
    await writeFile(join(blobs, '.tmp-cafebabe-5678'), 'in flight');
    await writeFile(join(blobs, a.layer.digest.slice(7)), 'y');
    const l2 = await OciLayout.open(dir);
    expect((await readdir(blobs)).filter((n) => n.startsWith('.tmp-'))).toEqual(['.tmp-cafebabe-5678']);
    // Copying out of it checks every byte: the damaged layer stops the copy, nothing is tagged.
    const dst = new MemoryStore();
    await expect(copy(l2.repository('c'), dst, '1', { tag: 'copied' })).rejects.toThrow(/content does not match its digest/);
    expect(await dst.tags()).toEqual([]);
  });

  it('refuses to open a directory that is not a layout when asked not to create', async () => {
    const dir = await tmpDir('layout-');
    await expect(OciLayout.open(dir, { create: 'never' })).rejects.toThrow(/not an OCI image layout/);
  });

  it('creates a lazily opened layout with its first write, and nothing before', async () => {
    const dir = join(await tmpDir('layout-'), 'later');
    const layout = await OciLayout.open(dir, { create: 'lazy' });
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
    expect(await layout.repository('c').tags()).toEqual([]);
    const a = artifact('z');
    await copy(a.store, layout.repository('c'), a.root, { tag: '1' });
    await layout.close();
    expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('keeps refs another writer of the same layout added since it was opened (index.json is merged, not overwritten)', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const first = await OciLayout.open(dir);
    const second = await OciLayout.open(dir);
    for (let i = 0; i < 5; i++) {
      const x = artifact(`first-${i}`);
      await copy(x.store, first.repository('one'), x.root, { tag: `1.0.${i}` });
      const y = artifact(`second-${i}`);
      await copy(y.store, second.repository('two'), y.root, { tag: `2.0.${i}` });
    }
    await second.repository('two').deleteTag('2.0.0');
    await Promise.all([first.close(), second.close()]);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    const refs = index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']);
    expect(refs).toEqual(['one:1.0.0', 'one:1.0.1', 'one:1.0.2', 'one:1.0.3', 'one:1.0.4', 'two:2.0.1', 'two:2.0.2', 'two:2.0.3', 'two:2.0.4']);
    // Each sees the other's tags without being opened again.
    expect(await first.repository('two').tags()).toEqual(['2.0.1', '2.0.2', '2.0.3', '2.0.4']);
    expect((await second.repository('one').resolve('1.0.4'))?.digest).toBe(artifact('first-4').root.digest);
    expect(await readdir(dir)).not.toContain('index.json.lock');
  });

  it('sees the tags of a layout another writer created after it was opened lazily', async () => {
    const dir = join(await tmpDir('layout-'), 'later');
    const lazy = await OciLayout.open(dir, { create: 'lazy' });
    expect(await lazy.repository('c').tags()).toEqual([]);
    const other = await OciLayout.open(dir);
    const x = artifact('other');
    await copy(x.store, other.repository('c'), x.root, { tag: '1' });
    await other.close();
    expect(await lazy.repository('c').tags()).toEqual(['1']);
    const y = artifact('mine');
    await copy(y.store, lazy.repository('c'), y.root, { tag: '2' });
    await lazy.close();
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'])).toEqual(['c:1', 'c:2']);
  });

  it('refuses to overwrite an index.json another writer damaged', async () => {
    const dir = join(await tmpDir('layout-'), 'oci');
    const layout = await OciLayout.open(dir);
    await writeFile(join(dir, 'index.json'), '{"manifests": [');
    const x = artifact('late');
    await expect(copy(x.store, layout.repository('c'), x.root, { tag: '1' })).rejects.toThrow(/damaged OCI layout: .*; not overwritten/);
    expect(await readFile(join(dir, 'index.json'), 'utf8')).toBe('{"manifests": [');
  });
});
