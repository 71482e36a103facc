import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { CLI, chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { startFaultProxy, firstAttemptFails } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { craftRepo, type CraftedChart } from './registry-helpers.js';

const CHARTS: Array<[string, string]> = [];
for (let c = 0; c < 6; c++) for (let v = 0; v < 5; v++) CHARTS.push([`res-${c}`, `1.0.${v}`]);

interface Report {
  interrupted: boolean;
  items: ReportItem[];
}

async function readReport(file: string): Promise<Report> {
  return JSON.parse(await readFile(file, 'utf8')) as Report;
}

function digests(items: ReportItem[]): Record<string, string | null> {
  return Object.fromEntries(items.map((i) => [`${i.chart}@${i.version}`, i.digest]));
}

/** Start the CLI in the background (for signals); resolves with its exit code and stderr. */
function startSync(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, 'sync', ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout!.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, done };
}

/** Lines in a journal (0 while it does not exist yet). */
async function journalLines(state: string): Promise<string[]> {
  const text = await readFile(join(state, 'journal.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

const isManifestPut = (r: { method: string; path: string }): boolean => r.method === 'PUT' && r.path.includes('/manifests/');

/**
 * Issue 5: faults injected between chartmirror and both the source and the registry, crashes,
 * interrupts, and scheduled reruns, all against the real registry and nginx.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('resilience', () => {
  let work: string;
  let charts: CraftedChart[];
  let server: StaticServer;
  let registry: RunningRegistry;
  let clean: Record<string, string | null>;

  beforeAll(async () => {
    work = await tmpDir('resilience-');
    charts = await craftRepo(join(work, 'repo'), CHARTS);
    server = await startStaticServer({ root: join(work, 'repo') });
    registry = await startRegistry();
    // The reference: a clean run, straight to the registry.
    const cfg = await writeConfig(work, {
      sources: [{ name: 'src', url: server.url }],
      targets: [{ name: 'reg', url: registry.oci('clean'), plainHttp: true }],
    }, 'clean.yaml');
    const run = await chartmirror(['sync', '--config', cfg, '--report', join(work, 'clean.json'), '--state', join(work, 'clean-state')]);
    expect(run.code, run.stderr).toBe(0);
    clean = digests((await readReport(join(work, 'clean.json'))).items);
    expect(Object.keys(clean)).toHaveLength(charts.length);
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it('survives resets, 503s, 429s with Retry-After, truncated bodies and slow answers on both sides', async () => {
    const faults = ['reset', '503', '429', 'truncate', 'slow'] as const;
    const sourceProxy = await startFaultProxy(server.url, firstAttemptFails([...faults]), { slowMs: 400 });
    const registryProxy = await startFaultProxy(registry.baseUrl, firstAttemptFails(['reset', '503', '429', 'slow']), { slowMs: 400 });
    try {
      const cfg = await writeConfig(work, {
        sources: [{ name: 'src', url: sourceProxy.url }],
        targets: [{ name: 'reg', url: `oci://${registryProxy.host}/faulty`, plainHttp: true }],
        http: { retries: { attempts: 6, backoff: '50ms', maxBackoff: '500ms' } },
      }, 'faulty.yaml');
      const run = await chartmirror(['sync', '--config', cfg, '--report', join(work, 'faulty.json'), '--state', join(work, 'faulty-state')], { timeoutMs: 180_000 });
      expect(run.code, run.stderr).toBe(0);
      const report = await readReport(join(work, 'faulty.json'));
      expect(report.items.every((i) => i.status === 'pushed')).toBe(true);
      expect(digests(report.items)).toEqual(clean);
      // The faults really happened, on both sides.
      const src = sourceProxy.injected();
      const reg = registryProxy.injected();
      for (const f of faults) expect(src[f], `source ${f}`).toBeGreaterThan(0);
      for (const f of ['reset', '503', '429', 'slow'] as const) expect(reg[f], `registry ${f}`).toBeGreaterThan(0);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await sourceProxy.stop();
      await registryProxy.stop();
    }
  });

  it('a body that stalls past the idle timeout is abandoned and fetched again', async () => {
    // A stall far longer than the 1 s idle timeout: only giving up on it lets the run finish in time.
    const proxy = await startFaultProxy(server.url, ({ path, seen }) => (path.endsWith('.tgz') && seen === 0 ? 'stall' : undefined), { stallMs: 10_000 });
    try {
      const cfg = await writeConfig(work, {
        sources: [{ name: 'src', url: proxy.url, charts: { include: ['res-0'] } }],
        targets: [{ name: 'reg', url: registry.oci('stalled'), plainHttp: true }],
        http: { timeouts: { body: '1s' }, retries: { backoff: '50ms' } },
      }, 'stall.yaml');
      const run = await chartmirror(['sync', '--config', cfg, '--report', join(work, 'stall.json'), '--state', join(work, 'stall-state')]);
      expect(run.code, run.stderr).toBe(0);
      expect(proxy.injected().stall).toBe(5);
      // Every stalled body was given up on (the connection closed) before the proxy sent the rest.
      expect(proxy.abandoned()).toBe(5);
    } finally {
      await proxy.stop();
    }
  });

  it('a run killed with SIGKILL part-way, then rerun: everything present, nothing confirmed pushed again', async () => {
    // The registry takes the first 8 manifests, then holds the rest: the kill lands mid-run, with
    // manifest PUTs in flight, whatever the machine's speed.
    let manifests = 0;
    const proxy = await startFaultProxy(registry.baseUrl, (r) => (isManifestPut(r) && ++manifests > 8 ? 'hold' : undefined));
    try {
      const state = join(work, 'kill-state');
      const cfg = await writeConfig(work, {
        sources: [{ name: 'src', url: server.url }],
        targets: [{ name: 'reg', url: `oci://${proxy.host}/killed`, plainHttp: true }],
        concurrency: 4,
      }, 'kill.yaml');
      const first = startSync(['--config', cfg, '--state', state, '--quiet']);
      await waitFor(async () => (await journalLines(state)).length >= 8 && proxy.injected().hold >= 4, {
        what: '8 confirmed versions and 4 held manifest PUTs',
        timeoutMs: 60_000,
      });
      first.child.kill('SIGKILL');
      const killed = await first.done;
      expect(killed.signal).toBe('SIGKILL');

      const journal = await journalLines(state);
      const confirmed = journal.map((l) => JSON.parse(l) as { k: string }).map((r) => JSON.parse(r.k) as string[]);
      expect(confirmed).toHaveLength(8);

      proxy.setPlan(() => undefined);
      const before = proxy.log().length;
      const again = await chartmirror(['sync', '--config', cfg, '--state', state, '--report', join(work, 'kill.json')]);
      expect(again.code, again.stderr).toBe(0);
      const report = await readReport(join(work, 'kill.json'));
      expect(digests(report.items)).toEqual(clean);
      const manifestPuts = proxy
        .log()
        .slice(before)
        .filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'))
        .map((r) => r.path);
      for (const [, chart, version] of confirmed) {
        expect(manifestPuts, `${chart} ${version} was confirmed by the first run`).not.toContain(`/v2/killed/${chart}/manifests/${version}`);
        expect(report.items.find((i) => i.chart === chart && i.version === version)).toMatchObject({ status: 'present', via: 'journal' });
      }
    } finally {
      await proxy.stop();
    }
  });

  it('SIGINT stops taking work, writes a valid journal and report, and exits 130', async () => {
    // The first 2 manifests go through, the next ones are held until the run has seen the signal.
    let manifests = 0;
    const proxy = await startFaultProxy(registry.baseUrl, (r) => (isManifestPut(r) && ++manifests > 2 ? 'hold' : undefined));
    try {
      const state = join(work, 'int-state');
      const report = join(work, 'int.json');
      const cfg = await writeConfig(work, {
        sources: [{ name: 'src', url: server.url }],
        targets: [{ name: 'reg', url: `oci://${proxy.host}/interrupted`, plainHttp: true }],
        concurrency: 2,
      }, 'int.yaml');
      const run = startSync(['--config', cfg, '--state', state, '--report', report]);
      let stderr = '';
      run.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      await waitFor(() => proxy.injected().hold === 2, { what: 'two held manifest PUTs (concurrency 2)', timeoutMs: 60_000 });
      run.child.kill('SIGINT');
      // In-flight work may finish during the grace period: let the held PUTs through once the signal is taken.
      await waitFor(() => /SIGINT: stopping/.test(stderr), { what: 'the CLI to take SIGINT' });
      proxy.release();
      const result = await run.done;
      expect(result.code).toBe(130);
      expect(result.stderr).toMatch(/SIGINT: stopping/);
      const r = await readReport(report);
      expect(r.interrupted).toBe(true);
      expect(r.items).toHaveLength(charts.length);
      const pushed = r.items.filter((i) => i.status === 'pushed');
      expect(pushed).toHaveLength(4); // the two that went through and the two in flight at the signal
      expect(r.items.filter((i) => i.status === 'failed' && i.reason === 'interrupted before it started')).toHaveLength(charts.length - 4);
      const lines = (await readFile(join(state, 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean);
      expect(lines.length).toBe(pushed.length);
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    } finally {
      await proxy.stop();
    }
  });

  it('an unchanged index with a complete journal finishes without a single request to any target', async () => {
    const proxy = await startFaultProxy(registry.baseUrl, () => undefined);
    try {
      const state = join(work, 'cron-state');
      const cfg = await writeConfig(work, {
        sources: [{ name: 'src', url: server.url }],
        targets: [{ name: 'reg', url: `oci://${proxy.host}/cron`, plainHttp: true }],
      }, 'cron.yaml');
      const first = await chartmirror(['sync', '--config', cfg, '--state', state]);
      expect(first.code, first.stderr).toBe(0);
      const seen = proxy.log().length;
      await server.clearRequests();
      const second = await chartmirror(['sync', '--config', cfg, '--state', state, '--report', join(work, 'cron.json')]);
      expect(second.code, second.stderr).toBe(0);
      expect(proxy.log().length - seen).toBe(0);
      const sourceRequests = await server.requests();
      expect(sourceRequests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['GET /index.yaml 304']);
      expect((await readReport(join(work, 'cron.json'))).items.every((i) => i.status === 'present' && i.via === 'journal')).toBe(true);

      // --verify-remote: one HEAD per item, still no uploads.
      const third = await chartmirror(['sync', '--config', cfg, '--state', state, '--verify-remote']);
      expect(third.code, third.stderr).toBe(0);
      const checks = proxy.log().slice(seen);
      expect(checks.filter((r) => r.method === 'HEAD')).toHaveLength(charts.length);
      expect(checks.filter((r) => r.method !== 'HEAD' && r.method !== 'GET')).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('gives up after the configured attempts and reports the last error; the others still land', async () => {
    const proxy = await startFaultProxy(server.url, ({ path }) => (path === '/res-1-1.0.2.tgz' ? '503' : undefined));
    try {
      const cfg = await writeConfig(work, {
        sources: [{ name: 'src', url: proxy.url, charts: { include: ['res-1'] } }],
        targets: [{ name: 'reg', url: registry.oci('giveup'), plainHttp: true }],
        http: { retries: { attempts: 3, backoff: '20ms' } },
      }, 'giveup.yaml');
      const run = await chartmirror(['sync', '--config', cfg, '--report', join(work, 'giveup.json'), '--state', join(work, 'giveup-state')]);
      expect(run.code).toBe(1);
      const items = (await readReport(join(work, 'giveup.json'))).items;
      expect(items.find((i) => i.chart === 'res-1' && i.version === '1.0.2')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/503 service unavailable/) });
      expect(items.filter((i) => i.status === 'pushed')).toHaveLength(4);
      expect(proxy.log().filter((r) => r.path === '/res-1-1.0.2.tgz')).toHaveLength(3);
    } finally {
      await proxy.stop();
    }
  });

  it('requestsPerSecond caps the request rate to a registry', async () => {
    const proxy = await startFaultProxy(registry.baseUrl, () => undefined);
    try {
      const cfg = await writeConfig(work, {
        sources: [{ name: 'src', url: server.url, charts: { include: ['res-2', 'res-3'] } }],
        targets: [{ name: 'reg', url: `oci://${proxy.host}/paced`, plainHttp: true, requestsPerSecond: 20 }],
      }, 'paced.yaml');
      const run = await chartmirror(['sync', '--config', cfg, '--state', join(work, 'paced-state')]);
      expect(run.code, run.stderr).toBe(0);
      const times = proxy.log().map((r) => r.at);
      expect(times.length).toBeGreaterThan(30);
      // N requests at 20 per second take at least (N - 1) / 20 seconds.
      const spanSeconds = (Math.max(...times) - Math.min(...times)) / 1000;
      expect(spanSeconds).toBeGreaterThanOrEqual(((times.length - 1) / 20) * 0.9);
    } finally {
      await proxy.stop();
    }
  });

  it('a republished version (new digest in the index) is checked again, not trusted from the journal', async () => {
    const state = join(work, 'repub-state');
    const cfg = await writeConfig(work, {
      sources: [{ name: 'src', url: server.url, charts: { include: ['res-5'] } }],
      targets: [{ name: 'reg', url: registry.oci('repub'), plainHttp: true }],
    }, 'repub.yaml');
    expect((await chartmirror(['sync', '--config', cfg, '--state', state])).code).toBe(0);
    const indexFile = join(work, 'repo', 'index.yaml');
    const original = await readFile(indexFile, 'utf8');
    const c = charts.find((x) => x.name === 'res-5' && x.version === '1.0.0')!;
    try {
      // Same version, other bytes: the index now lists a different digest.
      const index = yaml.load(original) as { entries: Record<string, Array<{ version: string; digest: string }>> };
      index.entries['res-5']!.find((e) => e.version === '1.0.0')!.digest = '0'.repeat(64);
      await writeFile(indexFile, yaml.dump(index));
      const run = await chartmirror(['sync', '--config', cfg, '--state', state, '--report', join(work, 'repub.json')]);
      const item = (await readReport(join(work, 'repub.json'))).items.find((i) => i.chart === 'res-5' && i.version === '1.0.0')!;
      expect(run.code).toBe(1);
      expect(item.status).toBe('failed');
      expect(item.reason).toMatch(/digest mismatch/);
      expect(c.file).toBe('res-5-1.0.0.tgz');
    } finally {
      await writeFile(indexFile, original);
    }
  });
});
