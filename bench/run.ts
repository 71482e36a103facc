/**
 * `npm run bench`: chartmirror against the least work that does the copy and against the
 * documented manual path (helm pull + helm push per version), on the same machine, the same
 * synthetic repository (served by nginx) and a fresh real registry each. Writes bench/RESULTS.md.
 *
 * Options: --charts N --versions M --size BYTES --helm-sample K (0 = every version)
 *          --large-index N (versions in the planning test; 0 skips) --out FILE
 */
import { cpus, totalmem, release } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { generateRepo } from './generate.js';
import { minimalPush } from './minimal-pusher.js';
import { runMeasured, timed, type Measured } from '../test/support/measure.js';
import { startRegistry, type RunningRegistry } from '../test/support/registry.js';
import { startStaticServer } from '../test/support/static-server.js';
import { runHelm, helmBinary } from '../test/support/helm.js';
import { tmpDir } from '../test/support/tmp.js';
import { createCipheriv, createHash } from 'node:crypto';
import { openStore } from '../src/content/open.js';
import { canPushReference } from '../src/content/store.js';
import type { Descriptor } from '../src/oci/descriptor.js';

const ROOT = process.env.CHARTMIRROR_REPO_ROOT ?? process.cwd();
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

const { values: args } = parseArgs({
  options: {
    charts: { type: 'string', default: '100' },
    versions: { type: 'string', default: '10' },
    size: { type: 'string', default: '8192' },
    'helm-sample': { type: 'string', default: '0' },
    'large-index': { type: 'string', default: '100000' },
    out: { type: 'string', default: join(ROOT, 'bench', 'RESULTS.md') },
  },
});

