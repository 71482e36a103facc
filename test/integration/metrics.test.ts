/**
 * Prometheus metrics of real runs (docs/metrics.md): pushed to the real Prometheus Pushgateway
 * and read back from what it serves, and written to a file that promtool checks.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { CLI, chartmirror, writeConfig } from '../support/cli.js';
import { run } from '../support/exec.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { REPO_ROOT } from '../support/helm.js';
import { freePort } from '../support/proc.js';
import { parseExposition, sample, startPushgateway, type RunningPushgateway, type Sample } from '../support/pushgateway.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';

const EXAMPLES = join(REPO_ROOT, 'examples', 'repo');
/** examples/repo: seven chart versions. */
const VERSIONS = 7;
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const source = { name: 'examples', url: EXAMPLES, verify: { provenance: 'ignore' } };

/** A config in a fresh directory of its own (so its state directory is fresh too). */
async function configIn(name: string, config: Record<string, unknown>): Promise<string> {
  return writeConfig(await tmpDir('metrics-it-'), config, name);
}

/** A target nobody listens on, tried once: every version fails fast. */
async function refusingTarget(): Promise<Record<string, unknown>> {
  return { name: 'registry', url: `oci://127.0.0.1:${await freePort()}/mirror`, plainHttp: true };
}

const ours = (samples: Sample[]) => samples.filter((s) => s.name.startsWith('chartmirror_'));
const items = (samples: Sample[], target: string, status: string) => sample(samples, 'chartmirror_run_items', { source: 'examples', target, status }).value;
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning:'));

