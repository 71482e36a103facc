import { createHash } from 'node:crypto';
import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { chartmirror, writeConfig } from '../support/cli.js';
import { runOk } from '../support/exec.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A bundle that is not exactly what export wrote is refused as a whole: the message names what
 * is damaged, and the registry receives nothing, so nothing is tagged.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx', 'tar'))('bundles: damaged bundles are refused', () => {
  let work: string;
  let repoDir: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  let tarBytes: Buffer;
  let dirBundle: string;
  let splitDir: string;
  let alphaArchive: string;
  let betaConfig: string;

  beforeAll(async () => {
    work = await tmpDir('bundle-damage-');
    repoDir = join(work, 'repo');
    await packageChart(repoDir, { name: 'alpha', version: '1.0.0' });
    await packageChart(repoDir, { name: 'beta', version: '1.0.0' });
    await indexRepo(repoDir);
    server = await startStaticServer({ root: repoDir });
    registry = await startRegistry();
    const config = await writeConfig(work, { sources: [{ name: 'classic', url: server.url }], targets: [{ name: 'unused', layout: './unused' }] });
    const tar = join(work, 'good', 'bundle.tar');
    dirBundle = join(work, 'good-dir');
    splitDir = join(work, 'good-split');
    for (const to of [tar, dirBundle]) {
      const r = await chartmirror(['export', '--config', config, '--to', to]);
      expect(r.code, r.stderr).toBe(0);
    }
    const s = await chartmirror(['export', '--config', config, '--to', join(splitDir, 'bundle.tar'), '--split', '4K']);
    expect(s.code, s.stderr).toBe(0);
    tarBytes = await readFile(tar);
    alphaArchive = sha256(await readFile(join(repoDir, 'alpha-1.0.0.tgz')));
    const index = JSON.parse(await readFile(join(dirBundle, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    const beta = index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'beta:1.0.0')!;
    const manifest = JSON.parse(await readFile(join(dirBundle, 'blobs', 'sha256', beta.digest.slice(7)), 'utf8')) as { config: { digest: string } };
    betaConfig = manifest.config.digest.slice(7);
    await registry.clearRequests();
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  async function refused(from: string, path: string): Promise<string> {
    const state = await tmpDir('state-');
    const r = await chartmirror(['import', '--from', from, '--to', registry.oci(path), '--plain-http', '--state', state]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/is damaged or incomplete; nothing was imported: |is incomplete: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    return r.stderr;
  }

  it('the intact bundle imports (the control)', async () => {
    const r = await chartmirror(['import', '--from', join(work, 'good', 'bundle.tar'), '--to', registry.oci('control'), '--plain-http', '--state', await tmpDir('state-')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/done: 2 pushed/);
    await registry.clearRequests();
  });

  it('a flipped byte in a chart archive', async () => {
    const at = tarBytes.indexOf(await readFile(join(repoDir, 'alpha-1.0.0.tgz')));
    expect(at).toBeGreaterThan(0);
    const bad = Buffer.from(tarBytes);
    bad[at + 100] = bad[at + 100]! ^ 0x01;
    await writeFile(join(work, 'flipped.tar'), bad);
    const err = await refused(join(work, 'flipped.tar'), 'flipped');
    expect(err).toContain(`alpha 1.0.0: chart archive sha256:${alphaArchive} does not match its digest`);
    expect(err).not.toMatch(/beta 1\.0\.0/);
    const inspect = await chartmirror(['inspect', join(work, 'flipped.tar'), '--verify']);
    expect(inspect.code).toBe(1);
    expect(inspect.stdout).toMatch(/DAMAGED: 1 problem/);
  });

  it('a missing blob, in a directory and in a tar repacked without it', async () => {
    const dir = join(work, 'missing-dir');
    await cp(dirBundle, dir, { recursive: true });
    await rm(join(dir, 'blobs', 'sha256', betaConfig));
    expect(await refused(dir, 'missing')).toContain(`beta 1.0.0: config sha256:${betaConfig} is missing`);
    const tar = join(work, 'missing.tar');
    await runOk('tar', ['-C', dir, '-cf', tar, '.']);
    expect(await refused(tar, 'missing')).toContain(`beta 1.0.0: config sha256:${betaConfig} is missing`);
  });

  it('a directory an export has not finished filling', async () => {
    const dir = join(work, 'unfinished-dir');
    await cp(dirBundle, dir, { recursive: true });
    await writeFile(join(dir, '.chartmirror-export'), '');
    expect(await refused(dir, 'unfinished')).toMatch(/an export into it has not finished/);
  });

  it('a truncated tar', async () => {
    await writeFile(join(work, 'cut.tar'), tarBytes.subarray(0, Math.floor(tarBytes.length * 0.6)));
    const err = await refused(join(work, 'cut.tar'), 'cut');
    expect(err).toMatch(/cut\.tar is truncated: /);
    // Cut short of the end marker only: still refused.
    await writeFile(join(work, 'nomarker.tar'), tarBytes.subarray(0, tarBytes.length - 1024));
    expect(await refused(join(work, 'nomarker.tar'), 'cut')).toMatch(/without the end-of-archive marker/);
  });

  it('a missing part, and a damaged part named as such', async () => {
    const parts = (await readdir(splitDir)).filter((n) => n.includes('.part-')).sort();
    expect(parts.length).toBeGreaterThan(2);
    const gone = join(work, 'gone-part');
    await cp(splitDir, gone, { recursive: true });
    await rm(join(gone, parts[1]!));
    expect(await refused(join(gone, parts[0]!), 'parts')).toMatch(/bundle\.tar\.part-002 \(listed in SHA256SUMS\) is missing/);
    await rm(join(gone, 'SHA256SUMS'));
    // Without SHA256SUMS, parts are read up to the gap: the tar then ends early.
    expect(await refused(join(gone, parts[0]!), 'parts')).toMatch(/is truncated/);

    const flipped = join(work, 'flipped-part');
    await cp(splitDir, flipped, { recursive: true });
    const joined = Buffer.concat(await Promise.all(parts.map((p) => readFile(join(splitDir, p)))));
    const at = joined.indexOf(await readFile(join(repoDir, 'alpha-1.0.0.tgz'))) + 50;
    const part = Math.floor(at / 4096);
    const bytes = await readFile(join(flipped, parts[part]!));
    bytes[at % 4096] = bytes[at % 4096]! ^ 0x80;
    await writeFile(join(flipped, parts[part]!), bytes);
    expect(await refused(join(flipped, parts[0]!), 'parts')).toContain(parts[part]!);
  });

  it('nothing reached the registry from any refused bundle', async () => {
    const writes = (await registry.requests()).filter((r) => !['GET', 'HEAD'].includes(r.method));
    expect(writes).toEqual([]);
    const catalog = await simpleRequest(`${registry.baseUrl}/v2/_catalog`);
    expect(catalog.json<{ repositories: string[] }>().repositories.sort()).toEqual(['control/alpha', 'control/beta']);
  });
});
