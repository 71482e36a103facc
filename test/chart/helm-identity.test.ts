/**
 * Byte-identity with REAL `helm push` (3.17.3 and 4.1.4) into a real registry: for every
 * awkward fixture and every Helm test chart, the manifest digest helm prints must equal
 * buildChartArtifact(..., created = formatCreated(mtime)). Where helm refuses an archive, our
 * loader must refuse it too (and where Helm 3 and 4 disagree, we refuse: mirrored charts must
 * work with both).
 */
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChartArchive } from '../../src/chart/archive.js';
import { ChartMirrorError } from '../../src/errors.js';
import { buildChartArtifact, formatCreated } from '../../src/oci/artifact.js';
import { haveBinaries } from '../support/bins.js';
import { packageChart } from '../support/charts.js';
import { craftTgz } from '../support/craft.js';
import { runHelm, type HelmMajor } from '../support/helm.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { haveTestdata, HELM_TESTDATA as TESTDATA } from '../support/testdata.js';
import { tmpDir } from '../support/tmp.js';
import { ARCHIVE_EDGE_CASES, AWKWARD_CHARTS, RECORDED_HELM, YAML_EDGE_CASES, type HelmOutcome } from './fixtures-awkward.js';
import { RECORDED_FIDELITY, YAML_FIDELITY_CASES } from './fixtures-yaml-fidelity.js';
import { buildArchive } from './tar-craft.js';

interface Case {
  id: string;
  tgz: Buffer;
  prov?: Buffer;
  mtime: number;
  expect?: { helm3: 'ok' | 'fail'; helm4: 'ok' | 'fail' };
  oursRefuses?: string;
}

const EDGE_MTIME = 1_400_000_000;

function fromRecorded(o: HelmOutcome | undefined): Case['expect'] {
  if (!o) throw new Error('no recorded helm outcome');
  return { helm3: o === 'ok' || o === 'helm3-only' ? 'ok' : 'fail', helm4: o === 'ok' || o === 'helm4-only' ? 'ok' : 'fail' };
}

const edgeCases: Case[] = [
  ...YAML_EDGE_CASES.map((c) => ({
    id: `yaml/${c.id}`,
    tgz: craftTgz(Object.entries(c.files).map(([name, data]) => ({ name: `e/${name}`, data }))),
    mtime: EDGE_MTIME,
    expect: fromRecorded(RECORDED_HELM[c.id]),
  })),
  ...ARCHIVE_EDGE_CASES.map((c) => ({ id: `archive/${c.id}`, tgz: buildArchive(c), mtime: EDGE_MTIME, expect: fromRecorded(RECORDED_HELM[c.id]) })),
  ...YAML_FIDELITY_CASES.map((c) => ({
    id: `fidelity/${c.id}`,
    tgz: craftTgz(Object.entries(c.files).map(([name, data]) => ({ name: `e/${name}`, data }))),
    mtime: EDGE_MTIME,
    expect: fromRecorded(RECORDED_FIDELITY[c.id]),
  })),
];

/** Every chart archive in Helm's test vectors (none, with a notice, when they are absent; CI fails then). */
async function testdataCases(): Promise<Case[]> {
  if (!haveTestdata()) return [];
  const out: Case[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.tgz')) {
        const prov = existsSync(p + '.prov') ? await readFile(p + '.prov') : undefined;
        out.push({ id: p.slice(TESTDATA.length + 1), tgz: await readFile(p), prov, mtime: 243_727_445 });
      }
    }
  };
  await walk(TESTDATA);
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

const awkwardCases: Case[] = AWKWARD_CHARTS.map((c) => ({
  id: c.id,
  tgz: craftTgz(Object.entries(c.files).map(([name, data]) => ({ name: `${c.dir}/${name}`, data, mtime: c.mtime }))),
  mtime: c.mtime,
  expect: { helm3: c.helm3, helm4: c.helm4 },
  oursRefuses: c.oursRefuses,
}));

async function helmPush(major: HelmMajor, reg: RunningRegistry, c: Case): Promise<{ ok: true; digest: string } | { ok: false; error: string }> {
  const dir = await tmpDir('helm-identity-');
  const file = join(dir, 'chart.tgz');
  await writeFile(file, c.tgz);
  if (c.prov) await writeFile(file + '.prov', c.prov);
  await utimes(file, c.mtime, c.mtime);
  const r = await runHelm(major, ['push', file, reg.oci(`h${major}/${c.id.replace(/[^a-z0-9]+/g, '-')}`), '--plain-http']);
  const m = /Digest: (sha256:[0-9a-f]{64})/.exec(r.stderr + r.stdout);
  if (r.code === 0 && m) return { ok: true, digest: m[1] };
  return { ok: false, error: (r.stderr || r.stdout).trim().split('\n').pop() ?? '' };
}

async function ours(c: Case): Promise<{ ok: true; digest: string; config: string } | { ok: false; error: string }> {
  try {
    const chart = await loadChartArchive(c.tgz);
    const a = buildChartArtifact({ chart, archive: c.tgz, provenance: c.prov, created: formatCreated(new Date(c.mtime * 1000)) });
    return { ok: true, digest: a.manifest.descriptor.digest, config: a.config.bytes.toString() };
  } catch (e) {
    if (!(e instanceof ChartMirrorError) || e.code !== 'CHART') throw e;
    return { ok: false, error: e.message };
  }
}

