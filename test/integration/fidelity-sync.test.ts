import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { runHelm, type HelmMajor } from '../support/helm.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { AWKWARD_CHARTS } from '../chart/fixtures-awkward.js';

type IndexDoc = { apiVersion: string; entries: Record<string, Array<Record<string, unknown>>> };

/** Index `created` values with fractions and offsets; helm push sees them as the file mtime. */
function createdFor(i: number): { text: string; epoch: number } {
  const epoch = 1_650_000_000 + i * 86_399;
  const d = new Date(epoch * 1000);
  // Written with a +02:00 offset and nanoseconds, as ChartMuseum and helm repo index do.
  const local = new Date(d.getTime() + 2 * 3600_000).toISOString().replace('Z', '').replace(/\.\d+$/, '');
  return { text: `${local}.987654321+02:00`, epoch };
}

/**
 * The fidelity bar through the real CLI: charts made by `helm create` + `helm package` with
 * awkward metadata are mirrored by `chartmirror sync`, and each manifest digest equals the one
 * `helm push` (3.17.3 and 4.1.4, TZ=UTC) prints for the same file with its mtime set to the
 * index `created`. Helm then pulls, shows and templates the mirrored charts.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('sync is byte-identical to helm push', () => {
  let work: string;
  let repo: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  let report: { items: ReportItem[] };
  const charts: Array<{ name: string; version: string; file: string; epoch: number }> = [];

  beforeAll(async () => {
    work = await tmpDir('fidelity-');
    repo = join(work, 'repo');
    // Every awkward chart both Helm versions accept, packaged by real helm 3.
    const usable = AWKWARD_CHARTS.filter((c) => c.helm3 === 'ok' && c.helm4 === 'ok' && !c.oursRefuses);
    for (const c of usable) {
      // helm package re-serialises Chart.yaml and writes U+2028/U+2029 raw: read as Helm reads them.
      const { 'Chart.yaml': chartYamlText, ...files } = c.files;
      // helm package insists that every dependency is under charts/: add stand-ins for missing ones.
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          await packageChart(repo, { name: c.dir, version: '0.0.0', chartYaml: chartYamlText, files });
          break;
        } catch (e) {
          const missing = /missing in charts\/ directory: ([\w.-]+)/.exec(String(e))?.[1];
          // Anything else helm package refuses is covered by the archive-level identity tests in test/chart.
          if (!missing) break;
          files[`charts/${missing}/Chart.yaml`] = `apiVersion: v2\nname: ${missing}\nversion: 0.1.0\n`;
        }
      }
    }
    // Plus plain charts with a prerelease, build metadata and a v-prefixed version.
    await packageChart(repo, { name: 'plain', version: '1.0.0-rc.1' });
    await packageChart(repo, { name: 'plain', version: '1.0.0+build.9' });
    await packageChart(repo, { name: 'vprefixed', version: 'v1.2.3' });
    await indexRepo(repo);
    const index = yaml.load(await readFile(join(repo, 'index.yaml'), 'utf8')) as IndexDoc;
    let i = 0;
    for (const [name, versions] of Object.entries(index.entries)) {
      for (const v of versions) {
        const created = createdFor(i++);
        v.created = created.text;
        charts.push({ name, version: String(v.version), file: String((v.urls as string[])[0]), epoch: created.epoch });
      }
    }
    await writeFile(join(repo, 'index.yaml'), yaml.dump(index));
    // The main awkward charts must really be in the run, not skipped by helm package.
    for (const must of ['awk-everything', 'awk-numeric', 'awk-anchors', 'vprefixed']) expect(charts.map((c) => c.name)).toContain(must);
    expect(charts.length).toBeGreaterThanOrEqual(12);

    server = await startStaticServer({ root: repo });
    registry = await startRegistry();
    const config = await writeConfig(work, {
      sources: [{ name: 'awkward', url: server.url }],
      targets: [{ name: 'registry', url: registry.oci('mirror'), plainHttp: true }],
    });
    const run = await chartmirror(['sync', '--config', config, '--report', join(work, 'report.json')]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    report = JSON.parse(await readFile(join(work, 'report.json'), 'utf8'));
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it.each([3, 4] as const)('helm %i push prints the digest chartmirror pushed, for every chart', async (major: HelmMajor) => {
    const mismatches: string[] = [];
    for (const c of charts) {
      const file = join(repo, c.file);
      await utimes(file, c.epoch, c.epoch);
      const r = await runHelm(major, ['push', file, registry.oci(`helm${major}`), '--plain-http'], { env: { TZ: 'UTC' } });
      expect(r.code, r.stderr).toBe(0);
      const helmDigest = /Digest: (sha256:[a-f0-9]{64})/.exec(r.stderr + r.stdout)?.[1];
      const ours = report.items.find((x) => x.chart === c.name && x.version === c.version)?.digest;
      if (!helmDigest || helmDigest !== ours) mismatches.push(`${c.name} ${c.version}: helm ${helmDigest} ours ${ours}`);
    }
    expect(mismatches).toEqual([]);
  });

  it.each([3, 4] as const)('helm %i pulls, shows and templates every mirrored chart', async (major: HelmMajor) => {
    const dest = await tmpDir('pull-');
    for (const c of charts) {
      const ref = registry.oci(`mirror/${c.name}`);
      const pull = await runHelm(major, ['pull', ref, '--version', c.version, '--plain-http', '-d', dest]);
      expect(pull.code, `${c.name} ${c.version}: ${pull.stderr}`).toBe(0);
      const show = await runHelm(major, ['show', 'chart', ref, '--version', c.version, '--plain-http']);
      expect(show.code, show.stderr).toBe(0);
      expect(show.stdout).toContain(`name: ${c.name}`);
    }
    const tpl = await runHelm(major, ['template', 'rel', registry.oci('mirror/plain'), '--version', '1.0.0+build.9', '--plain-http']);
    expect(tpl.code, tpl.stderr).toBe(0);
    expect(tpl.stdout).toContain('kind: Deployment');
    expect((await readdir(dest)).length).toBe(charts.length);
  });
});
