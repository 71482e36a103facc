import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { packageChart, indexRepo } from '../support/charts.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { chartYaml, craftTgz } from '../support/craft.js';
import { runHelm } from '../support/helm.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { sha256Hex } from '../../src/util/digest.js';

type IndexDoc = { apiVersion: string; entries: Record<string, Array<Record<string, unknown>>> };

/**
 * The spine of chartmirror against real parts: nginx serving a classic repository made by real
 * helm, the CNCF distribution registry with htpasswd auth, and helm 3 and 4 reading the result.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('sync: classic repository -> registry and layout', () => {
  let work: string;
  let repoDir: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  let config: string;
  let env: Record<string, string>;
  let first: { code: number; stdout: string; stderr: string };
  let report: { items: ReportItem[]; summary: Record<string, number> };

  const GOOD = [
    ['alpha', '1.0.0'],
    ['alpha', '1.1.0'],
    ['beta', '0.1.0+build.7'],
    ['beta', '0.2.0-rc.1'],
  ] as const;

  beforeAll(async () => {
    work = await tmpDir('sync-it-');
    repoDir = join(work, 'repo');
    for (const [name, version] of GOOD) await packageChart(repoDir, { name, version });
    // Archives that must fail, each for its own reason.
    const digestBad = await packageChart(repoDir, { name: 'digestbad', version: '1.0.0' });
    await packageChart(repoDir, { name: 'missing', version: '1.0.0' });
    await indexRepo(repoDir);
    // Added after indexing: helm repo index would list them under their real names.
    const renamedFrom = await packageChart(join(work, 'other'), { name: 'othername', version: '1.0.0' });
    await copyFile(renamedFrom, join(repoDir, 'namebad-1.0.0.tgz'));
    await writeFile(join(repoDir, 'corrupt-1.0.0.tgz'), Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0]), Buffer.from('not really gzip at all')]));
    await writeFile(
      join(repoDir, 'traversal-1.0.0.tgz'),
      craftTgz([
        { name: 'traversal/Chart.yaml', data: chartYaml('traversal', '1.0.0') },
        { name: 'traversal/../../evil.yaml', data: 'x: 1\n' },
      ]),
    );
    const index = yaml.load(await readFile(join(repoDir, 'index.yaml'), 'utf8')) as IndexDoc;
    const add = (name: string, file: string, extra: Record<string, unknown> = {}) => {
      index.entries[name] = [
        { apiVersion: 'v2', name, version: '1.0.0', urls: [file], created: '2024-05-01T10:20:30.123456789+02:00', ...extra },
      ];
    };
    index.entries.digestbad![0]!.digest = sha256Hex('something else');
    add('namebad', 'namebad-1.0.0.tgz', { digest: sha256Hex(await readFile(join(repoDir, 'namebad-1.0.0.tgz'))) });
    add('corrupt', 'corrupt-1.0.0.tgz', { digest: sha256Hex(await readFile(join(repoDir, 'corrupt-1.0.0.tgz'))) });
    add('traversal', 'traversal-1.0.0.tgz');
    await writeFile(join(repoDir, 'index.yaml'), yaml.dump(index));
    await rm(join(repoDir, 'missing-1.0.0.tgz'));
    expect(digestBad).toContain('digestbad-1.0.0.tgz');

    server = await startStaticServer({ root: repoDir });
    registry = await startRegistry({ auth: 'htpasswd' });
    env = { REG_PASSWORD: registry.password! };
    config = await writeConfig(work, {
      sources: [{ name: 'classic', url: server.url }],
      targets: [
        { name: 'registry', url: registry.oci('mirror'), plainHttp: true, auth: { username: registry.username, password: '${REG_PASSWORD}' } },
        { name: 'disk', layout: './out/oci' },
      ],
    });
    first = await chartmirror(['sync', '--config', config, '--report', join(work, 'report1.json')], { env });
    report = JSON.parse(await readFile(join(work, 'report1.json'), 'utf8'));
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  const item = (chart: string, target: string) => report.items.find((i) => i.chart === chart && i.target === target)!;

  it('exits 1 because some versions failed, and still mirrors all the others', () => {
    expect(first.code, first.stderr).toBe(1);
    for (const [name, version] of GOOD) {
      for (const target of ['registry', 'disk']) {
        const i = report.items.find((x) => x.chart === name && x.version === version && x.target === target);
        expect(i, `${name} ${version} ${target}`).toMatchObject({ status: 'pushed' });
        expect(i!.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      }
    }
    expect(report.summary).toMatchObject({ pushed: 8, failed: 10 });
  });

  it('fails each bad archive with its own reason', () => {
    const reasons = {
      digestbad: /archive digest mismatch/,
      namebad: /Chart\.yaml name "othername" does not match the index name "namebad"/,
      missing: /404 not found/,
      corrupt: /gzip|corrupt|invalid/i,
      traversal: /outside the chart|illegal|\.\./,
    };
    const seen = new Set<string>();
    for (const [chart, re] of Object.entries(reasons)) {
      for (const target of ['registry', 'disk']) {
        const i = item(chart, target);
        expect(i.status, chart).toBe('failed');
        expect(i.reason, chart).toMatch(re);
        expect(i.digest).toBeNull();
      }
      seen.add(item(chart, 'registry').reason!);
    }
    expect(seen.size).toBe(5);
  });

  it('pushes nothing for failed versions, to either target', async () => {
    const basic = { username: registry.username!, password: registry.password! };
    for (const chart of ['digestbad', 'namebad', 'missing', 'corrupt', 'traversal', 'othername']) {
      const res = await simpleRequest(`${registry.baseUrl}/v2/mirror/${chart}/tags/list`, { basic });
      expect(res.status, chart).toBe(404);
    }
    const layoutIndex = JSON.parse(await readFile(join(work, 'out', 'oci', 'index.json'), 'utf8'));
    const refs: string[] = layoutIndex.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']);
    expect(refs.sort()).toEqual(['alpha:1.0.0', 'alpha:1.1.0', 'beta:0.1.0_build.7', 'beta:0.2.0-rc.1']);
  });

  it('pushes the same manifest to the registry and the layout, tagged with + as _', async () => {
    expect(item('alpha', 'registry').digest).toBe(item('alpha', 'disk').digest);
    const res = await simpleRequest(`${registry.baseUrl}/v2/mirror/beta/tags/list`, {
      basic: { username: registry.username!, password: registry.password! },
    });
    expect(res.json<{ tags: string[] }>().tags.sort()).toEqual(['0.1.0_build.7', '0.2.0-rc.1']);
  });

  it('prints no stack trace and no password', () => {
    expect(first.stderr).not.toMatch(/\n\s+at /);
    expect(first.stderr + first.stdout).not.toContain(registry.password!);
  });

  it.each([3, 4] as const)('helm %i pulls, shows and templates the mirrored charts', async (major) => {
    const home = await tmpDir(`helm${major}-`);
    const login = ['registry', 'login', registry.host, '-u', registry.username!, '--password-stdin'];
    if (major === 4) login.push('--plain-http');
    expect((await runHelm(major, login, { home, input: registry.password })).code).toBe(0);
    const dest = await tmpDir('pull-');
    const pull = await runHelm(major, ['pull', registry.oci('mirror/beta'), '--version', '0.1.0+build.7', '--plain-http', '-d', dest], { home });
    expect(pull.code, pull.stderr).toBe(0);
    const show = await runHelm(major, ['show', 'chart', registry.oci('mirror/alpha'), '--version', '1.1.0', '--plain-http'], { home });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^name: alpha$/m);
    expect(show.stdout).toMatch(/^version: 1\.1\.0$/m);
    const tpl = await runHelm(major, ['template', 'rel', registry.oci('mirror/alpha'), '--version', '1.0.0', '--plain-http'], { home });
    expect(tpl.code, tpl.stderr).toBe(0);
    expect(tpl.stdout).toContain('kind: Deployment');
    // The archive that arrives is the archive that was served, byte for byte.
    const pulled = await readFile(join(dest, 'beta-0.1.0+build.7.tgz'));
    expect(sha256Hex(pulled)).toBe(sha256Hex(await readFile(join(repoDir, 'beta-0.1.0+build.7.tgz'))));
  });

  it('a second run reports everything present and uploads nothing', async () => {
    await registry.clearRequests();
    const again = await chartmirror(['sync', '--config', config, '--report', join(work, 'report2.json')], { env });
    expect(again.code).toBe(1); // the bad archives still fail
    const r2 = JSON.parse(await readFile(join(work, 'report2.json'), 'utf8')) as { items: ReportItem[] };
    for (const i of r2.items.filter((x) => GOOD.some(([n]) => n === x.chart))) {
      expect(i.status).toBe('present');
      expect(i.digest).toBe(report.items.find((x) => x.chart === i.chart && x.version === i.version && x.target === i.target)!.digest);
    }
    const writes = (await registry.requests()).filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method));
    expect(writes).toEqual([]);
  });

  it('without its journal, finds what the registry holds and still uploads nothing', async () => {
    await rm(join(work, '.chartmirror'), { recursive: true, force: true });
    await rm(join(work, 'out'), { recursive: true, force: true });
    await registry.clearRequests();
    const again = await chartmirror(['sync', '--config', config, '--report', join(work, 'report3.json')], { env });
    expect(again.code).toBe(1);
    const r3 = JSON.parse(await readFile(join(work, 'report3.json'), 'utf8')) as { items: ReportItem[] };
    const good = r3.items.filter((x) => GOOD.some(([n]) => n === x.chart));
    expect(good.filter((i) => i.target === 'registry').every((i) => i.status === 'present' && i.via === 'target')).toBe(true);
    expect(good.filter((i) => i.target === 'disk').every((i) => i.status === 'pushed')).toBe(true);
    const requests = await registry.requests();
    expect(requests.filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))).toEqual([]);
    // One tag listing per chart, not one request per version.
    const listings = requests.filter((r) => r.path.endsWith('/tags/list') && r.status === 200);
    expect(listings.map((r) => r.path).sort()).toEqual(['/v2/mirror/alpha/tags/list', '/v2/mirror/beta/tags/list']);
  });

  it('fails a tag that holds different content unless onConflict: overwrite', async () => {
    // Point alpha:1.0.0 at alpha:1.1.0's manifest behind chartmirror's back.
    const basic = { username: registry.username!, password: registry.password! };
    const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    const m = await simpleRequest(`${registry.baseUrl}/v2/mirror/alpha/manifests/1.1.0`, { basic, headers: accept });
    const put = await simpleRequest(`${registry.baseUrl}/v2/mirror/alpha/manifests/1.0.0`, {
      method: 'PUT',
      basic,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: m.body,
    });
    expect(put.status).toBe(201);
    await rm(join(work, '.chartmirror'), { recursive: true, force: true });
    const conflicted = await chartmirror(['sync', '--config', config, '--report', join(work, 'report4.json')], { env });
    expect(conflicted.code).toBe(1);
    const r4 = JSON.parse(await readFile(join(work, 'report4.json'), 'utf8')) as { items: ReportItem[] };
    const a = r4.items.find((i) => i.chart === 'alpha' && i.version === '1.0.0' && i.target === 'registry')!;
    expect(a.status).toBe('failed');
    expect(a.reason).toMatch(/already holds sha256:[a-f0-9]{64}.*onConflict: overwrite/);

    const text = (await readFile(config, 'utf8')).replace('plainHttp: true', 'plainHttp: true\n    onConflict: overwrite');
    const overwriteConfig = await writeConfig(work, text, 'overwrite.yaml');
    const fixed = await chartmirror(['sync', '--config', overwriteConfig, '--report', join(work, 'report5.json')], { env });
    const r5 = JSON.parse(await readFile(join(work, 'report5.json'), 'utf8')) as { items: ReportItem[] };
    const b = r5.items.find((i) => i.chart === 'alpha' && i.version === '1.0.0' && i.target === 'registry')!;
    expect(b.status, fixed.stderr).toBe('pushed');
    expect(b.digest).toBe(report.items.find((i) => i.chart === 'alpha' && i.version === '1.0.0' && i.target === 'registry')!.digest);
  });

  it('a wrong password fails with an authentication message, exit 1, no stack trace', async () => {
    // A fresh state directory: the journal would otherwise answer without asking the registry.
    const run = await chartmirror(['sync', '--config', config, '--state', await tmpDir('state-')], {
      env: { REG_PASSWORD: 'wrong-password-123' },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/authentication failed/i);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stderr).not.toContain('wrong-password-123');
  });
});