/** The config blob helm pushed, for a readable diff when digests differ. */
async function pushedConfig(reg: RunningRegistry, major: HelmMajor, digest: string): Promise<string> {
  const cat = (await (await fetch(`${reg.baseUrl}/v2/_catalog`)).json()) as { repositories: string[] };
  for (const repo of cat.repositories.filter((r) => r.startsWith(`h${major}/`))) {
    const m = await fetch(`${reg.baseUrl}/v2/${repo}/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    if (!m.ok) continue;
    const manifest = (await m.json()) as { config: { digest: string } };
    const blob = await fetch(`${reg.baseUrl}/v2/${repo}/blobs/${manifest.config.digest}`);
    return `${await blob.text()}\nmanifest: ${JSON.stringify(manifest)}`;
  }
  return '(not found)';
}

describe.skipIf(!haveBinaries('docker-registry'))('manifest digest equals real helm push', async () => {
  const fromTestdata = await testdataCases();
  const cases = [...awkwardCases, ...fromTestdata, ...edgeCases];
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it.skipIf(!haveTestdata())("includes every chart archive in Helm's test vectors", () => {
    expect(fromTestdata.length).toBeGreaterThanOrEqual(12);
    expect(fromTestdata.map((c) => c.id)).toContain('testcharts/signtest-0.1.0.tgz');
  });

  // Each case is a few separate processes (helm 3, helm 4, the registry): run them side by side.
  it.concurrent.for(cases.map((c) => [c.id, c] as const))('%s', async ([, c], { expect }) => {
    const [h3, h4, me] = await Promise.all([helmPush(3, reg, c), helmPush(4, reg, c), ours(c)]);
    if (c.expect) {
      expect({ helm3: h3.ok ? 'ok' : `fail`, helm4: h4.ok ? 'ok' : 'fail' }, `recorded helm behaviour (h3: ${h3.ok ? '' : h3.error} h4: ${h4.ok ? '' : h4.error})`).toEqual(c.expect);
    }
    if (c.oursRefuses) {
      expect(me.ok, `a documented refusal: ${c.oursRefuses}`).toBe(false);
    } else if (h3.ok && h4.ok) {
      expect(h4.digest, 'Helm 3 and Helm 4 push the same manifest').toBe(h3.digest);
      if (!me.ok || me.digest !== h3.digest) {
        const pushed = await pushedConfig(reg, 3, h3.digest);
        expect.fail(`ours: ${me.ok ? me.digest + '\n' + me.config : me.error}\nhelm: ${h3.digest}\n${pushed}`);
      }
    } else {
      expect(me.ok, `helm refused (h3: ${h3.ok ? 'ok' : h3.error}; h4: ${h4.ok ? 'ok' : h4.error}); ours: ${me.ok ? me.digest : me.error}`).toBe(false);
    }
  });
});

describe.skipIf(!haveBinaries('docker-registry'))('archives made by real helm package', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  // helm create's chart plus our awkward Chart.yaml (helm package re-marshals it) and files.
  // helm package refuses dependencies missing from charts/, so those fixtures are left out.
  const packable = AWKWARD_CHARTS.filter(
    (c) => c.helm3 === 'ok' && c.helm4 === 'ok' && !c.oursRefuses && !Object.values(c.files).some((t) => t.includes('dependencies:')),
  );
  it.concurrent.for(packable.flatMap((c) => [3, 4].map((m) => [`${c.id} (helm ${m} package)`, c, m as HelmMajor] as const)))('%s', async ([, c, major], { expect }) => {
    const { ['Chart.yaml']: chartYaml, ...files } = c.files;
    const spec = { name: c.dir, version: '0.0.0', chartYaml, files };
    if (major === 4 && /\.inf|\.nan/i.test(chartYaml)) {
      // Helm 4's generic loader (package, install, template; not push) first decodes Chart.yaml
      // into a struct with only apiVersion, so an Inf/NaN anywhere cannot become JSON.
      await expect(packageChart(await tmpDir('pkg-'), spec, { helm: major })).rejects.toThrow(/unsupported value: \+Inf/);
      return;
    }
    const file = await packageChart(await tmpDir('pkg-'), spec, { helm: major });
    const cse: Case = { id: `pkg-${major}-${c.id}`, tgz: await readFile(file), mtime: c.mtime };
    const [h3, h4, me] = await Promise.all([helmPush(3, reg, cse), helmPush(4, reg, cse), ours(cse)]);
    expect(h3.ok && h4.ok, `helm pushes its own package (h3: ${h3.ok ? 'ok' : h3.error}; h4: ${h4.ok ? 'ok' : h4.error})`).toBe(true);
    if (h3.ok && h4.ok) {
      expect(h4.digest).toBe(h3.digest);
      expect(me.ok ? me.digest : me.error).toBe(h3.digest);
    }
  });
});