describe.skipIf(!haveBinaries('prometheus-pushgateway', 'docker-registry'))('metrics pushed to a real Pushgateway', () => {
  let gateway: RunningPushgateway;
  let registry: RunningRegistry;

  beforeAll(async () => {
    [gateway, registry] = await Promise.all([startPushgateway(), startRegistry()]);
  });
  afterAll(async () => {
    await gateway?.stop();
    await registry?.stop();
  });

  it('a sync pushes its series grouped by job and config; a failed run pushes success 0 and the last success stays as it was', async () => {
    const good = await configIn('nightly.yaml', { sources: [source], targets: [{ name: 'registry', url: registry.oci('mirror'), plainHttp: true }] });
    const before = Date.now() / 1000;
    const first = await chartmirror(['sync', '--config', good, '--pushgateway', gateway.url]);
    const after = Date.now() / 1000;
    expect(first.code, first.stderr).toBe(0);
    expect(warnings(first.stderr)).toEqual([]);

    const s1 = ours(await gateway.samples());
    expect(s1.length).toBeGreaterThan(10);
    for (const s of s1) {
      // The grouping labels: job and the config's name; no shard, this run is not sharded.
      expect(s.labels, s.name).toMatchObject({ job: 'chartmirror', config: 'nightly' });
      expect(s.labels, s.name).not.toHaveProperty('shard');
    }
    expect(items(s1, 'registry', 'pushed')).toBe(VERSIONS);
    expect(['present', 'failed', 'excluded', 'planned'].map((st) => items(s1, 'registry', st))).toEqual([0, 0, 0, 0]);
    expect(sample(s1, 'chartmirror_run_uploaded_bytes', { target: 'registry' }).value).toBeGreaterThan(0);
    expect(sample(s1, 'chartmirror_run_success').value).toBe(1);
    const lastSuccess = sample(s1, 'chartmirror_last_success_timestamp_seconds').value;
    expect(lastSuccess).toBeGreaterThanOrEqual(Math.floor(before));
    expect(lastSuccess).toBeLessThanOrEqual(after);
    expect(sample(s1, 'chartmirror_last_run_timestamp_seconds').value).toBe(lastSuccess);
    expect(sample(s1, 'chartmirror_run_duration_seconds').value).toBeGreaterThan(0);
    expect(sample(s1, 'chartmirror_http_requests_total', { host: registry.host, code: '2xx' }).value).toBeGreaterThan(0);
    expect(sample(s1, 'chartmirror_http_retries_total', { host: registry.host }).value).toBe(0);
    expect(sample(s1, 'chartmirror_source_index_fetch_seconds', { source: 'examples' }).value).toBeGreaterThanOrEqual(0);
    expect(sample(s1, 'chartmirror_source_index_not_modified', { source: 'examples' }).value).toBe(0);
    expect(sample(s1, 'chartmirror_info').labels.version).toBe(VERSION);

    // The same config name elsewhere (the same group), now with a target that refuses connections.
    const bad = await configIn('nightly.yaml', { sources: [source], targets: [await refusingTarget()], http: { retries: { attempts: 1 } } });
    const failed = await chartmirror(['sync', '--config', bad, '--pushgateway', gateway.url]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(warnings(failed.stderr)).toEqual([]);
    const s2 = ours(await gateway.samples());
    expect(sample(s2, 'chartmirror_run_success').value).toBe(0);
    expect(items(s2, 'registry', 'failed')).toBe(VERSIONS);
    expect(items(s2, 'registry', 'pushed')).toBe(0);
    expect(sample(s2, 'chartmirror_last_run_timestamp_seconds').value).toBeGreaterThan(lastSuccess);
    // The series people alert on: left out of a failed run's push, so the Pushgateway keeps it.
    expect(sample(s2, 'chartmirror_last_success_timestamp_seconds').value).toBe(lastSuccess);
    const refused = s2.filter((s) => s.name === 'chartmirror_http_requests_total');
    expect(refused.map((s) => s.labels.code)).toEqual(['error']);
    expect(refused[0]!.value).toBeGreaterThanOrEqual(VERSIONS);
  });

  it('a Pushgateway URL with user:password@: basic auth is sent, and the password is never printed', async () => {
    const secured = await startPushgateway({ basicAuth: { username: 'pusher', password: 'pg-Secret-8472' } });
    try {
      const config = await configIn('mirror.config.yaml', { sources: [source], targets: [{ name: 'disk', layout: './out' }] });
      const ok = await chartmirror(['sync', '--config', config, '--pushgateway', secured.authUrl!]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(warnings(ok.stderr)).toEqual([]);
      expect(sample(await secured.samples(), 'chartmirror_run_items', { config: 'mirror.config', target: 'disk', status: 'pushed' }).value).toBe(VERSIONS);

      const wrong = await chartmirror(['sync', '--config', config, '--pushgateway', `http://pusher:Wrong-pw-1234@${secured.host}`]);
      expect(wrong.code, wrong.stderr).toBe(0);
      expect(warnings(wrong.stderr)).toEqual([
        expect.stringMatching(new RegExp(`^warning: metrics: cannot push to the Pushgateway at http://${secured.host}/ \\(HTTP 401\\b.*\\); check --pushgateway`)),
      ]);
      expect(wrong.stderr).not.toContain('Wrong-pw-1234');
      // The warning comes before the closing summary, which stays the last line.
      expect(wrong.stderr.trim().split('\n').at(-1)).toMatch(/^done: /);
    } finally {
      await secured.stop();
    }
  });

  it('an unreachable Pushgateway with credentials: one warning without them, and the exit code is the run\'s', async () => {
    const url = `http://pusher:pg-Secret-8472@127.0.0.1:${await freePort()}/prefix`;
    const good = await configIn('mirror.config.yaml', { sources: [source], targets: [{ name: 'disk', layout: './out' }] });
    const bad = await configIn('mirror.config.yaml', { sources: [source], targets: [await refusingTarget()], http: { retries: { attempts: 1 } } });
    for (const [config, code] of [[good, 0], [bad, 1]] as const) {
      const r = await chartmirror(['sync', '--config', config, '--quiet', '--pushgateway', url]);
      expect(r.code, r.stderr).toBe(code);
      expect(warnings(r.stderr)).toEqual([expect.stringMatching(/^warning: metrics: cannot push to the Pushgateway at http:\/\/127\.0\.0\.1:\d+\/prefix \(connection refused\); check --pushgateway, and that the Pushgateway is up and reachable from here$/)]);
      expect(r.stderr).not.toContain('pg-Secret-8472');
      expect(r.stderr).not.toContain('pusher');
    }
  });
});

describe.skipIf(!haveBinaries('promtool', 'docker-registry'))('--metrics-file', () => {
  let registry: RunningRegistry;
  let dir: string;
  let file: string;
  let lastSuccess: number;

  const promtool = (text: string) => run('promtool', ['check', 'metrics'], { input: text });

  beforeAll(async () => {
    registry = await startRegistry();
    dir = await tmpDir('metrics-file-');
    file = join(dir, 'textfile', 'chartmirror.prom'); // textfile/ does not exist yet
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('a registry run writes a file promtool finds clean: requests by host and status class, the config on every series, no temp file', async () => {
    const config = await configIn('mirror.config.yaml', { sources: [source], targets: [{ name: 'registry', url: registry.oci('file'), plainHttp: true }] });
    const r = await chartmirror(['sync', '--config', config, '--metrics-file', file]);
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(file, 'utf8');
    const check = await promtool(text);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect((check.stdout + check.stderr).trim()).toBe('');
    // promtool does say no: a counter without _total.
    expect((await promtool('# HELP x_requests x\n# TYPE x_requests counter\nx_requests 1\n')).code).not.toBe(0);
    expect(await readdir(join(dir, 'textfile'))).toEqual(['chartmirror.prom']);

    const s = parseExposition(text);
    for (const x of s) {
      expect(x.labels, x.name).toMatchObject({ config: 'mirror.config' });
      expect(x.labels, x.name).not.toHaveProperty('job');
    }
    expect(sample(s, 'chartmirror_http_requests_total', { host: registry.host, code: '2xx' }).value).toBeGreaterThan(0);
    // HEAD of tags the registry does not have yet.
    expect(sample(s, 'chartmirror_http_requests_total', { host: registry.host, code: '4xx' }).value).toBeGreaterThan(0);
    expect(items(s, 'registry', 'pushed')).toBe(VERSIONS);
    expect(sample(s, 'chartmirror_run_success').value).toBe(1);
    lastSuccess = sample(s, 'chartmirror_last_success_timestamp_seconds').value;
    expect(lastSuccess).toBe(sample(s, 'chartmirror_last_run_timestamp_seconds').value);
  });

  it('a failed run keeps the last success of the file it replaces', async () => {
    expect(lastSuccess).toBeGreaterThan(0);
    const bad = await configIn('mirror.config.yaml', { sources: [source], targets: [await refusingTarget()], http: { retries: { attempts: 1 } } });
    const r = await chartmirror(['sync', '--config', bad, '--metrics-file', file]);
    expect(r.code, r.stderr).toBe(1);
    const text = await readFile(file, 'utf8');
    expect((await promtool(text)).code).toBe(0);
    const s = parseExposition(text);
    expect(sample(s, 'chartmirror_run_success').value).toBe(0);
    expect(items(s, 'registry', 'failed')).toBe(VERSIONS);
    expect(sample(s, 'chartmirror_last_success_timestamp_seconds').value).toBe(lastSuccess);
    expect(sample(s, 'chartmirror_last_run_timestamp_seconds').value).toBeGreaterThan(lastSuccess);
    expect(await readdir(join(dir, 'textfile'))).toEqual(['chartmirror.prom']);
  });

  it('a run stopped by an index it cannot read (exit 2) still writes its metrics: success 0, nothing done, the last success kept', async () => {
    expect(lastSuccess).toBeGreaterThan(0);
    const config = await configIn('mirror.config.yaml', {
      sources: [{ name: 'examples', url: `http://127.0.0.1:${await freePort()}/charts` }],
      targets: [{ name: 'disk', layout: './out' }],
      http: { retries: { attempts: 1 } },
    });
    const r = await chartmirror(['sync', '--config', config, '--metrics-file', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/cannot read the index/);
    const text = await readFile(file, 'utf8');
    expect((await promtool(text)).code).toBe(0);
    const s = parseExposition(text);
    expect(sample(s, 'chartmirror_run_success').value).toBe(0);
    expect(['pushed', 'present', 'failed', 'excluded', 'planned'].map((st) => items(s, 'disk', st))).toEqual([0, 0, 0, 0, 0]);
    expect(sample(s, 'chartmirror_http_requests_total', { code: 'error' }).labels.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(sample(s, 'chartmirror_last_success_timestamp_seconds').value).toBe(lastSuccess);
  });

  it('a 429 from the registry shows up as a throttled, paused and retried host', async () => {
    let fired = false;
    // The first manifest PUT is answered 429 with Retry-After: 1; everything else goes through.
    const proxy = await startFaultProxy(registry.baseUrl, ({ method, path }) => {
      if (fired || method !== 'PUT' || !path.includes('/manifests/')) return undefined;
      fired = true;
      return '429';
    });
    try {
      const config = await configIn('mirror.config.yaml', { sources: [source], targets: [{ name: 'registry', url: `oci://${proxy.host}/throttled`, plainHttp: true }] });
      const out = join(await tmpDir('metrics-429-'), 'm.prom');
      const r = await chartmirror(['sync', '--config', config, '--metrics-file', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.injected()['429']).toBe(1);
      const text = await readFile(out, 'utf8');
      expect((await promtool(text)).code).toBe(0);
      const s = parseExposition(text);
      expect(sample(s, 'chartmirror_http_throttled_total', { host: proxy.host }).value).toBe(1);
      const waited = sample(s, 'chartmirror_http_throttle_wait_seconds_total', { host: proxy.host }).value;
      expect(waited).toBeGreaterThan(0);
      expect(waited).toBeLessThanOrEqual(1);
      expect(sample(s, 'chartmirror_http_retries_total', { host: proxy.host }).value).toBe(1);
      expect(sample(s, 'chartmirror_http_requests_total', { host: proxy.host, code: '4xx' }).value).toBeGreaterThanOrEqual(1);
      expect(items(s, 'registry', 'pushed')).toBe(VERSIONS);
    } finally {
      await proxy.stop();
    }
  });

  it('an interrupted run (SIGTERM, exit 143) writes its metrics: success 0, what was done and what was not', async () => {
    // Two manifests go through, the next ones are held until the run has taken the signal.
    let manifests = 0;
    const proxy = await startFaultProxy(registry.baseUrl, ({ method, path }) => (method === 'PUT' && path.includes('/manifests/') && ++manifests > 2 ? 'hold' : undefined));
    try {
      const config = await configIn('mirror.config.yaml', {
        sources: [source],
        targets: [{ name: 'registry', url: `oci://${proxy.host}/interrupted`, plainHttp: true }],
        concurrency: 2,
      });
      const out = join(await tmpDir('metrics-int-'), 'm.prom');
      const child = spawn(process.execPath, [CLI, 'sync', '--config', config, '--metrics-file', out], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await waitFor(() => proxy.injected().hold === 2, { what: 'two held manifest PUTs (concurrency 2)', timeoutMs: 60_000 });
      child.kill('SIGTERM');
      await waitFor(() => /SIGTERM: stopping/.test(stderr), { what: 'the CLI to take SIGTERM' });
      proxy.release();
      expect(await exited, stderr).toBe(143);
      const text = await readFile(out, 'utf8');
      expect((await promtool(text)).code).toBe(0);
      const s = parseExposition(text);
      expect(sample(s, 'chartmirror_run_success').value).toBe(0);
      expect(items(s, 'registry', 'pushed')).toBe(4); // the two that went through and the two in flight
      expect(items(s, 'registry', 'failed')).toBe(VERSIONS - 4);
      // Never a success in this file: the series is absent rather than 0.
      expect(s.some((x) => x.name === 'chartmirror_last_success_timestamp_seconds')).toBe(false);
    } finally {
      await proxy.stop();
    }
  });

  it('import takes --metrics-file too: the bundle\'s items and the registry\'s requests, no config label', async () => {
    const work = await tmpDir('metrics-import-');
    const config = await writeConfig(work, { sources: [source], targets: [{ name: 'disk', layout: './unused' }] });
    const bundle = join(work, 'bundle.tar');
    const exported = await chartmirror(['export', '--config', config, '--to', bundle, '--quiet']);
    expect(exported.code, exported.stderr).toBe(0);
    const out = join(work, 'import.prom');
    const r = await chartmirror(['import', '--from', bundle, '--to', registry.oci('imported'), '--plain-http', '--state', join(work, 'state'), '--quiet', '--metrics-file', out]);
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(out, 'utf8');
    expect((await promtool(text)).code).toBe(0);
    const s = parseExposition(text);
    expect(s.every((x) => !('config' in x.labels))).toBe(true);
    expect(items(s, registry.oci('imported'), 'pushed')).toBe(VERSIONS);
    expect(sample(s, 'chartmirror_http_requests_total', { host: registry.host, code: '2xx' }).value).toBeGreaterThan(0);
    expect(sample(s, 'chartmirror_run_success').value).toBe(1);
  });
});

describe('--metrics-file that cannot be written', () => {
  it('is one warning line, and the exit code is the run\'s', async () => {
    const dir = await tmpDir('metrics-unwritable-');
    await writeFile(join(dir, 'not-a-dir'), 'x');
    const file = join(dir, 'not-a-dir', 'chartmirror.prom');
    const config = await configIn('mirror.config.yaml', { sources: [source], targets: [{ name: 'disk', layout: './out' }] });
    const r = await chartmirror(['sync', '--config', config, '--metrics-file', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([
      `warning: metrics: cannot write --metrics-file ${file} (part of the path is not a directory, EEXIST); check that its directory exists or can be created and is writable`,
    ]);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^done: 7 pushed/);
    // As JSON with --log-format json, like every other warning.
    const json = await chartmirror(['sync', '--config', config, '--metrics-file', file, '--log-format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const events = json.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'warning')).toEqual([expect.objectContaining({ message: expect.stringMatching(/^metrics: cannot write --metrics-file /) })]);
  });

  it('a --pushgateway that is not an http(s) URL is a usage error before anything runs', async () => {
    const config = await configIn('mirror.config.yaml', { sources: [source], targets: [{ name: 'disk', layout: './out' }] });
    const r = await chartmirror(['sync', '--config', config, '--pushgateway', 'ftp://u:Secret-99x@host/']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^chartmirror: --pushgateway ftp:\/\/host\/: must be an http:\/\/ or https:\/\/ URL/);
    expect(r.stderr).not.toContain('Secret-99x');
  });
});

describe.skipIf(!haveBinaries('nginx'))('index metrics of a source on a web server', () => {
  it('the index fetch time, and 304 Not Modified on the next run, with its request counted as 3xx', async () => {
    const server = await startStaticServer({ root: EXAMPLES });
    try {
      const config = await configIn('mirror.config.yaml', { sources: [{ ...source, url: server.url }], targets: [{ name: 'disk', layout: './out' }] });
      const out = join(await tmpDir('metrics-index-'), 'm.prom');
      const runs: Sample[][] = [];
      for (let i = 0; i < 2; i++) {
        const r = await chartmirror(['sync', '--config', config, '--metrics-file', out]);
        expect(r.code, r.stderr).toBe(0);
        runs.push(parseExposition(await readFile(out, 'utf8')));
      }
      const [first, second] = runs as [Sample[], Sample[]];
      expect(sample(first, 'chartmirror_source_index_not_modified', { source: 'examples' }).value).toBe(0);
      expect(sample(second, 'chartmirror_source_index_not_modified', { source: 'examples' }).value).toBe(1);
      expect(sample(second, 'chartmirror_source_index_fetch_seconds', { source: 'examples' }).value).toBeGreaterThan(0);
      expect(sample(first, 'chartmirror_http_requests_total', { host: server.host, code: '2xx' }).value).toBeGreaterThanOrEqual(1 + VERSIONS);
      // The second run: one conditional GET of the index, every version confirmed by the journal.
      expect(second.filter((x) => x.name === 'chartmirror_http_requests_total').map((x) => [x.labels.host, x.labels.code, x.value])).toEqual([[server.host, '3xx', 1]]);
      expect(items(second, 'disk', 'present')).toBe(VERSIONS);
    } finally {
      await server.stop();
    }
  });
});
