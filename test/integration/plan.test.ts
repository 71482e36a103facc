import { readdir, readFile, lstat, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { formatBytes } from '../../src/report/summary.js';

type IndexDoc = { apiVersion: string; entries: Record<string, Array<Record<string, unknown>>> };

/** Every file and directory under root with its size and mtime: equal snapshots = nothing written. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const s = await lstat(p);
      out.push(`${relative(root, p)} ${s.isDirectory() ? 'dir' : s.size} ${s.mtimeMs}`);
      if (s.isDirectory()) await walk(p);
    }
  }
  await walk(root);
  return out;
}

/**
 * The selection rules and `plan` against real parts: charts packaged by real helm, an index
 * with chosen `created` times, nginx serving it, a real registry that already holds one chart.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('plan and selection on a repository made here', () => {
  let repoDir: string;
  let cfgDir: string;
  let outside: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  let config: string;
  const sizes = new Map<string, number>();

  // chart, version, created (undefined: none in the index), Chart.yaml extras
  const CHARTS: [string, string, string | undefined, Record<string, unknown>?][] = [
    ['alpha', '0.9.0', '2024-02-01T00:00:00Z'], // below the range
    // 23:30 at UTC-1 is 00:30 UTC on the 1st: inside `since`, then dropped by `latest`.
    ['alpha', '1.0.0', '2023-12-31T23:30:00-01:00'],
    // 00:30 at UTC+1 is 23:30 UTC on the 31st: before `since`. Newer than 1.0.0, so had
    // `latest` been applied first it would have taken a place.
    ['alpha', '1.0.1', '2024-01-01T00:30:00.123456789+01:00'],
    ['alpha', '1.1.0', '2024-03-01T00:00:00Z'],
    ['alpha', '1.2.0-rc.1', '2024-04-01T00:00:00Z'], // prereleases: false
    ['alpha', '1.3.0', '2024-04-15T00:00:00Z', { deprecated: true }], // deprecated: skip
    ['alpha', '2.0.0', '2024-05-01T00:00:00Z'],
    ['alpha', '2.1.0', '2025-02-01T00:00:00Z'], // until
    // beta's override: its own range and latest, deprecated versions included.
    ['beta', '0.1.0', '2024-02-01T00:00:00Z'],
    ['beta', '0.2.0', '2024-02-02T00:00:00Z', { deprecated: true }],
    ['beta', '0.3.0', '2024-02-03T00:00:00Z'],
    ['old-legacy', '1.0.0', '2024-02-01T00:00:00Z'], // charts.exclude
    ['gamma', 'v1.0.0', '2024-02-01T00:00:00Z'], // not SemVer 2: mirrored with a warning
    ['delta', '1.0.0', '2024-02-01T00:00:00Z'], // already in the registry
    ['epsilon', '1.0.0', undefined], // no created: since/until cannot place it
  ];

  const EXPECTED: Record<string, { status: 'planned' | 'excluded'; reason?: RegExp }> = {
    'alpha 0.9.0': { status: 'excluded', reason: /^not in versions ">=1\.0\.0"$/ },
    'alpha 1.0.0': { status: 'excluded', reason: /^not among the latest 2 in semver order$/ },
    'alpha 1.0.1': { status: 'excluded', reason: /^created 2023-12-31T23:30:00\.123Z, before since 2024-01-01$/ },
    'alpha 1.1.0': { status: 'planned' },
    'alpha 1.2.0-rc.1': { status: 'excluded', reason: /^prerelease \(prereleases: false\)$/ },
    'alpha 1.3.0': { status: 'excluded', reason: /^deprecated \(deprecated: skip\)$/ },
    'alpha 2.0.0': { status: 'planned' },
    'alpha 2.1.0': { status: 'excluded', reason: /^created 2025-02-01, not before until 2025-01-01$/ },
    'beta 0.1.0': { status: 'excluded', reason: /^not among the latest 2 in semver order \(charts\.overrides\.beta\)$/ },
    'beta 0.2.0': { status: 'planned' },
    'beta 0.3.0': { status: 'planned' },
    'old-legacy 1.0.0': { status: 'excluded', reason: /^chart excluded by charts\.exclude "\*-legacy"$/ },
    'gamma v1.0.0': { status: 'planned' },
    'delta 1.0.0': { status: 'planned' },
    'epsilon 1.0.0': { status: 'excluded', reason: /^no usable created time in the index \(needed by since\)$/ },
  };
  const TO_PUSH = Object.entries(EXPECTED).filter(([, e]) => e.status === 'planned').map(([k]) => k);

  beforeAll(async () => {
    repoDir = await tmpDir('plan-repo-');
    cfgDir = await tmpDir('plan-cfg-');
    outside = await tmpDir('plan-out-');
    await Promise.all(CHARTS.map(([name, version, , extra]) => packageChart(repoDir, { name, version, ...(extra ? { chartYaml: extra } : {}) })));
    await indexRepo(repoDir);
    const index = yaml.load(await readFile(join(repoDir, 'index.yaml'), 'utf8')) as IndexDoc;
    for (const [name, version, created] of CHARTS) {
      const entry = index.entries[name]!.find((e) => e.version === version)!;
      if (created === undefined) delete entry.created;
      else entry.created = created;
      sizes.set(`${name} ${version}`, (await stat(join(repoDir, `${name}-${version}.tgz`))).size);
    }
    await writeFile(join(repoDir, 'index.yaml'), yaml.dump(index));

    server = await startStaticServer({ root: repoDir });
    registry = await startRegistry();
    // The registry already holds delta 1.0.0 (pushed by chartmirror from another state dir).
    const seed = await writeConfig(outside, {
      sources: [{ name: 'classic', url: server.url, charts: { include: ['delta'] } }],
      targets: [{ name: 'registry', url: registry.oci('mirror'), plainHttp: true }],
      state: join(outside, 'seed-state'),
    }, 'seed.yaml');
    const seeded = await chartmirror(['sync', '--config', seed]);
    expect(seeded.code, seeded.stderr).toBe(0);

    config = await writeConfig(cfgDir, {
      sources: [
        {
          name: 'classic',
          url: server.url,
          versions: '>=1.0.0',
          latest: 2,
          since: '2024-01-01',
          until: '2025-01-01',
          prereleases: false,
          deprecated: 'skip',
          charts: { exclude: ['*-legacy'], overrides: { beta: { versions: '>=0.1.0', latest: 2, deprecated: 'include' } } },
        },
      ],
      targets: [
        { name: 'registry', url: registry.oci('mirror'), plainHttp: true },
        { name: 'disk', layout: './out/oci' },
      ],
    });
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it('plan decides every version by the selection rules, for every target', async () => {
    const reportFile = join(outside, 'dry-run.json');
    const run = await chartmirror(['sync', '--dry-run', '--config', config, '--report', reportFile]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as { items: ReportItem[]; dryRun: boolean };
    expect(report.dryRun).toBe(true);
    expect(report.items).toHaveLength(Object.keys(EXPECTED).length * 2);
    for (const i of report.items) {
      const want = EXPECTED[`${i.chart} ${i.version}`]!;
      const key = `${i.chart} ${i.version} -> ${i.target}`;
      if (i.chart === 'delta' && i.target === 'registry') {
        expect(i.status, key).toBe('present');
        continue;
      }
      expect(i.status, key).toBe(want.status);
      if (want.reason) expect(i.reason, key).toMatch(want.reason);
      if (want.status === 'planned') expect(i.archiveSize, key).toBe(sizes.get(`${i.chart} ${i.version}`));
    }
    const gamma = report.items.find((i) => i.chart === 'gamma')!;
    expect((gamma.warnings as string[]).join()).toMatch(/"v1\.0\.0" is not SemVer 2/);
  });

  it('plan prints per source and target what it would push (with bytes), what is present and what is excluded and why', async () => {
    const run = await chartmirror(['plan', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout;
    const bytes = (keys: string[]) => formatBytes(keys.reduce((n, k) => n + sizes.get(k)!, 0));
    const toRegistry = TO_PUSH.filter((k) => k !== 'delta 1.0.0');
    // One row per source and target, then the total.
    expect(out).toMatch(new RegExp(`^classic\\s+disk\\s+${TO_PUSH.length}\\s+${bytes(TO_PUSH)}\\s+0\\s+9\\s+0$`, 'm'));
    expect(out).toMatch(new RegExp(`^classic\\s+registry\\s+${toRegistry.length}\\s+${bytes(toRegistry)}\\s+1\\s+9\\s+0$`, 'm'));
    expect(out).toMatch(new RegExp(`^total\\s+${TO_PUSH.length + toRegistry.length}\\s+${bytes([...TO_PUSH, ...toRegistry])}\\s+1\\s+18\\s+0$`, 'm'));
    // Then the items of each, under its heading.
    const section = (target: string) => out.slice(out.indexOf(`classic -> ${target}:`)).split('\n\n')[0]!;
    const registrySection = section('registry');
    expect(registrySection).toMatch(new RegExp(`^  push\\s+alpha\\s+2\\.0\\.0\\s+${formatBytes(sizes.get('alpha 2.0.0')!)}\\s+-> mirror/alpha:2\\.0\\.0$`, 'm'));
    expect(registrySection).toMatch(/^ {2}present\s+delta\s+1\.0\.0\s+oci:\/\/[^ ]+\/mirror\/delta:1\.0\.0 \(tag exists/m);
    expect(registrySection).toMatch(/^ {2}excluded\s+alpha\s+1\.0\.1\s+created 2023-12-31T23:30:00\.123Z, before since 2024-01-01$/m);
    expect(registrySection).toMatch(/^ {2}excluded\s+old-legacy\s+1\.0\.0\s+chart excluded by charts\.exclude "\*-legacy"$/m);
    expect(registrySection).toMatch(/^ {2}push\s+gamma\s+v1\.0\.0 .*\n\s+warning: version "v1\.0\.0" is not SemVer 2/m);
    expect(section('disk')).toMatch(/^ {2}push\s+delta\s+1\.0\.0\s+\S+ \S+\s+-> delta:1\.0\.0$/m);
    // Newest first within a chart.
    expect(registrySection.search(/push\s+alpha\s+2\.0\.0/)).toBeLessThan(registrySection.search(/push\s+alpha\s+1\.1\.0/));
    expect(registrySection.search(/push\s+alpha\s+1\.1\.0/)).toBeGreaterThan(0);
    // Progress and the summary go to stderr, not into the plan.
    expect(run.stderr).toMatch(/^plan: 11 to push \([\d.]+ KiB\), 1 present, 0 failed, 18 excluded in .*; nothing was written$/m);
    expect(out).not.toMatch(/\x1b/);
  });

  it('plan writes nothing: no state, no layout, no file, no registry write; sizes come from HEAD requests', async () => {
    const before = await snapshot(cfgDir);
    expect(before).toEqual([expect.stringMatching(/^mirror\.config\.yaml /)]);
    const repoBefore = await snapshot(repoDir);
    await registry.clearRequests();
    await server.clearRequests();

    const run = await chartmirror(['plan', '--config', config], { cwd: cfgDir });
    expect(run.code, run.stderr).toBe(0);

    expect(await snapshot(cfgDir)).toEqual(before);
    expect(await snapshot(repoDir)).toEqual(repoBefore);
    const reg = await registry.requests();
    expect(reg.filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
    expect(reg.some((r) => r.path === '/v2/mirror/alpha/tags/list')).toBe(true);

    const served = await server.requests();
    const heads = served.filter((r) => r.method === 'HEAD').map((r) => r.path).sort();
    expect(heads).toEqual(TO_PUSH.map((k) => `/${k.replace(' ', '-')}.tgz`).sort());
    // One look-up per chart version, shared by both targets; no archive downloaded.
    expect(served.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/index.yaml']);
  });

  it('a sync then finds the plan true, and a second plan shows everything present', async () => {
    const synced = await chartmirror(['sync', '--config', config, '--report', join(outside, 'sync.json')]);
    expect(synced.code, synced.stderr).toBe(0);
    const sync = JSON.parse(await readFile(join(outside, 'sync.json'), 'utf8')) as { summary: Record<string, number> };
    expect(sync.summary).toMatchObject({ pushed: 11, present: 1, failed: 0, excluded: 18 });
    const again = await chartmirror(['plan', '--config', config]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^classic\s+registry\s+0\s+0 B\s+6\s+9\s+0$/m);
    expect(again.stdout).toMatch(/^ {2}present\s+alpha\s+2\.0\.0\s+oci:\/\/\S+\/mirror\/alpha@sha256:[a-f0-9]{64} \(journal\)$/m);
  });
});
