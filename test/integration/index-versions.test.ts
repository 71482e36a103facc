import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { craftTgz } from '../support/craft.js';
import { runHelm, type HelmMajor } from '../support/helm.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';

const CREATED = '2024-01-02T03:04:05Z';
const CREATED_EPOCH = Date.parse(CREATED) / 1000;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A chart archive whose Chart.yaml says exactly `chartYaml` (helm package would rewrite it). */
function chartTgz(name: string, chartYaml: string): Buffer {
  return craftTgz([
    { name: `${name}/Chart.yaml`, data: chartYaml, mtime: CREATED_EPOCH },
    { name: `${name}/values.yaml`, data: 'a: 1\n', mtime: CREATED_EPOCH },
  ]);
}

/** Write archives and an index listing them with the given `version:` text, as written. */
async function repoWith(dir: string, charts: Array<{ name: string; file: string; tgz: Buffer; versionText: string; extra?: string }>): Promise<void> {
  await mkdir(dir, { recursive: true });
  let index = 'apiVersion: v1\nentries:\n';
  for (const c of charts) {
    await writeFile(join(dir, c.file), c.tgz);
    index += `  ${c.name}:\n  - apiVersion: v2\n    name: ${c.name}\n    version: ${c.versionText}\n    urls: [${c.file}]\n    digest: ${sha256(c.tgz)}\n    created: "${CREATED}"\n${c.extra ?? ''}`;
  }
  await writeFile(join(dir, 'index.yaml'), index);
}