const charts = Number(args.charts);
const versionsPerChart = Number(args.versions);
const archiveBytes = Number(args.size);
const helmSample = Number(args['helm-sample']);
const largeIndex = Number(args['large-index']);
/** Rounds of the minimal pusher and chartmirror (cold), alternated; medians are compared. */
const ROUNDS = 3;

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function median(xs: number[]): number {
  return [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
}

/** Busy share of all CPUs between two readings of /proc/stat's first line. */
async function cpuTimes(): Promise<{ idle: number; total: number }> {
  const f = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + f[4]!, total: f.reduce((a, b) => a + b, 0) };
}
function busyShare(a: { idle: number; total: number }, b: { idle: number; total: number }): number {
  return 1 - (b.idle - a.idle) / (b.total - a.total);
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function chartmirror(cfg: string, extra: string[] = []): Promise<Measured> {
  return runMeasured(process.execPath, [CLI, 'sync', '--config', cfg, '--quiet', ...extra], { env: { ...process.env, NO_COLOR: '1' } });
}

async function main(): Promise<void> {
  const work = await tmpDir('bench-');
  const total = charts * versionsPerChart;
  log(`generating ${charts} charts x ${versionsPerChart} versions (~${archiveBytes} B each)`);
  const repo = await generateRepo(join(work, 'repo'), { charts, versions: versionsPerChart, archiveBytes });
  const avgSize = Math.round(repo.versions.reduce((n, v) => n + v.size, 0) / repo.versions.length);
  const server = await startStaticServer({ root: repo.dir });

  // 1 and 2. The minimal pusher and chartmirror (cold), alternated for ROUNDS rounds, each into a
  //    fresh registry; the medians are compared (one run of each swings 10-20% on a shared machine).
  const cfgFor = async (reg: RunningRegistry, name: string) => {
    const file = join(work, `${name}.yaml`);
    await writeFile(file, yaml.dump({ sources: [{ name: 'bench', url: server.url }], targets: [{ name: 'registry', url: reg.oci('bench'), plainHttp: true }] }));
    return file;
  };
  const minimalRuns: number[] = [];
  const minimalCpu: number[] = [];
  const coldRuns: Measured[] = [];
  const busy: { minimal: number[]; cold: number[] } = { minimal: [], cold: [] };
  let regCm: RunningRegistry | undefined;
  let cfg = '';
  for (let round = 0; round < ROUNDS; round++) {
    log(`minimal pusher (round ${round + 1} of ${ROUNDS})`);
    const regMin = await startRegistry();
    const [cpu0, sys0] = [process.cpuUsage(), await cpuTimes()];
    minimalRuns.push((await timed(() => minimalPush({ sourceUrl: server.url, registryUrl: regMin.baseUrl, repoPrefix: 'bench', versions: repo.versions }))).ms);
    const used = process.cpuUsage(cpu0);
    minimalCpu.push((used.user + used.system) / 1000);
    busy.minimal.push(busyShare(sys0, await cpuTimes()));
    await regMin.stop();
    log(`chartmirror, cold (round ${round + 1} of ${ROUNDS})`);
    await regCm?.stop();
    regCm = await startRegistry();
    cfg = await cfgFor(regCm, `cold-${round}`);
    const sys1 = await cpuTimes();
    const run = await chartmirror(cfg, ['--report', join(work, 'cold.json'), '--state', join(work, `state-${round}`)]);
    busy.cold.push(busyShare(sys1, await cpuTimes()));
    if (run.code !== 0) throw new Error(`chartmirror failed: ${run.stderr}`);
    const coldReport = JSON.parse(await readFile(join(work, 'cold.json'), 'utf8')) as { summary: { pushed: number } };
    if (coldReport.summary.pushed !== total) throw new Error(`chartmirror pushed ${coldReport.summary.pushed} of ${total}`);
    coldRuns.push(run);
  }
  const minimal = { ms: median(minimalRuns) };
  const cold = [...coldRuns].sort((a, b) => a.ms - b.ms)[Math.floor(coldRuns.length / 2)]!;
  const coldPeak = Math.max(...coldRuns.map((r) => r.peakRssMb));
  const cpuCold = median(coldRuns.map((r) => r.cpuMs));
  const cpuMinimal = median(minimalCpu);
  const pct = (xs: number[]) => `${Math.round(100 * median(xs))}%`;
  const lastState = join(work, `state-${ROUNDS - 1}`);
  await regCm!.clearRequests();
  log('chartmirror (no-op rerun)');
  const rerun = await chartmirror(cfg, ['--report', join(work, 'rerun.json'), '--state', lastState]);
  if (rerun.code !== 0) throw new Error(`chartmirror rerun failed: ${rerun.stderr}`);
  const rerunTargetRequests = (await regCm!.requests()).length;
  await regCm!.stop();

  // 3. helm pull + helm push, one after another.
  const sample = helmSample > 0 ? repo.versions.slice(0, helmSample) : repo.versions;
  log(`helm pull + helm push x ${sample.length}`);
  await helmBinary(3);
  const regHelm = await startRegistry();
  const home = await tmpDir('bench-helm-');
  const dl = await tmpDir('bench-pull-');
  const helmLoop = await timed(async () => {
    for (const v of sample) {
      const pull = await runHelm(3, ['pull', `${server.url}/${v.file}`, '-d', dl], { home });
      if (pull.code !== 0) throw new Error(`helm pull: ${pull.stderr}`);
      const push = await runHelm(3, ['push', join(dl, v.file), regHelm.oci('bench'), '--plain-http'], { home });
      if (push.code !== 0) throw new Error(`helm push: ${push.stderr}`);
    }
  });
  await regHelm.stop();
  await server.stop();
  const helmMs = (helmLoop.ms / sample.length) * total;

  // 4. A scheduled run over a large index: every version already confirmed in the journal, so
  //    the run is index parsing, selection and planning (file:// source, OCI layout target).
  let large: { ms: number; peak: number; bytes: number } | undefined;
  if (largeIndex > 0) {
    log(`planning a ${largeIndex}-version index`);
    const bigDir = join(work, 'large');
    const layoutDir = join(work, 'large-out');
    const state = join(work, 'large-state');
    const big = await generateLargeIndex(bigDir, largeIndex, state, layoutDir);
    const bigCfg = join(work, 'large.yaml');
    await writeFile(bigCfg, yaml.dump({ sources: [{ name: 'large', url: bigDir }], targets: [{ name: 'disk', layout: layoutDir }] }));
    const planned = await runMeasured(process.execPath, [CLI, 'sync', '--config', bigCfg, '--state', state, '--quiet'], { env: { ...process.env, NO_COLOR: '1' } });
    if (planned.code !== 0) throw new Error(`large-index run failed: ${planned.stderr.slice(0, 2000)}`);
    if (!/0 pushed, 100000 present|0 pushed, \d+ present/.test(planned.stderr)) throw new Error(`unexpected: ${planned.stderr.slice(0, 500)}`);
    large = { ms: planned.ms, peak: planned.peakRssMb, bytes: big };
  }

  // 5. A container image (4 layers of 64 MiB) between two registries: chartmirror against skopeo copy.
  log('image copy: chartmirror sync (images.extra) vs skopeo copy');
  const image = await imageCopy(work);

  // 6. Start-up: the CLI's --version against a bare node, measured in the same run.
  log('start-up (--version vs node -e 0)');
  const startup = await startupCost(21);

  const ratioMin = cold.ms / minimal.ms;
  const ratioHelm = helmMs / cold.ms;
  const ratioRerun = rerun.ms / minimal.ms;
  const ok = (b: boolean) => (b ? 'met' : '**missed**');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const registryVersion = (() => {
    try {
      return execFileSync('docker-registry', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      return 'docker-registry';
    }
  })();
  const command = `npm run bench -- --charts ${charts} --versions ${versionsPerChart} --size ${archiveBytes} --helm-sample ${helmSample} --large-index ${largeIndex}`;
  const md = `# Benchmark results

Produced by \`${command}\` on ${new Date().toISOString().slice(0, 10)}.

Machine: ${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.version}.
Registry: ${registryVersion} (filesystem storage, no auth, plain HTTP on loopback), a fresh one per contender.
Source: nginx serving a synthetic classic repository on loopback: ${total} chart versions (${charts} charts x ${versionsPerChart} versions), archives of ${avgSize} bytes on average, index.yaml of ${repo.indexBytes} bytes.

| contender | time | per version | peak RSS |
|---|---|---|---|
| minimal pusher (GET, POST+PUT x2, PUT manifest; 16 in flight; no checks), median of ${ROUNDS} | ${secs(minimal.ms)} | ${(minimal.ms / total).toFixed(1)} ms | (in the bench process) |
| chartmirror sync, cold, median of ${ROUNDS} (rounds alternate with the pusher's) | ${secs(cold.ms)} | ${(cold.ms / total).toFixed(1)} ms | ${coldPeak} MB |
| chartmirror sync, no-op rerun | ${secs(rerun.ms)} | – | ${rerun.peakRssMb} MB |
| helm pull + helm push, one after another${sample.length < total ? ` (${sample.length} timed, scaled to ${total})` : ''} | ${secs(helmMs)} | ${(helmMs / total).toFixed(1)} ms | – |

| target | result | |
|---|---|---|
| chartmirror at most 1.10x the minimal pusher | ${ratioMin.toFixed(2)}x | ${ok(ratioMin <= 1.1)} |
| at least 8x faster than the helm loop | ${ratioHelm.toFixed(1)}x | ${ok(ratioHelm >= 8)} |
| no-op rerun under 10% of the minimal pusher | ${(ratioRerun * 100).toFixed(1)}% (${rerunTargetRequests} requests to the registry) | ${ok(ratioRerun < 0.1)} |
| peak RSS under 300 MB | ${coldPeak} MB | ${ok(coldPeak < 300)} |
| an image of ${(image.bytes / 2 ** 20).toFixed(0)} MiB between two registries: chartmirror at most 1.5x \`skopeo copy\` (${secs(image.chartmirror)} vs ${secs(image.skopeo)}, peak RSS ${image.rss} MB) | ${(image.chartmirror / image.skopeo).toFixed(2)}x | ${ok(image.chartmirror / image.skopeo <= 1.5)} |
| start-up: \`chartmirror --version\` minus \`node -e 0\` under 150 ms (medians of ${startup.runs}) | ${startup.cli.toFixed(0)} - ${startup.node.toFixed(0)} = ${(startup.cli - startup.node).toFixed(0)} ms | ${ok(startup.cli - startup.node < 150)} |
${large ? `| a ${largeIndex.toLocaleString('en')}-version index.yaml (${(large.bytes / 1e6).toFixed(0)} MB) planned in a few seconds (whole scheduled run, all versions journal-confirmed) | ${secs(large.ms)} | ${ok(large.ms < 10_000)} |
| ... with peak RSS under 700 MB | ${large.peak} MB | ${ok(large.peak < 700)} |` : ''}

chartmirror's time is the whole CLI process (start-up, config, index, verification of every
archive, building helm-identical manifests, journal, report). The minimal pusher runs inside the
benchmark process with a warm module cache, checks nothing and writes no state.

Where the difference goes (medians of the same rounds): the machine's ${cpus().length} CPUs were
${pct(busy.minimal)} busy during the minimal pusher's runs and ${pct(busy.cold)} during chartmirror's
(the registry, nginx and the contender share them). chartmirror used ${secs(cpuCold)} of CPU, the
minimal pusher ${secs(cpuMinimal)}: the difference is the work the pusher skips (gunzip, tar and
Chart.yaml parsing of every archive, Go-identical config encoding, a .prov request per version,
the journal, the report). With the CPUs this busy, that CPU time is paid in wall time, so the
ratio to the pusher depends on how many cores the machine has beside the registry.
`;
  await mkdir(resolve(args.out!, '..'), { recursive: true });
  await writeFile(args.out!, md);
  process.stdout.write(md);
}

/**
 * An image of 4 generated 64 MiB layers pushed into one registry, then copied to two fresh ones:
 * by skopeo copy, and by chartmirror sync with the image in images.extra (the whole CLI). The
 * layers are incompressible and declared gzip, and skopeo is told to preserve digests: left to
 * itself it compresses uncompressed layers (a different image, and on repetitive data far less
 * to send), which would not compare the same work.
 */
async function imageCopy(work: string): Promise<{ skopeo: number; chartmirror: number; bytes: number; rss: number }> {
  const [src, viaSkopeo, viaCm] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
  try {
    const store = await openStore(`oci://${src.host}/bench/image`, { plainHttp: true });
    const layers: Descriptor[] = [];
    for (let n = 0; n < 4; n++) {
      // An AES-CTR keystream: incompressible, the same every time.
      const gen = function* () {
        const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, n + 1), Buffer.alloc(16));
        const zero = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < 64; i++) yield cipher.update(zero);
      };
      const h = createHash('sha256');
      for (const b of gen()) h.update(b);
      const d = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${h.digest('hex')}`, size: 64 * 1024 * 1024 };
      await store.push(d, async () => (async function* () { yield* gen(); })());
      layers.push(d);
    }
    const cfgBytes = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${createHash('sha256').update(cfgBytes).digest('hex')}`, size: cfgBytes.length };
    await store.push(config, async () => (async function* () { yield cfgBytes; })());
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers }));
    const manifest = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, size: body.length };
    if (!canPushReference(store)) throw new Error('a registry store pushes references');
    await store.pushReference(manifest, body, '1.0');
    await store.close();

    const skopeo = await runMeasured('skopeo', ['copy', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${src.host}/bench/image:1.0`, `docker://${viaSkopeo.host}/bench/image:1.0`]);
    if (skopeo.code !== 0) throw new Error(`skopeo copy failed: ${skopeo.stderr}`);
    const cfg = join(work, 'image.yaml');
    await writeFile(cfg, yaml.dump({ sources: [], targets: [{ name: 'b', url: viaCm.oci('bench'), plainHttp: true }], images: { enabled: true, extra: [`${src.host}/bench/image:1.0`] }, registries: { [src.host]: { plainHttp: true } } }));
    const cm = await chartmirror(cfg, ['--state', join(work, 'image-state')]);
    if (cm.code !== 0) throw new Error(`chartmirror image sync failed: ${cm.stderr}`);
    return { skopeo: skopeo.ms, chartmirror: cm.ms, bytes: 4 * 64 * 1024 * 1024, rss: cm.peakRssMb };
  } finally {
    await Promise.all([src.stop(), viaSkopeo.stop(), viaCm.stop()]);
  }
}

