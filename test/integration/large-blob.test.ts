/**
 * Streaming, measured: a blob larger than 1 GiB (generated, never kept in a file here) is
 * copied registry -> registry and registry -> OCI layout by a child process whose peak RSS must
 * stay under 200 MB. Only manifests are held whole; every byte of the blob streams through,
 * checked against its digest on the way.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/content/open.js';
import { canPushReference } from '../../src/content/store.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { bufferStream } from '../../src/content/verify.js';
import { haveBinaries } from '../support/bins.js';
import { run } from '../support/exec.js';
import { REPO_ROOT } from '../support/helm.js';
import { CLI, writeConfig } from '../support/cli.js';
import { runMeasured } from '../support/measure.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tmpDir } from '../support/tmp.js';

const MiB = 1024 * 1024;
/** Just over 1 GiB, and not a whole number of chunks. */
const SIZE = 1024 * MiB + 12_345;
const MAX_RSS_MB = 200;

/** The same bytes every time: a random-looking block with its index stamped in, repeated. */
function* generated(size: number): Generator<Buffer> {
  const block = createHash('sha512').update('chartmirror').digest();
  const unit = Buffer.alloc(MiB);
  for (let i = 0; i < unit.length; i += block.length) block.copy(unit, i);
  for (let off = 0, n = 0; off < size; off += MiB, n++) {
    const chunk = Buffer.from(unit.subarray(0, Math.min(MiB, size - off)));
    chunk.writeUInt32BE(n, 0);
    yield chunk;
  }
}

function digestOf(size: number): string {
  const h = createHash('sha256');
  for (const c of generated(size)) h.update(c);
  return `sha256:${h.digest('hex')}`;
}

describe.skipIf(!haveBinaries('docker-registry'))('a blob larger than 1 GiB streams through in bounded memory', () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  let work: string;
  let manifest: Descriptor;
  let layer: Descriptor;

  beforeAll(async () => {
    work = await tmpDir('large-blob-');
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(SIZE), size: SIZE };
    const store = await openStore(`oci://${a.host}/big/blob`, { plainHttp: true });
    try {
      await store.push(layer, async () => (async function* () { yield* generated(SIZE); })());
      const configBytes = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
      const config: Descriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${createHash('sha256').update(configBytes).digest('hex')}`, size: configBytes.length };
      await store.push(config, async () => bufferStream(configBytes));
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }));
      manifest = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, size: body.length };
      if (!canPushReference(store)) throw new Error('a registry store pushes references');
      await store.pushReference(manifest, body, 'v1');
    } finally {
      await store.close();
    }
  }, 600_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  const child = async (to: string) => {
    const r = await run(process.execPath, [join(REPO_ROOT, 'test', 'fixtures', 'copy-child.mjs'), join(REPO_ROOT, 'dist', 'index.js'), `oci://${a.host}/big/blob:v1`, to, 'v1'], {
      timeoutMs: 600_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { maxRssKiB: number; ms: number };
    process.stderr.write(`[large blob] ${to.split(':')[0]}: ${(SIZE / MiB).toFixed(0)} MiB in ${out.ms} ms, peak RSS ${Math.round(out.maxRssKiB / 1024)} MB\n`);
    return JSON.parse(r.stdout.trim()) as { ok: boolean; root: string; landed: string; bytes: number; maxRssKiB: number; message?: string };
  };

  it('registry -> registry', async () => {
    const out = await child(`oci://${b.host}/mirror/blob`);
    expect(out.ok, out.message).toBe(true);
    expect(out.root).toBe(manifest.digest);
    expect(out.landed).toBe(manifest.digest);
    expect(out.bytes).toBeGreaterThan(SIZE);
    expect(out.maxRssKiB / 1024, `peak RSS ${Math.round(out.maxRssKiB / 1024)} MB`).toBeLessThan(MAX_RSS_MB);
    // The registry checked the digest of what it stored; its size is the whole blob.
    const head = await fetch(`${b.baseUrl}/v2/mirror/blob/blobs/${layer.digest}`, { method: 'HEAD' });
    expect(Number(head.headers.get('content-length'))).toBe(SIZE);
  }, 600_000);

  it('as a container image: chartmirror sync (images.extra) keeps the CLI under the same bound', async () => {
    const cfg = await writeConfig(work, {
      sources: [],
      targets: [{ name: 'b', url: `oci://${b.host}/mirror`, plainHttp: true }],
      images: { enabled: true, extra: [`${a.host}/big/blob:v1`] },
      registries: { [a.host]: { plainHttp: true } },
    });
    const m = await runMeasured(process.execPath, [CLI, 'sync', '--config', cfg, '--quiet', '--report', join(work, 'image.json')], { cwd: work });
    expect(m.code, m.stderr).toBe(0);
    process.stderr.write(`[large blob] chartmirror sync of a 1 GiB image: ${Math.round(m.ms)} ms, peak RSS ${m.peakRssMb} MB\n`);
    expect(m.peakRssMb, `peak RSS ${m.peakRssMb} MB`).toBeLessThan(MAX_RSS_MB);
    const item = (JSON.parse(await readFile(join(work, 'image.json'), 'utf8')) as { items: Array<{ status: string; digest: string }> }).items[0]!;
    expect(item).toMatchObject({ status: 'pushed', digest: manifest.digest });
  }, 600_000);

  it('registry -> OCI layout', async () => {
    const dir = join(work, 'layout');
    const out = await child(`oci-layout:${dir}`);
    expect(out.ok, out.message).toBe(true);
    expect(out.landed).toBe(manifest.digest);
    expect(out.maxRssKiB / 1024, `peak RSS ${Math.round(out.maxRssKiB / 1024)} MB`).toBeLessThan(MAX_RSS_MB);
    expect((await stat(join(dir, 'blobs', 'sha256', layer.digest.slice(7)))).size).toBe(SIZE);
  }, 600_000);
});