/**
 * Index versions that Helm reads otherwise than they look, decided with real Helm 3.17.3 and
 * 4.1.4 on a real repository (nginx) and registry: an unquoted number in the index makes Helm
 * refuse the whole index, so chartmirror refuses the source (exit 2, one line); an index that
 * quotes "1.10" for a Chart.yaml `version: 1.10` (read as 1.1) is what `helm pull` + `helm push`
 * migrate under tag 1.1, so chartmirror pushes exactly that, with a warning naming both.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('index versions as Helm reads them', () => {
  let work: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  const quoted = chartTgz('tenner', 'apiVersion: v2\nname: tenner\nversion: 1.10\ndescription: Chart.yaml says 1.10, unquoted\n');
  const octal = chartTgz('octal', 'apiVersion: v2\nname: octal\nversion: 010\n');
  const plain = chartTgz('plain', 'apiVersion: v2\nname: plain\nversion: 1.0.0\n');

  beforeAll(async () => {
    work = await tmpDir('index-versions-');
    const charts = [
      { name: 'tenner', file: 'tenner-1.10.tgz', tgz: quoted, versionText: '"1.10"' },
      { name: 'octal', file: 'octal-010.tgz', tgz: octal, versionText: '"010"' },
      { name: 'plain', file: 'plain-1.0.0.tgz', tgz: plain, versionText: '1.0.0' },
    ];
    await repoWith(join(work, 'quoted'), charts);
    for (const [dir, versionText] of [['number', '1.10'], ['octal-number', '010'], ['exponent', '1e2']] as const) {
      await repoWith(join(work, dir), [{ ...charts[0]!, versionText }, charts[2]!]);
    }
    server = await startStaticServer({ root: work });
    registry = await startRegistry();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it.each(['number', 'octal-number', 'exponent'])('an index with an unquoted %s version: Helm 3 and 4 refuse it whole, chartmirror refuses the source in one line', async (dir) => {
    for (const major of [3, 4] as HelmMajor[]) {
      const add = await runHelm(major, ['repo', 'add', 'r', `${server.url}/${dir}`]);
      expect(add.code, `helm ${major} repo add`).not.toBe(0);
      expect(add.stderr).toMatch(/cannot unmarshal number into Go struct field .*version of type string/);
    }
    const out = await tmpDir('numver-');
    const config = await writeConfig(out, {
      sources: [{ name: 'numeric', url: `${server.url}/${dir}` }],
      targets: [{ name: 'registry', url: registry.oci(`numeric-${dir}`), plainHttp: true }],
    });
    const run = await chartmirror(['sync', '--config', config, '--report', join(out, 'report.json')]);
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^chartmirror: .*numeric.*index\.yaml refused: chart "tenner" has version \S+ as a YAML number, not a string, .*quote it/);
    expect(existsSync(join(out, 'report.json'))).toBe(false);
    const catalog = (await (await fetch(`${registry.baseUrl}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories.filter((r) => r.startsWith(`numeric-${dir}`))).toEqual([]);
  });

  it('an index that quotes "1.10" for a Chart.yaml `version: 1.10`: pushed as helm pull + helm push does, tag 1.1, with a warning', async () => {
    // The migration path with real Helm: pull by the index's version, push what Chart.yaml says.
    const helmDigests: Record<string, string> = {};
    for (const [chart, version, tag] of [
      ['tenner', '1.10', '1.1'],
      ['octal', '010', '8'],
    ] as const) {
      for (const major of [3, 4] as HelmMajor[]) {
        const dest = await tmpDir('pulled-');
        const pull = await runHelm(major, ['pull', chart, '--repo', `${server.url}/quoted`, '--version', version, '-d', dest]);
        expect(pull.code, pull.stderr).toBe(0);
        const [file] = await readdir(dest);
        await utimes(join(dest, file!), CREATED_EPOCH, CREATED_EPOCH);
        const push = await runHelm(major, ['push', join(dest, file!), registry.oci(`helm${major}`), '--plain-http']);
        expect(push.code, push.stderr).toBe(0);
        expect(push.stdout + push.stderr).toContain(`helm${major}/${chart}:${tag}`);
        const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(push.stdout + push.stderr)![1]!;
        if (major === 4) expect(digest, 'Helm 3 and 4 push the same manifest').toBe(helmDigests[chart]);
        helmDigests[chart] = digest;
      }
    }

    const out = await tmpDir('quoted-');
    const config = await writeConfig(out, {
      sources: [{ name: 'quoted', url: `${server.url}/quoted` }],
      targets: [{ name: 'registry', url: registry.oci('mirror'), plainHttp: true }],
    });
    const first = await chartmirror(['sync', '--config', config, '--report', join(out, 'report.json')], { cwd: out });
    expect(first.code, first.stderr).toBe(0);
    const items = (JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as { items: ReportItem[] }).items;
    const tenner = items.find((i) => i.chart === 'tenner')!;
    expect(tenner).toMatchObject({ version: '1.10', status: 'pushed', tag: '1.1', digest: helmDigests.tenner });
    expect((tenner.warnings as string[]).join(' ')).toMatch(/index lists version "1.10", but Chart.yaml's version is the YAML number 1.10, which Helm reads as "1.1": mirrored with tag 1.1/);
    expect(items.find((i) => i.chart === 'octal')).toMatchObject({ version: '010', status: 'pushed', tag: '8', digest: helmDigests.octal });
    expect(items.find((i) => i.chart === 'plain')).toMatchObject({ status: 'pushed', tag: '1.0.0' });
    // The tag helm push would have made holds exactly that manifest; the index's own tag does not exist.
    const head = (tag: string) => fetch(`${registry.baseUrl}/v2/mirror/tenner/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect((await head('1.1')).headers.get('docker-content-digest')).toBe(helmDigests.tenner);
    expect((await head('1.10')).status).toBe(404);

    // A rerun knows it from the journal, under the tag it was pushed with.
    const again = await chartmirror(['sync', '--config', config, '--report', join(out, 'again.json')], { cwd: out });
    expect(again.code, again.stderr).toBe(0);
    const rerun = (JSON.parse(await readFile(join(out, 'again.json'), 'utf8')) as { items: ReportItem[] }).items;
    expect(rerun.find((i) => i.chart === 'tenner')).toMatchObject({ status: 'present', tag: '1.1', digest: helmDigests.tenner });

    // Helm pulls the mirrored chart by the version it reads.
    const pulled = await runHelm(4, ['show', 'chart', registry.oci('mirror/tenner'), '--version', '1.1', '--plain-http']);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toContain('version: "1.1"'); // helm show re-marshals what it read
  });
});