/** Median wall time of `node dist/cli/main.js --version` and of `node -e 0`, interleaved. */
async function startupCost(runs: number): Promise<{ cli: number; node: number; runs: number }> {
  const cli: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await runMeasured(process.execPath, [CLI, '--version']);
    if (a.code !== 0) throw new Error(`chartmirror --version failed: ${a.stderr}`);
    cli.push(a.ms);
    bare.push((await runMeasured(process.execPath, ['-e', '0'])).ms);
  }
  return { cli: median(cli), node: median(bare), runs };
}

/**
 * An index.yaml of `n` versions (about 880 bytes each, like real indexes; no archives) and a
 * journal that confirms every one of them for the layout target.
 */
export async function generateLargeIndex(dir: string, n: number, stateDir: string, layoutDir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  await mkdir(stateDir, { recursive: true });
  const parts: string[] = ['apiVersion: v1\nentries:\n'];
  const journal: string[] = [];
  const perChart = 50;
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / perChart);
    const v = i % perChart;
    const version = `${v}.${c % 7}.${v % 3}`;
    if (v === 0) parts.push(`  chart-${c}:\n`);
    parts.push(`  - annotations:
      category: Infrastructure
      licenses: Apache-2.0
    apiVersion: v2
    appVersion: 1.${v}.0
    created: "2024-0${1 + (v % 9)}-1${v % 10}T10:20:30.123456789Z"
    dependencies:
    - name: common
      repository: oci://registry-1.docker.io/bitnamicharts
      tags:
      - bitnami-common
      version: 2.x.x
    description: Chart number ${c} is a long description of what the chart does for example purposes.
    digest: ${'ab'.repeat(32)}
    home: https://example.com/chart-${c}
    icon: https://example.com/icon.png
    keywords:
    - chart-${c}
    - web
    maintainers:
    - name: Someone
      url: https://example.com/someone
    name: chart-${c}
    sources:
    - https://github.com/example/charts/tree/main/chart-${c}
    urls:
    - chart-${c}-${version}.tgz
    version: ${version}
`);
    const key = JSON.stringify(['large', `chart-${c}`, version, `layout:${layoutDir}/chart-${c}`]);
    journal.push(JSON.stringify({ k: key, d: `sha256:${'cd'.repeat(32)}`, a: `sha256:${'ab'.repeat(32)}`, t: '2025-01-01T00:00:00.000Z' }));
  }
  const text = parts.join('');
  await writeFile(join(dir, 'index.yaml'), text);
  await writeFile(join(stateDir, 'journal.jsonl'), journal.join('\n') + '\n');
  return Buffer.byteLength(text);
}

if (process.argv[1]?.endsWith('run.js')) main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
