/**
 * The graph copy between every pair of store kinds, against real parts: an image index of two
 * platform manifests built by umoci (not by us), held in an OCI layout, a plain tar of that
 * layout, the same tar cut into parts, and a real registry; copied to a second registry and to
 * layout directories. skopeo, an independent client, then reads what landed: the root digest
 * is the source's, and every blob under it checks out.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copy } from '../../src/content/copy.js';
import { openStore } from '../../src/content/open.js';
import type { OpenedStore, Store } from '../../src/content/store.js';
import { ChartMirrorError } from '../../src/errors.js';
import { haveBinaries } from '../support/bins.js';
import { run, runOk } from '../support/exec.js';
import { startFaultProxy, type Fault } from '../support/fault-proxy.js';
import { buildMultiPlatformLayout, type MultiPlatformLayout } from '../support/oci-images.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tmpDir } from '../support/tmp.js';

const FAST_RETRY = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 };

describe.skipIf(!haveBinaries('docker-registry', 'umoci', 'skopeo', 'tar', 'split'))('graph copy between store kinds', () => {
  let work: string;
  let built: MultiPlatformLayout;
  let source: RunningRegistry;
  let dest: RunningRegistry;
  let tarFile: string;
  let partsFirst: string;
  const opened: OpenedStore<Store>[] = [];

  const open = async (ref: string) => {
    const s = await openStore(ref, { plainHttp: true, retry: FAST_RETRY });
    opened.push(s);
    return s;
  };

  /** Each kind of source, holding the same index under a name its kind uses. */
  const sources: Record<string, () => Promise<{ store: OpenedStore<Store>; root: string }>> = {
    registry: async () => ({ store: await open(`oci://${source.host}/images/multi:1.0`), root: '1.0' }),
    layout: async () => ({ store: await open(`oci-layout:${built.dir}`), root: built.ref }),
    'bundle tar': async () => ({ store: await open(`oci-layout:${tarFile}`), root: built.ref }),
    'split bundle': async () => ({ store: await open(`oci-layout:${partsFirst}`), root: built.ref }),
  };

  beforeAll(async () => {
    work = await tmpDir('copy-matrix-');
    built = await buildMultiPlatformLayout(join(work, 'umoci'));
    [source, dest] = await Promise.all([startRegistry(), startRegistry()]);
    // The registry source is seeded by skopeo, not by us.
    await runOk('skopeo', ['copy', '--all', '--dest-tls-verify=false', `oci:${built.dir}:${built.ref}`, `docker://${source.host}/images/multi:1.0`]);
    tarFile = join(work, 'bundle.tar');
    await runOk('tar', ['-cf', tarFile, '-C', built.dir, '.']);
    const partsDir = join(work, 'parts');
    await mkdir(partsDir);
    await runOk('split', ['-b', '2048', '-d', '-a', '3', '--numeric-suffixes=1', tarFile, join(partsDir, 'bundle.tar.part-')]);
    partsFirst = join(partsDir, 'bundle.tar.part-001');
    expect((await readdir(partsDir)).length).toBeGreaterThan(2);
  });

  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await Promise.all([source?.stop(), dest?.stop()]);
  });

  for (const from of Object.keys(sources)) {
    it(`${from} -> registry keeps the index digest, and skopeo pulls every platform`, async () => {
      const { store: src, root } = await sources[from]!();
      const repo = `copied/${from.replace(' ', '-')}`;
      const dst = await open(`oci://${dest.host}/${repo}`);
      const r = await copy(src, dst, root, { tag: 'v1' });
      expect(r.root.digest).toBe(built.index.digest);
      // Index, 2 manifests, 2 configs, 2 layers.
      expect(r.uploaded).toBe(7);
      expect((await dst.resolve('v1'))?.digest).toBe(built.index.digest);
      const raw = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${dest.host}/${repo}:v1`]);
      expect(raw.stdout).toBe(built.index.bytes.toString('utf8'));
      const out = join(work, `pulled-${from.replace(' ', '-')}`);
      await runOk('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${dest.host}/${repo}:v1`, `dir:${out}`]);
      for (const i of built.images) expect((await stat(join(out, `${i.manifest.digest.slice(7)}.manifest.json`))).isFile()).toBe(true);

      // Again: everything is there, nothing moves, the tag still points at the index.
      const again = await copy(src, dst, root, { tag: 'v1' });
      expect(again.bytes).toBe(built.index.size); // the tag is set by PUTting the index bytes again
      expect(again.uploaded).toBe(1);
    });

    it(`${from} -> layout keeps the index digest, and skopeo reads it as an OCI layout`, async () => {
      const { store: src, root } = await sources[from]!();
      const dir = join(work, `layout-${from.replace(' ', '-')}`);
      const dst = await open(`oci-layout:${dir}`);
      const r = await copy(src, dst, root, { tag: 'multi:v1' });
      expect(r.root.digest).toBe(built.index.digest);
      await dst.close();
      const raw = await runOk('skopeo', ['inspect', '--raw', `oci:${dir}:multi:v1`]);
      expect(raw.stdout).toBe(built.index.bytes.toString('utf8'));
      await runOk('skopeo', ['copy', '--all', `oci:${dir}:multi:v1`, `dir:${join(work, `read-${from.replace(' ', '-')}`)}`]);
    });
  }

  it('mounts blobs from another repository of the same registry instead of uploading them', async () => {
    const src = await open(`oci://${source.host}/images/multi:1.0`);
    const dst = await open(`oci://${source.host}/elsewhere/multi`);
    await source.clearRequests();
    const r = await copy(src, dst, { tag: '1.0' });
    expect(r.root.digest).toBe(built.index.digest);
    expect(r.mounted).toBe(4); // 2 configs + 2 layers
    const requests = await source.requests();
    expect(requests.filter((q) => q.method === 'POST' && q.url.includes('mount=') && q.status === 201)).toHaveLength(4);
    expect(requests.some((q) => q.method === 'GET' && q.path.includes('/blobs/'))).toBe(false);
  });

  it('a bundle store is read-only', async () => {
    const { store } = await sources['bundle tar']!();
    const layer = await open(`oci-layout:${built.dir}`);
    const d = (await layer.resolve(built.ref))!;
    await expect(store.push(d, async () => (async function* () {})())).resolves.toMatchObject({ how: 'exists' });
    await expect(store.tag(d, 'other')).rejects.toThrow(/read-only/);
  });

  for (const fault of ['truncate', 'corrupt'] as Fault[]) {
    it(`a ${fault === 'truncate' ? 'truncated' : 'lying'} blob stream is refused, and nothing is tagged`, async () => {
      const layer = built.images[1]!;
      const layerManifest = JSON.parse(
        (await runOk('skopeo', ['inspect', '--raw', `oci:${built.dir}:img-arm64`])).stdout,
      ) as { layers: Array<{ digest: string }> };
      const bad = layerManifest.layers[0]!.digest;
      const proxy = await startFaultProxy(source.baseUrl, ({ method, path }) => (method === 'GET' && path.endsWith(`/blobs/${bad}`) ? fault : undefined));
      try {
        const src = await open(`oci://${proxy.host}/images/multi:1.0`);
        const toRegistry = await open(`oci://${dest.host}/refused/${fault}`);
        const err = await copy(src, toRegistry, { tag: 'v1' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ChartMirrorError);
        // A body cut short is a network failure; a body of the right length that lies is a digest failure.
        expect((err as ChartMirrorError).code).toBe(fault === 'truncate' ? 'NETWORK' : 'DIGEST');
        expect((err as ChartMirrorError).message).toContain(bad);
        expect(await toRegistry.resolve('v1')).toBeUndefined();
        expect(await toRegistry.exists({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: bad, size: 1 })).toBe(false);
        expect(await toRegistry.exists({ ...layer.manifest })).toBe(false);

        const dir = join(work, `refused-${fault}`);
        const toLayout = await open(`oci-layout:${dir}`);
        await expect(copy(src, toLayout, { tag: 'multi:v1' })).rejects.toThrow(fault === 'truncate' ? /reading failed after \d+ of \d+ bytes: connection closed by the server/ : /content does not match its digest/);
        expect(await toLayout.tags()).toEqual([]);
        const blobs = await readdir(join(dir, 'blobs', 'sha256')).catch(() => [] as string[]);
        expect(blobs).not.toContain(bad.slice(7));
        expect(blobs.filter((n) => n.startsWith('.tmp-'))).toEqual([]);
        expect(proxy.injected()[fault]).toBeGreaterThanOrEqual(2); // the whole transfer was retried once
      } finally {
        await proxy.stop();
      }
    });
  }

  it('names what is missing when the root is not there', async () => {
    const src = await open(`oci-layout:${built.dir}`);
    const dst = await open(`oci-layout:${join(work, 'never')}`);
    const e = await copy(src, dst, 'nope:1').catch((x: unknown) => x);
    expect((e as ChartMirrorError).code).toBe('NOT_FOUND');
    expect((await run('ls', [join(work, 'never')])).code).not.toBe(0); // a lazily opened layout stays unmade
  });
});
