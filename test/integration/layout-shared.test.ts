/**
 * One OCI layout, two writers (issue 14, item 2): two chartmirror processes with different
 * configs and state directories push into the same layout directory at the same time. Both
 * have read index.json before either writes (their downloads are held at the fault proxy until
 * both are in flight), so a writer that rewrote index.json from the copy it loaded would drop
 * the other's refs. skopeo and umoci, independent OCI clients, then read what landed.
 */
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { CLI, writeConfig } from '../support/cli.js';
import { runOk } from '../support/exec.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { copy } from '../../src/content/copy.js';
import { OciLayout } from '../../src/content/layout.js';
import { MemoryStore } from '../../src/content/memory.js';
import { craftRepo } from './registry-helpers.js';

const ALPHA = Array.from({ length: 30 }, (_, i): [string, string] => [`alpha-${String(i).padStart(2, '0')}`, '1.0.0']);
const BETA = Array.from({ length: 16 }, (_, i): [string, string] => [`beta-${String(i).padStart(2, '0')}`, '1.0.0']);

function run(args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stderr: Buffer.concat(err).toString() })));
}

type IndexJson = { manifests: Array<{ digest: string; annotations: Record<string, string> }> };

describe.skipIf(!haveBinaries('nginx', 'skopeo', 'umoci'))('one OCI layout, two runs at once', () => {
  let work: string;
  let server: StaticServer;
  let proxy: FaultProxy;
  let holding = true;

  beforeAll(async () => {
    work = await tmpDir('layout-shared-');
    await craftRepo(join(work, 'repo'), [...ALPHA, ...BETA]);
    server = await startStaticServer({ root: join(work, 'repo') });
    proxy = await startFaultProxy(server.url, (req) => (holding && req.path.endsWith('.tgz') ? 'hold' : undefined));
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  it('keeps every ref of both runs, and of what was there before; skopeo and umoci read them', async () => {
    const layout = join(work, 'shared-oci');
    // Already there before either run: must survive both.
    const seed = await OciLayout.open(layout);
    const store = new MemoryStore();
    const layer = store.add('application/octet-stream', Buffer.from('seed'));
    const config = store.add('application/vnd.oci.image.config.v1+json', Buffer.from('{}'));
    const root = store.add('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] })));
    await copy(store, seed.repository('seed'), root, { tag: '1' });
    await seed.close();

    const configs = await Promise.all(
      (['alpha', 'beta'] as const).map(async (name) =>
        writeConfig(work, {
          sources: [{ name, url: proxy.url, charts: { include: [`${name}-*`] } }],
          targets: [{ name: 'disk', layout }],
          state: `./state-${name}`,
        }, `${name}.yaml`),
      ),
    );
    const runs = configs.map((c) => run(['sync', '--config', c, '--concurrency', '4'], work));
    // Both runs have read index.json and are downloading: only now may either write.
    const held = (prefix: string) => proxy.log().some((r) => r.fault === 'hold' && r.path.startsWith(`/${prefix}-`));
    await waitFor(() => held('alpha') && held('beta'), { what: 'both runs to be downloading', timeoutMs: 30_000 });
    holding = false;
    proxy.release();
    const [a, b] = await Promise.all(runs);
    expect(a!.code, a!.stderr).toBe(0);
    expect(b!.code, b!.stderr).toBe(0);
    expect(a!.stderr).toMatch(/done: 30 pushed/);
    expect(b!.stderr).toMatch(/done: 16 pushed/);

    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as IndexJson;
    const refs = index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort();
    expect(refs).toEqual(['seed:1', ...[...ALPHA, ...BETA].map(([n, v]) => `${n}:${v}`)].sort());
    expect(new Set(index.manifests.map((m) => m.digest)).size).toBe(47);
    expect((await readdir(layout)).filter((n) => n !== 'blobs').sort()).toEqual(['index.json', 'oci-layout']);

    // umoci lists every ref; skopeo reads the manifest of the first and last of each run, and
    // copies one chart out of the layout (every blob read and checked against its digest).
    const listed = (await runOk('umoci', ['ls', '--layout', layout])).stdout.trim().split('\n').sort();
    expect(listed).toEqual(refs);
    for (const ref of ['alpha-00:1.0.0', 'alpha-29:1.0.0', 'beta-00:1.0.0', 'beta-15:1.0.0']) {
      const raw = JSON.parse((await runOk('skopeo', ['inspect', '--raw', `oci:${layout}:${ref}`])).stdout) as { layers: Array<{ mediaType: string }> };
      expect(raw.layers[0]!.mediaType).toBe('application/vnd.cncf.helm.chart.content.v1.tar+gzip');
    }
    await runOk('skopeo', ['copy', `oci:${layout}:beta-15:1.0.0`, `oci:${join(work, 'copied')}:beta-15`]);
    expect((await runOk('umoci', ['ls', '--layout', join(work, 'copied')])).stdout.trim()).toBe('beta-15');

    // A rerun of either finds everything it pushed, from its own journal and at the layout.
    const again = await run(['sync', '--config', configs[1]!], work);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/done: 0 pushed, 16 present/);
  }, 90_000);
});
