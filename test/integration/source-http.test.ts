import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { simpleRequest } from '../support/http.js';
import { craftRepo, type CraftedChart } from './registry-helpers.js';
import { sha256Hex } from '../../src/util/digest.js';

type IndexDoc = { entries: Record<string, Array<{ version: string; urls: string[]; digest: string }>> };

/** How sources are read over HTTP, against real nginx. */
describe.skipIf(!haveBinaries('nginx'))('reading a classic repository over HTTP', () => {
  let work: string;
  let charts: CraftedChart[];
  let server: StaticServer;

  beforeAll(async () => {
    work = await tmpDir('source-http-');
    charts = await craftRepo(join(work, 'repo'), [['app', '1.0.0'], ['app', '2.0.0'], ['lib', '0.1.0']]);
    const indexFile = join(work, 'repo', 'index.yaml');
    const index = yaml.load(await readFile(indexFile, 'utf8')) as IndexDoc;
    // app 2.0.0: the first URL is gone, the second serves it.
    const v2 = index.entries.app!.find((e) => e.version === '2.0.0')!;
    v2.urls = ['gone/app-2.0.0.tgz', ...v2.urls];
    await writeFile(indexFile, yaml.dump(index));
    // gzip: .tgz files go out with Content-Encoding: gzip, as misconfigured servers do.
    server = await startStaticServer({ root: join(work, 'repo'), gzip: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('stores archives exactly as served (no content decoding), tries the next URL, keeps the query string', async () => {
    // The server really does send archives with Content-Encoding: gzip.
    const probe = await simpleRequest(`${server.url}/app-1.0.0.tgz`, { headers: { 'accept-encoding': 'gzip' } });
    expect(probe.headers['content-encoding']).toBe('gzip');
    const dir = await tmpDir('source-http-run-');
    const cfg = await writeConfig(dir, {
      sources: [{ name: 'web', url: `${server.url}/?token=abc` }],
      targets: [{ name: 'disk', layout: './out' }],
    });
    await server.clearRequests();
    const r = await chartmirror(['sync', '--config', cfg, '--report', join(dir, 'report.json')]);
    expect(r.code, r.stderr).toBe(0);
    const items = (JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as { items: ReportItem[] }).items;
    expect(items.map((i) => `${i.chart}@${i.version}:${i.status}`).sort()).toEqual(['app@1.0.0:pushed', 'app@2.0.0:pushed', 'lib@0.1.0:pushed']);
    // The archive in the layout is the file on the server, byte for byte (its digest matched the index).
    const layoutIndex = JSON.parse(await readFile(join(dir, 'out', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifests = await Promise.all(
      layoutIndex.manifests.map(async (m) => JSON.parse(await readFile(join(dir, 'out', 'blobs', 'sha256', m.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> }),
    );
    const layerDigests = new Set(manifests.flatMap((m) => m.layers.map((l) => l.digest)));
    for (const c of charts) expect(layerDigests.has(`sha256:${sha256Hex(c.bytes)}`), c.file).toBe(true);
    const requests = await server.requests();
    // Every request carries the repository's query string; the missing first URL was tried first.
    expect(requests.every((q) => q.url.endsWith('?token=abc'))).toBe(true);
    expect(requests.some((q) => q.path === '/gone/app-2.0.0.tgz' && q.status === 404)).toBe(true);
    // The report does not repeat the query string (it may hold a secret).
    expect(JSON.stringify(items)).not.toContain('token=abc');
  });
});
