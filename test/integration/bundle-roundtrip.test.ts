import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { CLI, chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { run, runOk } from '../support/exec.js';
import { makeGpgKey, type GpgKey } from '../support/gpg.js';
import { runHelm } from '../support/helm.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
type Report = { items: ReportItem[]; summary: Record<string, number> };
type Listing = { charts: Array<{ chart: string; version: string; tag: string; digest: string; provenance?: string; url?: string; source: string }>; incremental?: { leftOut: number }; totals: { charts: number } };

/**
 * The air-gap round trip against real parts: nginx serving a helm-made repository (one chart
 * signed with gpg), export into a bundle, import into the distribution registry, helm pulling
 * the result, and the incremental leg back through the state file.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx', 'gpg', 'openssl', 'tar', 'sha256sum'))('bundles: export, inspect, import', () => {
  let work: string;
  let repoDir: string;
  let key: GpgKey;
  let server: StaticServer;
  let registry: RunningRegistry;
  let config: string;
  let env: Record<string, string>;
  let bundle: string;
  let exported: { code: number; stderr: string };

  const CHARTS = [
    ['alpha', '1.0.0'],
    ['alpha', '1.1.0'],
    ['beta', '0.1.0+build.7'],
    ['signed', '1.0.0'],
  ] as const;

  const basic = () => ({ username: registry.username!, password: registry.password! });
  const importArgs = (from: string, path: string, ...extra: string[]) => [
    'import', '--from', from, '--to', registry.oci(path), '--plain-http', '--username', registry.username!, '--password-stdin', ...extra,
  ];
  /** The CLI with the registry password on stdin (--password-stdin). */
  const runImport = (args: string[]) =>
    run(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, NO_COLOR: '1' }, input: registry.password, timeoutMs: 60_000 });

  beforeAll(async () => {
    work = await tmpDir('bundle-it-');
    repoDir = join(work, 'repo');
    key = await makeGpgKey(join(work, 'gpg'));
    for (const [name, version] of CHARTS) {
      await packageChart(repoDir, { name, version }, name === 'signed' ? { sign: key } : {});
    }
    await indexRepo(repoDir);
    server = await startStaticServer({ root: repoDir });
    registry = await startRegistry({ auth: 'htpasswd' });
    env = { REG_PASSWORD: registry.password! };
    config = await writeConfig(work, {
      sources: [{ name: 'classic', url: server.url, verify: { keyring: key.keyringFile } }],
      targets: [
        { name: 'direct', url: registry.oci('direct'), plainHttp: true, auth: { username: registry.username, password: '${REG_PASSWORD}' } },
        { name: 'disk', layout: './synced' },
      ],
    });
    bundle = join(work, 'out', 'bundle.tar');
    exported = await chartmirror(['export', '--config', config, '--to', bundle, '--report', join(work, 'export.json')], { env });
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it('exports every chart version into one tar and leaves no staging behind', async () => {
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/bundle: .*bundle\.tar: 4 chart versions, 13 blobs/);
    const report = JSON.parse(await readFile(join(work, 'export.json'), 'utf8')) as Report;
    expect(report.items.map((i) => `${i.chart} ${i.version} ${i.target} ${i.status}`).sort()).toEqual(
      CHARTS.map(([n, v]) => `${n} ${v} bundle pushed`).sort(),
    );
    expect((await readdir(join(work, 'out'))).sort()).toEqual(['SHA256SUMS', 'bundle.tar']);
    await runOk('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(work, 'out') });
  });

  it('writes the same bytes when run again', async () => {
    const again = join(work, 'again', 'bundle.tar');
    const second = await chartmirror(['export', '--config', config, '--to', again], { env });
    expect(second.code, second.stderr).toBe(0);
    expect(sha256(await readFile(again))).toBe(sha256(await readFile(bundle)));
  });

  it('is an OCI image layout other tools can read: GNU tar lists and unpacks it', async () => {
    const listed = (await runOk('tar', ['-tvf', bundle])).stdout.trim().split('\n');
    const names = listed.map((l) => l.split(/\s+/).pop());
    expect(names.slice(0, 5)).toEqual(['oci-layout', 'index.json', 'chartmirror-bundle.json', 'blobs/', 'blobs/sha256/']);
    expect(listed.every((l) => l.includes('0/0') && l.includes('1970-01-01'))).toBe(true);
    const dir = join(work, 'unpacked');
    await mkdir(dir);
    await runOk('tar', ['-xf', bundle, '-C', dir]);
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([
      'alpha:1.0.0', 'alpha:1.1.0', 'beta:0.1.0_build.7', 'signed:1.0.0',
    ]);
    const blobs = await readdir(join(dir, 'blobs', 'sha256'));
    expect(blobs).toHaveLength(13);
    for (const b of blobs) expect(sha256(await readFile(join(dir, 'blobs', 'sha256', b)))).toBe(b);
    // The chart layer is the archive nginx served, byte for byte.
    expect(blobs).toContain(sha256(await readFile(join(repoDir, 'alpha-1.0.0.tgz'))));
  });

  it('inspect prints the listing as a table and as JSON', async () => {
    const table = await chartmirror(['inspect', bundle]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/chartmirror bundle; 4 chart versions, 13 blobs/);
    expect(table.stdout).toMatch(/^CHART\s+VERSION\s+TAG\s+PROVENANCE\s+DIGEST\s+SOURCE\s+URL$/m);
    expect(table.stdout).toMatch(new RegExp(`^beta\\s+0\\.1\\.0\\+build\\.7\\s+0\\.1\\.0_build\\.7\\s+absent\\s+sha256:[a-f0-9]{64}\\s+classic\\s+${server.url}/beta-0\\.1\\.0\\+build\\.7\\.tgz$`, 'm'));
    expect(table.stdout).toMatch(/^signed\s+1\.0\.0\s+1\.0\.0\s+verified\s+sha256:/m);
    const json = await chartmirror(['inspect', bundle, '--json', '--verify']);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { listing: Listing; problems: string[]; verified: boolean };
    expect(parsed.problems).toEqual([]);
    expect(parsed.verified).toBe(true);
    expect(parsed.listing.charts.map((c) => `${c.chart}@${c.version}`)).toEqual(['alpha@1.0.0', 'alpha@1.1.0', 'beta@0.1.0+build.7', 'signed@1.0.0']);
  });

  it('imports over TLS (--tls-ca) with token authentication', async () => {
    const secure = await startRegistry({ tls: true, auth: 'token' });
    try {
      const args = (...extra: string[]) => ['import', '--from', bundle, '--to', secure.oci('tls'), '--username', secure.username!, '--password-stdin', ...extra];
      const cli = (a: string[]) => run(process.execPath, [CLI, ...a], { cwd: work, env: { ...process.env, NO_COLOR: '1' }, input: secure.password, timeoutMs: 60_000 });
      const imp = await cli(args('--tls-ca', secure.caFile!, '--state', join(work, 'state-tls')));
      expect(imp.code, imp.stderr).toBe(0);
      expect(imp.stderr).toMatch(/done: 4 pushed/);
      expect(imp.stderr).not.toContain(secure.password!);
      expect(secure.tokensIssued!().length).toBeGreaterThan(0);
      const without = await cli(args('--state', join(work, 'state-tls-2')));
      expect(without.code).toBe(1);
      expect(without.stderr).toMatch(/certificate/i);
    } finally {
      await secure.stop();
    }
  });

  describe('imported into a registry', () => {
    let imported: Report;
    let direct: Report;

    beforeAll(async () => {
      const run1 = await runImport(importArgs(bundle, 'imported', '--report', join(work, 'import1.json'), '--state-out', join(work, 'carry', 'state.json')));
      expect(run1.code, run1.stderr).toBe(0);
      expect(run1.stderr).toMatch(/far-side state: .*state\.json \(4 chart versions\)/);
      imported = JSON.parse(await readFile(join(work, 'import1.json'), 'utf8'));
      const sync = await chartmirror(['sync', '--config', config, '--report', join(work, 'sync.json')], { env });
      expect(sync.code, sync.stderr).toBe(0);
      direct = JSON.parse(await readFile(join(work, 'sync.json'), 'utf8'));
    });

    it('pushes every chart version with the digests a direct sync pushes', async () => {
      expect(imported.summary).toMatchObject({ pushed: 4, failed: 0 });
      for (const [name, version] of CHARTS) {
        const i = imported.items.find((x) => x.chart === name && x.version === version)!;
        const d = direct.items.find((x) => x.chart === name && x.version === version && x.target === 'direct')!;
        expect(i).toMatchObject({ source: 'classic', status: 'pushed', repository: `imported/${name}`, target: registry.oci('imported') });
        expect(i.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
        expect(i.digest, `${name} ${version}`).toBe(d.digest);
        // And the registry agrees, for both paths.
        const tag = version.replace('+', '_');
        const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
        const a = await simpleRequest(`${registry.baseUrl}/v2/imported/${name}/manifests/${tag}`, { basic: basic(), headers: accept });
        const b = await simpleRequest(`${registry.baseUrl}/v2/direct/${name}/manifests/${tag}`, { basic: basic(), headers: accept });
        expect(a.status).toBe(200);
        expect(a.body.equals(b.body)).toBe(true);
        expect(`sha256:${sha256(a.body)}`).toBe(i.digest);
      }
    });

    it('imports the OCI layout a sync wrote (no listing: derived from index.json)', async () => {
      const layout = join(work, 'synced');
      const inspect = await chartmirror(['inspect', layout]);
      expect(inspect.code, inspect.stderr).toBe(0);
      expect(inspect.stdout).toMatch(/OCI layout without a chartmirror listing .*; 4 chart versions/);
      const imp = await runImport(importArgs(layout, 'fromsync', '--state', join(work, 'state-sync'), '--report', join(work, 'import-sync.json')));
      expect(imp.code, imp.stderr).toBe(0);
      const r = JSON.parse(await readFile(join(work, 'import-sync.json'), 'utf8')) as Report;
      for (const i of r.items) {
        expect(i).toMatchObject({ source: 'bundle', status: 'pushed' });
        expect(i.digest).toBe(direct.items.find((d) => d.chart === i.chart && d.version === i.version && d.target === 'direct')!.digest);
      }
      expect(r.items).toHaveLength(4);
    });

    it('helm pulls the imported charts, and verifies the signed one', async () => {
      const home = await tmpDir('helm-home-');
      expect((await runHelm(3, ['registry', 'login', registry.host, '-u', registry.username!, '--password-stdin'], { home, input: registry.password })).code).toBe(0);
      const dest = await tmpDir('pull-');
      const pull = await runHelm(3, ['pull', registry.oci('imported/beta'), '--version', '0.1.0+build.7', '--plain-http', '-d', dest], { home });
      expect(pull.code, pull.stderr).toBe(0);
      expect(sha256(await readFile(join(dest, 'beta-0.1.0+build.7.tgz')))).toBe(sha256(await readFile(join(repoDir, 'beta-0.1.0+build.7.tgz'))));
      const verify = await runHelm(3, ['pull', registry.oci('imported/signed'), '--version', '1.0.0', '--plain-http', '--verify', '--keyring', key.keyringFile, '-d', dest], { home });
      expect(verify.code, verify.stderr + verify.stdout).toBe(0);
      expect(verify.stdout + verify.stderr).toMatch(/Signed by: Chartmirror Test/);
    });

    it('a second import uploads nothing: the journal knows', async () => {
      await registry.clearRequests();
      const again = await runImport(importArgs(bundle, 'imported', '--report', join(work, 'import2.json')));
      expect(again.code, again.stderr).toBe(0);
      const r = JSON.parse(await readFile(join(work, 'import2.json'), 'utf8')) as Report;
      expect(r.items.every((i) => i.status === 'present' && i.via === 'journal')).toBe(true);
      expect((await registry.requests()).filter((q) => q.method !== 'GET' && q.method !== 'HEAD')).toEqual([]);
    });

    it('writes a state file that lists what the far side holds', async () => {
      const state = JSON.parse(await readFile(join(work, 'carry', 'state.json'), 'utf8')) as { kind: string; destination: string; charts: Array<{ chart: string; version: string; digest: string }> };
      expect(state.kind).toBe('chartmirror-state');
      expect(state.destination).toBe(registry.oci('imported'));
      expect(state.charts.map((c) => `${c.chart}@${c.version}`).sort()).toEqual(CHARTS.map(([n, v]) => `${n}@${v}`).sort());
      for (const c of state.charts) expect(c.digest).toBe(imported.items.find((i) => i.chart === c.chart && i.version === c.version)!.digest);
    });

    describe('a new version upstream', () => {
      let incremental: string;
      beforeAll(async () => {
        const old = join(work, 'old-index.yaml');
        await writeFile(old, await readFile(join(repoDir, 'index.yaml')));
        await packageChart(repoDir, { name: 'alpha', version: '1.2.0' });
        await indexRepo(repoDir, { merge: old });
        incremental = join(work, 'inc', 'bundle-2.tar');
        const exp = await chartmirror(['export', '--config', config, '--to', incremental, '--since', join(work, 'carry', 'state.json'), '--report', join(work, 'export2.json')], { env });
        expect(exp.code, exp.stderr).toBe(0);
        expect(exp.stderr).toMatch(/1 chart version, 3 blobs, .*; 4 left out as already on the far side/);
      });

      it('the incremental bundle holds only the new version', async () => {
        const i = await chartmirror(['inspect', incremental, '--json']);
        const listing = (JSON.parse(i.stdout) as { listing: Listing }).listing;
        expect(listing.charts.map((c) => `${c.chart}@${c.version}`)).toEqual(['alpha@1.2.0']);
        expect(listing.incremental).toEqual({ leftOut: 4 });
        const report = JSON.parse(await readFile(join(work, 'export2.json'), 'utf8')) as Report;
        const left = report.items.filter((x) => x.status === 'excluded');
        expect(left).toHaveLength(4);
        expect(left.every((x) => x.reason === 'already on the far side (--since)')).toBe(true);
      });

      it('an earlier bundle works as --since too (for a one-way gap)', async () => {
        const fromBundle = join(work, 'inc', 'bundle-2b.tar');
        const exp = await chartmirror(['export', '--config', config, '--to', fromBundle, '--since', bundle], { env });
        expect(exp.code, exp.stderr).toBe(0);
        const listing = (JSON.parse((await chartmirror(['inspect', fromBundle, '--json'])).stdout) as { listing: Listing }).listing;
        expect(listing.charts.map((c) => `${c.chart}@${c.version}`)).toEqual(['alpha@1.2.0']);
      });

      it('imports the increment and the state grows to hold everything', async () => {
        const imp = await runImport(importArgs(incremental, 'imported', '--report', join(work, 'import3.json'), '--state-out', join(work, 'carry', 'state.json')));
        expect(imp.code, imp.stderr).toBe(0);
        const r = JSON.parse(await readFile(join(work, 'import3.json'), 'utf8')) as Report;
        expect(r.items.map((x) => `${x.chart}@${x.version} ${x.status}`)).toEqual(['alpha@1.2.0 pushed']);
        const state = JSON.parse(await readFile(join(work, 'carry', 'state.json'), 'utf8')) as { charts: unknown[] };
        expect(state.charts).toHaveLength(5);
        const tags = await simpleRequest(`${registry.baseUrl}/v2/imported/alpha/tags/list`, { basic: basic() });
        expect(tags.json<{ tags: string[] }>().tags.sort()).toEqual(['1.0.0', '1.1.0', '1.2.0']);
      });

      it('splits a bundle into parts that reassemble into the same tar, and imports from the first part', async () => {
        const whole = join(work, 'whole', 'b.tar');
        const split = join(work, 'split', 'b.tar');
        expect((await chartmirror(['export', '--config', config, '--to', whole], { env })).code).toBe(0);
        const cut = await chartmirror(['export', '--config', config, '--to', split, '--split', '8K'], { env });
        expect(cut.code, cut.stderr).toBe(0);
        const parts = (await readdir(join(work, 'split'))).filter((n) => n.startsWith('b.tar.part-')).sort();
        expect(parts.length).toBeGreaterThan(3);
        expect(parts[0]).toBe('b.tar.part-001');
        const sizes = await Promise.all(parts.map(async (p) => (await readFile(join(work, 'split', p))).length));
        expect(sizes.slice(0, -1).every((s) => s === 8192)).toBe(true);
        const joined = Buffer.concat(await Promise.all(parts.map((p) => readFile(join(work, 'split', p)))));
        expect(joined.equals(await readFile(whole))).toBe(true);
        const sums = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(work, 'split') });
        expect(sums.code, sums.stderr).toBe(0);
        expect(sums.stdout.trim().split('\n')).toHaveLength(parts.length);

        const inspect = await chartmirror(['inspect', join(work, 'split', 'b.tar.part-001')]);
        expect(inspect.stdout).toMatch(new RegExp(`in ${parts.length} parts; 5 chart versions`));
        const imp = await runImport(importArgs(join(work, 'split', 'b.tar.part-001'), 'fromparts', '--state', join(work, 'state-parts'), '--report', join(work, 'import4.json')));
        expect(imp.code, imp.stderr).toBe(0);
        const r = JSON.parse(await readFile(join(work, 'import4.json'), 'utf8')) as Report;
        expect(r.summary).toMatchObject({ pushed: 5, failed: 0 });
        const three = await chartmirror(['export', '--config', config, '--to', split, '--split', '64K'], { env });
        expect(three.code, three.stderr).toBe(0);
        // Fewer, larger parts: the stale ones of the first export are gone and SHA256SUMS agrees.
        const after = (await readdir(join(work, 'split'))).filter((n) => n.startsWith('b.tar'));
        expect(after).toEqual(['b.tar.part-001']);
        expect((await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(work, 'split') })).code).toBe(0);
      });

      it('exports to a directory and imports a GNU-tar repack of it', async () => {
        const dir = join(work, 'layout-out');
        const exp = await chartmirror(['export', '--config', config, '--to', dir], { env });
        expect(exp.code, exp.stderr).toBe(0);
        expect((await readdir(dir)).sort()).toEqual(['blobs', 'chartmirror-bundle.json', 'index.json', 'oci-layout']);
        const repacked = join(work, 'repacked.tar');
        await runOk('tar', ['-C', dir, '-cf', repacked, '.']);
        const fromDir = await runImport(importArgs(dir, 'fromdir', '--state', join(work, 'state-dir'), '--report', join(work, 'import5.json')));
        expect(fromDir.code, fromDir.stderr).toBe(0);
        const fromTar = await runImport(importArgs(repacked, 'fromrepack', '--state', join(work, 'state-repack'), '--report', join(work, 'import6.json')));
        expect(fromTar.code, fromTar.stderr).toBe(0);
        const a = JSON.parse(await readFile(join(work, 'import5.json'), 'utf8')) as Report;
        const b = JSON.parse(await readFile(join(work, 'import6.json'), 'utf8')) as Report;
        expect(a.summary).toMatchObject({ pushed: 5 });
        expect(b.items.map((i) => i.digest)).toEqual(a.items.map((i) => i.digest));
      });
    });
  });
});
