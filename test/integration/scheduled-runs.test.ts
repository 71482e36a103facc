/**
 * Scheduled runs (issue 13): sharding (--shard i/n, auto/n from JOB_COMPLETION_INDEX), report
 * merge, the state lock (two real processes started together), and the registry-backed state
 * (journal and index cache as OCI artifacts, pushed during the run, surviving a kill -9).
 * A real registry, a repository served by nginx, the fault proxy only to hold downloads.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, utimes, writeFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { CLI, chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { craftRepo } from './registry-helpers.js';

type Report = { items: ReportItem[]; summary: Record<string, number>; shard?: { index: number; count: number }; merged?: { reports: number } };
type Plan = { shard?: { index: number; count: number }; jobs: Array<{ chart: string; version: string }>; settled: ReportItem[] };

const CHARTS: Array<[string, string]> = [];
for (const name of ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta']) CHARTS.push([name, '1.0.0'], [name, '1.1.0']);

interface Proc {
  pid: number;
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** A chartmirror process whose pid we know (to check that the loser names the winner). */
function start(args: string[], cwd: string, env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return {
    pid: child.pid!,
    done: new Promise((resolve) =>
      child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })),
    ),
  };
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

/** The journal layer of a registry-backed state, as lines; undefined when the tag is absent. */
async function registryJournal(reg: RunningRegistry, repo: string, tag: string): Promise<string[] | undefined> {
  const m = await fetch(`${reg.baseUrl}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  if (m.status === 404) return undefined;
  const manifest = (await m.json()) as { artifactType: string; layers: Array<{ digest: string; annotations: Record<string, string> }> };
  expect(manifest.artifactType).toBe('application/vnd.chartmirror.state.v1');
  const layer = manifest.layers.find((l) => l.annotations['org.opencontainers.image.title'] === 'journal.jsonl')!;
  const blob = await fetch(`${reg.baseUrl}/v2/${repo}/blobs/${layer.digest}`);
  expect(blob.status).toBe(200);
  return (await blob.text()).split('\n').filter(Boolean);
}

async function lockAnnotation(reg: RunningRegistry, repo: string, tag: string): Promise<Record<string, unknown> | undefined> {
  const m = await fetch(`${reg.baseUrl}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  if (m.status === 404) return undefined;
  const manifest = (await m.json()) as { annotations: Record<string, string> };
  return JSON.parse(manifest.annotations['dev.chartmirror.lock']!) as Record<string, unknown>;
}

describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('scheduled runs: shards, report merge, locks, registry-backed state', () => {
  let work: string;
  let server: StaticServer;
  let proxy: FaultProxy;
  let registry: RunningRegistry;
  let holding = false;

  beforeAll(async () => {
    work = await tmpDir('scheduled-');
    await craftRepo(join(work, 'repo'), CHARTS);
    server = await startStaticServer({ root: join(work, 'repo') });
    // Downloads are held while `holding` is set: a run is then known to be in flight.
    proxy = await startFaultProxy(server.url, (req) => (holding && req.path.endsWith('.tgz') ? 'hold' : undefined));
    registry = await startRegistry();
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
    await registry?.stop();
  });

  const config = async (dir: string, repo: string, extra: Record<string, unknown> = {}) => {
    await mkdir(dir, { recursive: true });
    return writeConfig(dir, {
      sources: [{ name: 'src', url: proxy.url }],
      targets: [{ name: 'reg', url: registry.oci(repo), plainHttp: true }],
      ...extra,
    });
  };

  describe('sharding', () => {
    it('plan --shard: the shards are disjoint, each non-empty, and together the whole plan; every version of a chart in one shard', async () => {
      const dir = join(work, 'plan-shards');
      const cfg = await config(dir, 'plan-shards');
      const whole = join(dir, 'whole.json');
      expect((await chartmirror(['plan', '-c', cfg, '-o', whole, '--quiet'])).code).toBe(0);
      const all = (await readJson<Plan>(whole)).jobs.map((j) => `${j.chart}@${j.version}`).sort();
      expect(all).toHaveLength(CHARTS.length);
      const parts: string[][] = [];
      for (let i = 0; i < 3; i++) {
        const out = join(dir, `shard-${i}.json`);
        const r = await chartmirror(['plan', '-c', cfg, '--shard', `${i}/3`, '-o', out, '--quiet']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`Plan for shard ${i}/3.`);
        const p = await readJson<Plan>(out);
        expect(p.shard).toEqual({ index: i, count: 3 });
        parts.push(p.jobs.map((j) => `${j.chart}@${j.version}`));
      }
      for (const part of parts) expect(part.length).toBeGreaterThan(0);
      expect(parts.flat().sort()).toEqual(all);
      expect(new Set(parts.flat()).size).toBe(all.length);
      for (const [name] of CHARTS) expect(parts.filter((p) => p.some((j) => j.startsWith(`${name}@`)))).toHaveLength(1);
    });

    it('auto/n takes the index from JOB_COMPLETION_INDEX, CHARTMIRROR_SHARD stands in for --shard; bad shards are exit 2 with one line', async () => {
      const dir = join(work, 'auto');
      const cfg = await config(dir, 'auto');
      const plan = async (args: string[], env: Record<string, string> = {}) => {
        const out = join(dir, `p-${Math.random().toString(36).slice(2)}.json`);
        const r = await chartmirror(['plan', '-c', cfg, '-o', out, '--quiet', ...args], { env });
        return { r, plan: r.code === 0 ? await readJson<Plan>(out) : undefined };
      };
      const explicit = await plan(['--shard', '2/3']);
      const auto = await plan(['--shard', 'auto/3'], { JOB_COMPLETION_INDEX: '2' });
      const env = await plan([], { CHARTMIRROR_SHARD: '2/3' });
      expect(auto.plan!.shard).toEqual({ index: 2, count: 3 });
      expect(auto.plan!.jobs).toEqual(explicit.plan!.jobs);
      expect(env.plan!.jobs).toEqual(explicit.plan!.jobs);

      const noIndex = await plan(['--shard', 'auto/3'], { JOB_COMPLETION_INDEX: '' });
      expect(noIndex.r.code).toBe(2);
      expect(noIndex.r.stderr).toMatch(/JOB_COMPLETION_INDEX/);
      expect(noIndex.r.stderr.trim().split('\n')).toHaveLength(1);
      for (const bad of ['3/3', '1/0', 'one/3', '-1/3']) {
        const r = (await plan(['--shard', bad])).r;
        expect(r.code, bad).toBe(2);
        expect(r.stderr, bad).toMatch(/--shard/);
        expect(r.stderr, bad).not.toMatch(/\n\s+at /);
      }
    });

    it('sync per shard, then report merge: totals of the whole; a missing shard is exit 1; a sharded run after an unsharded one trusts its journal', async () => {
      const dir = join(work, 'sync-shards');
      const cfg = await config(dir, 'sync-shards');
      const files: string[] = [];
      for (let i = 0; i < 2; i++) {
        const file = join(dir, `r${i}.json`);
        const r = await chartmirror(['sync', '-c', cfg, '--shard', `${i}/2`, '--report', file, '--quiet']);
        expect(r.code, r.stderr).toBe(0);
        expect((await readJson<Report>(file)).shard).toEqual({ index: i, count: 2 });
        files.push(file);
      }
      // Each shard keeps its own state; neither left its lock behind.
      expect((await readdir(join(dir, '.chartmirror'))).sort()).toEqual(['shard-0-of-2', 'shard-1-of-2']);
      for (const s of ['shard-0-of-2', 'shard-1-of-2']) expect(existsSync(join(dir, '.chartmirror', s, 'lock.json'))).toBe(false);

      const merged = join(dir, 'merged.json');
      const md = join(dir, 'merged.md');
      const xml = join(dir, 'merged.xml');
      const m = await chartmirror(['report', 'merge', ...files, '--report', merged, '--report-md', md, '--junit', xml]);
      expect(m.code, m.stderr).toBe(0);
      expect(m.stdout).toContain(`2 reports merged; done: ${CHARTS.length} pushed`);
      const report = await readJson<Report>(merged);
      expect(report.summary.pushed).toBe(CHARTS.length);
      expect(report.items).toHaveLength(CHARTS.length);
      expect(report.merged).toEqual({ reports: 2, shards: [{ index: 0, count: 2 }, { index: 1, count: 2 }] });
      expect(await readFile(md, 'utf8')).toContain(String(CHARTS.length));
      expect((await readFile(xml, 'utf8')).match(/<testcase /g)).toHaveLength(CHARTS.length);

      const partial = await chartmirror(['report', 'merge', files[0]!]);
      expect(partial.code).toBe(1);
      expect(partial.stderr).toContain('shard 1/2 missing');
      await writeFile(join(dir, 'not-a-report.json'), '{"items": 3}');
      const bad = await chartmirror(['report', 'merge', join(dir, 'not-a-report.json')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/not-a-report\.json: not a chartmirror report/);

      // Unsharded now: the shards' journals are consulted, so nothing is checked again.
      const again = join(dir, 'again.json');
      expect((await chartmirror(['sync', '-c', cfg, '--report', again, '--quiet'])).code).toBe(0);
      const items = (await readJson<Report>(again)).items;
      expect(items.every((i) => i.status === 'present' && i.via === 'journal')).toBe(true);
    });

    it('an oci:// source: a shard lists the tags of its own charts only', async () => {
      // The charts synced above are the source now.
      const dir = join(work, 'oci-shards');
      await mkdir(dir, { recursive: true });
      const cfg = await writeConfig(dir, {
        sources: [{ name: 'oci', url: registry.oci('sync-shards'), plainHttp: true, charts: { include: CHARTS.map(([n]) => n).filter((n, i, a) => a.indexOf(n) === i) } }],
        targets: [{ name: 'disk', layout: './out' }],
      });
      await registry.clearRequests();
      const out = join(dir, 'p.json');
      expect((await chartmirror(['plan', '-c', cfg, '--shard', '0/2', '-o', out, '--quiet'])).code).toBe(0);
      const mine = new Set((await readJson<Plan>(out)).jobs.map((j) => j.chart));
      const listed = new Set((await registry.requests()).filter((r) => r.path.endsWith('/tags/list')).map((r) => r.path.split('/').slice(-3, -2)[0]!));
      expect(mine.size).toBeGreaterThan(0);
      expect(listed).toEqual(mine);
    });
  });

  describe('the lock', () => {
    it('two runs started together on one state directory: one works, the other exits 2 naming it; nothing is lost', async () => {
      const dir = join(work, 'race-dir');
      const cfg = await config(dir, 'race-dir');
      holding = true;
      const a = start(['sync', '-c', cfg, '--report', 'a.json', '--quiet'], dir);
      const b = start(['sync', '-c', cfg, '--report', 'b.json', '--quiet'], dir);
      // The winner is held at its downloads, so the loser must meet its lock.
      const loser = await Promise.race([a.done.then((r) => ({ r, p: a, other: b })), b.done.then((r) => ({ r, p: b, other: a }))]);
      holding = false;
      proxy.release();
      const winner = await loser.other.done;
      expect(loser.r.code, loser.r.stderr).toBe(2);
      expect(loser.r.stderr).toContain(`is in use by a chartmirror sync (pid ${loser.other.pid} on host ${hostname()}, started 20`);
      expect(loser.r.stderr.trim().split('\n')).toHaveLength(1);
      expect(winner.code, winner.stderr).toBe(0);

      const name = loser.other === a ? 'a.json' : 'b.json';
      expect((await readJson<Report>(join(dir, name))).summary.pushed).toBe(CHARTS.length);
      const lines = (await readFile(join(dir, '.chartmirror', 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean);
      expect(lines).toHaveLength(CHARTS.length);
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
      expect(existsSync(join(dir, '.chartmirror', 'lock.json'))).toBe(false);
      const third = await chartmirror(['sync', '-c', cfg, '--report', 'c.json', '--quiet'], { cwd: dir });
      expect(third.code).toBe(0);
      expect((await readJson<Report>(join(dir, 'c.json'))).items.every((i) => i.via === 'journal')).toBe(true);
    });

    it('a stale lock is taken over with a warning; a live one on another host is respected until its lease ends', async () => {
      const dir = join(work, 'stale');
      const cfg = await config(dir, 'stale');
      const lock = join(dir, '.chartmirror', 'lock.json');
      await mkdir(join(dir, '.chartmirror'), { recursive: true });

      // Our host, a process that is gone.
      await writeFile(lock, JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), startedAt: '2026-01-01T00:00:00Z', token: 'gone' }));
      const r1 = await chartmirror(['sync', '-c', cfg], { cwd: dir });
      expect(r1.code, r1.stderr).toBe(0);
      expect(r1.stderr).toMatch(/took over the lock of another chartmirror run \(pid 4194311 on host .*\): its process is gone/);

      // Another host, renewed just now: held.
      await writeFile(lock, JSON.stringify({ pid: 4242, host: 'node-7', startedAt: '2026-11-30T01:00:00Z', token: 'live', command: 'sync' }));
      const r2 = await chartmirror(['sync', '-c', cfg], { cwd: dir });
      expect(r2.code).toBe(2);
      expect(r2.stderr).toContain('is in use by a chartmirror sync (pid 4242 on host node-7, started 2026-11-30T01:00:00Z)');
      expect(r2.stderr).toContain(lock);

      // The same lock, not renewed for longer than the lease: taken over.
      const old = new Date(Date.now() - 6 * 60_000);
      await utimes(lock, old, old);
      const r3 = await chartmirror(['sync', '-c', cfg], { cwd: dir });
      expect(r3.code, r3.stderr).toBe(0);
      expect(r3.stderr).toMatch(/took over the lock of a chartmirror sync \(pid 4242 on host node-7.*not renewed for \d+ s/);
      expect(existsSync(lock)).toBe(false);
    });

    it('plan and dry runs take no lock (they write nothing)', async () => {
      const dir = join(work, 'stale');
      const cfg = join(dir, 'mirror.config.yaml');
      const lock = join(dir, '.chartmirror', 'lock.json');
      await writeFile(lock, JSON.stringify({ pid: 4242, host: 'node-7', startedAt: '2026-11-30T01:00:00Z', token: 'live' }));
      const r = await chartmirror(['plan', '-c', cfg, '--quiet'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(lock)).toBe(true);
    });
  });

  describe('state in a registry', () => {
    it('a run keeps its journal and index cache in the registry; the next run, on a machine without them, trusts them', async () => {
      const dir = join(work, 'reg-state');
      const store = registry.oci('ops/chartmirror-state');
      const cfg = await config(dir, 'reg-state', { state: { store } });
      const r1 = await chartmirror(['sync', '-c', cfg, '--report', 'r1.json', '--quiet'], { cwd: dir });
      expect(r1.code, r1.stderr).toBe(0);
      expect(existsSync(join(dir, '.chartmirror'))).toBe(false);
      expect(await registryJournal(registry, 'ops/chartmirror-state', 'state')).toHaveLength(CHARTS.length);
      expect(await lockAnnotation(registry, 'ops/chartmirror-state', 'lock')).toMatchObject({ released: true, command: 'sync' });

      const r2 = await chartmirror(['sync', '-c', cfg, '--report', 'r2.json', '--log-format', 'json'], { cwd: dir });
      expect(r2.code, r2.stderr).toBe(0);
      expect((await readJson<Report>(join(dir, 'r2.json'))).items.every((i) => i.status === 'present' && i.via === 'journal')).toBe(true);
      // The cached index came along: nginx answered the conditional fetch with a 304.
      expect(r2.stderr).toMatch(/"event":"source".*"notModified":true/);

      // --state oci://… overrides the config, and a sharded run keeps its own artifact.
      const r3 = await chartmirror(['sync', '-c', cfg, '--state', registry.oci('ops/other-state'), '--shard', '1/2', '--quiet'], { cwd: dir });
      expect(r3.code, r3.stderr).toBe(0);
      expect((await registryJournal(registry, 'ops/other-state', 'state-shard-1-of-2'))!.length).toBeGreaterThan(0);
      expect(await registryJournal(registry, 'ops/other-state', 'state')).toBeUndefined();
    });

    it('pushed during a long run: after a kill -9, the artifact is whole and the next run skips what was pushed', async () => {
      const dir = join(work, 'reg-kill');
      const repo = 'ops/kill-state';
      const cfg = await config(dir, 'reg-kill', { state: { store: registry.oci(repo), pushInterval: '1s' }, concurrency: 1 });
      // Hold the last chart's downloads only: the others are confirmed and pushed first.
      const last = CHARTS[CHARTS.length - 1]!;
      proxy.setPlan((req) => (req.path.endsWith(`${last[0]}-${last[1]}.tgz`) ? 'hold' : undefined));
      const p = start(['sync', '-c', cfg, '--quiet'], dir);
      await waitFor(async () => ((await registryJournal(registry, repo, 'state'))?.length ?? 0) === CHARTS.length - 1, {
        what: 'the journal of every chart but the held one in the registry',
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      process.kill(p.pid, 'SIGKILL');
      await p.done;
      proxy.setPlan(() => undefined);
      proxy.release();

      expect(await registryJournal(registry, repo, 'state')).toHaveLength(CHARTS.length - 1);
      // Its lock is still there (no release), but its holder ran here and is gone: taken over.
      expect(await lockAnnotation(registry, repo, 'lock')).toMatchObject({ pid: p.pid });
      const next = await chartmirror(['sync', '-c', cfg, '--report', 'next.json'], { cwd: dir });
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toContain(`took over the lock of a chartmirror sync (pid ${p.pid} on host ${hostname()}`);
      expect(next.stderr).toContain('its process is gone');
      const items = (await readJson<Report>(join(dir, 'next.json'))).items;
      expect(items.filter((i) => i.via === 'journal')).toHaveLength(CHARTS.length - 1);
      expect(items.filter((i) => i.status === 'pushed' || i.via === 'target').map((i) => `${i.chart}-${i.version}`)).toEqual([`${last[0]}-${last[1]}`]);
      expect(await registryJournal(registry, repo, 'state')).toHaveLength(CHARTS.length);
    });

    it('a registry lock held by a live run elsewhere is respected: exit 2 naming it and the lock', async () => {
      const dir = join(work, 'reg-held');
      const repo = 'ops/held-state';
      const cfg = await config(dir, 'reg-held', { state: { store: registry.oci(repo) } });
      // Written by the library, as another host's run would: its lease runs for five minutes.
      const { RegistryState } = await import('../../src/state/registry-state.js');
      const { RegistryRepository } = await import('../../src/content/registry.js');
      const { RegistryConnector } = await import('../../src/registry/connect.js');
      const { HttpClient } = await import('../../src/http/client.js');
      const http = new HttpClient({ userAgent: 'test' });
      const client = new RegistryConnector(http).client({ registry: registry.host, plainHttp: true, connections: 2 });
      const other = new RegistryState(new RegistryRepository(client, repo, { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 } }), 'state', 'lock');
      const held = await other.lock({ command: 'sync', leaseMs: 300_000, renewMs: 60_000, settleMs: 10 });
      try {
        const r = await chartmirror(['sync', '-c', cfg, '--quiet'], { cwd: dir });
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`is in use by a chartmirror sync (pid ${process.pid} on host ${hostname()}`);
        expect(r.stderr).toContain(`${registry.host}/${repo}:lock`);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      } finally {
        await held.release();
        await http.close();
      }
      // Released: the next run goes ahead.
      expect((await chartmirror(['sync', '-c', cfg, '--quiet'], { cwd: dir })).code).toBe(0);
    });

    it('two runs started together on one registry state: one works, the other exits 2 naming it', async () => {
      const dir = join(work, 'race-reg');
      const cfg = await config(dir, 'race-reg', { state: { store: registry.oci('ops/race-state') } });
      holding = true;
      const a = start(['sync', '-c', cfg, '--report', 'a.json', '--quiet'], dir);
      const b = start(['sync', '-c', cfg, '--report', 'b.json', '--quiet'], dir);
      const loser = await Promise.race([a.done.then((r) => ({ r, other: b })), b.done.then((r) => ({ r, other: a }))]);
      holding = false;
      proxy.release();
      const winner = await loser.other.done;
      expect(loser.r.code, loser.r.stderr).toBe(2);
      expect(loser.r.stderr).toContain(`(pid ${loser.other.pid} on host ${hostname()}`);
      expect(winner.code, winner.stderr).toBe(0);
      expect(await registryJournal(registry, 'ops/race-state', 'state')).toHaveLength(CHARTS.length);
      expect(await lockAnnotation(registry, 'ops/race-state', 'lock')).toMatchObject({ released: true, pid: loser.other.pid });
    });
  });
});
