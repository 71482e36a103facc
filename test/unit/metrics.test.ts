import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChartMirrorError } from '../../src/errors.js';
import { HttpClient, statusError, type HttpObserver } from '../../src/http/client.js';
import { MetricsCollector, runSucceeded, statusClass, type RunOutcome } from '../../src/metrics/collector.js';
import { metricsLabels, parseLastSuccess, pushgatewayGrouping, writeMetricsFile } from '../../src/metrics/output.js';
import { retryReporter } from '../../src/pipeline/context.js';
import type { ItemResult, PipelineEvent } from '../../src/pipeline/events.js';
import { newPlan, serializePlan } from '../../src/pipeline/plan.js';
import { freePort } from '../support/proc.js';
import { parseExposition, sample, type Sample } from '../support/pushgateway.js';
import { tmpDir } from '../support/tmp.js';

const T0 = new Date('2026-03-01T10:00:00Z');
const T1 = new Date('2026-03-01T10:02:30Z');

function outcome(items: Partial<ItemResult>[], extra: Partial<RunOutcome> = {}): RunOutcome {
  const full = items.map((i) => ({ source: 'src', chart: 'c', version: '1.0.0', target: 'reg', status: 'pushed' as const, ...i }));
  return { items: full, startedAt: T0, finishedAt: T1, interrupted: false, dryRun: false, ...extra };
}

async function render(c: MetricsCollector, run: RunOutcome, opts: Parameters<MetricsCollector['registry']>[1] = {}): Promise<Sample[]> {
  return parseExposition(await (await c.registry(run, opts)).metrics());
}

describe('metrics: labels and names', () => {
  it('status classes: 2xx to 5xx, and error for no answer', () => {
    expect([200, 204, 302, 304, 401, 404, 429, 500, 503].map(statusClass)).toEqual(['2xx', '2xx', '3xx', '3xx', '4xx', '4xx', '4xx', '5xx', '5xx']);
    expect(statusClass('error')).toBe('error');
  });

  it('the config label is the file name without .yaml or .yml; shard only when sharded', () => {
    expect(metricsLabels('/etc/chartmirror/mirror.config.yaml')).toEqual({ config: 'mirror.config' });
    expect(metricsLabels('nightly.yml', '0-of-3')).toEqual({ config: 'nightly', shard: '0-of-3' });
    expect(metricsLabels('conf/Charts.YAML')).toEqual({ config: 'Charts' });
    expect(pushgatewayGrouping(metricsLabels('a/mirror.config.yaml'))).toEqual({ config: 'mirror.config' });
    expect(pushgatewayGrouping(metricsLabels('mirror.config.yaml', '2-of-4'))).toEqual({ config: 'mirror.config', shard: '2-of-4' });
    // import has no config file: the job alone groups its series.
    expect(pushgatewayGrouping(metricsLabels(undefined))).toEqual({});
  });

  it('reads the last success back from a metrics file, with or without labels', () => {
    const file = [
      '# HELP chartmirror_last_success_timestamp_seconds When ...',
      '# TYPE chartmirror_last_success_timestamp_seconds gauge',
      'chartmirror_last_success_timestamp_seconds_other 5',
      'chartmirror_last_success_timestamp_seconds{config="mirror.config"} 1772359350.5',
      '',
    ].join('\n');
    expect(parseLastSuccess(file)).toBe(1772359350.5);
    expect(parseLastSuccess('chartmirror_last_success_timestamp_seconds 1772359350\n')).toBe(1772359350);
    expect(parseLastSuccess('chartmirror_run_success 0\n')).toBeUndefined();
    expect(parseLastSuccess('chartmirror_last_success_timestamp_seconds NaN\n')).toBeUndefined();
    expect(parseLastSuccess('')).toBeUndefined();
  });
});

describe('metrics: the collector', () => {
  it('counts items per source, target and status (0 for the rest), and bytes per target', async () => {
    const c = new MetricsCollector();
    c.expect([{ source: 'src', target: 'reg' }, { source: 'src', target: 'disk' }, { source: 'other', target: 'reg' }]);
    const run = outcome([
      { status: 'pushed', bytesUploaded: 100 },
      { status: 'pushed', bytesUploaded: 50 },
      { status: 'present' },
      { status: 'failed', reason: 'x' },
      { status: 'excluded', target: 'disk' },
      { source: 'images', chart: 'library/nginx', status: 'pushed', bytesUploaded: 7, kind: 'image' },
    ]);
    const s = await render(c, run);
    const items = (source: string, target: string, status: string) => sample(s, 'chartmirror_run_items', { source, target, status }).value;
    expect([items('src', 'reg', 'pushed'), items('src', 'reg', 'present'), items('src', 'reg', 'failed'), items('src', 'reg', 'excluded'), items('src', 'reg', 'planned')]).toEqual([2, 1, 1, 0, 0]);
    expect(items('src', 'disk', 'excluded')).toBe(1);
    expect(items('images', 'reg', 'pushed')).toBe(1);
    // A pair the config has but the run never reached: zeros, not missing series.
    expect(s.filter((x) => x.name === 'chartmirror_run_items' && x.labels.source === 'other').map((x) => x.value)).toEqual([0, 0, 0, 0, 0]);
    expect(sample(s, 'chartmirror_run_uploaded_bytes', { target: 'reg' }).value).toBe(157);
    expect(sample(s, 'chartmirror_run_uploaded_bytes', { target: 'disk' }).value).toBe(0);
    expect(sample(s, 'chartmirror_run_duration_seconds').value).toBe(150);
    expect(sample(s, 'chartmirror_last_run_timestamp_seconds').value).toBe(T1.getTime() / 1000);
    expect(sample(s, 'chartmirror_run_success').value).toBe(0); // one failed
    expect(s.some((x) => x.name === 'chartmirror_last_success_timestamp_seconds')).toBe(false);
    expect(sample(s, 'chartmirror_info').labels.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('success: nothing failed, not interrupted, not stopped by an error', () => {
    expect(runSucceeded(outcome([{ status: 'pushed' }, { status: 'present' }, { status: 'excluded' }]))).toBe(true);
    expect(runSucceeded(outcome([{ status: 'pushed' }, { status: 'failed' }]))).toBe(false);
    expect(runSucceeded(outcome([{ status: 'pushed' }], { interrupted: true }))).toBe(false);
    expect(runSucceeded(outcome([], { error: true }))).toBe(false);
  });

  it('counts retries by the host that failed; index times only for sources this run read', async () => {
    const c = new MetricsCollector();
    const events: PipelineEvent[] = [];
    const emit = (e: PipelineEvent) => {
      events.push(e);
      c.onEvent(e);
    };
    const report = retryReporter('target reg', emit, 'registry.example.com');
    report!({ attempt: 1, delayMs: 10, error: new ChartMirrorError('NETWORK', 'reset', { retryable: true, host: 'cdn.example.com:8443' }) });
    report!({ attempt: 2, delayMs: 10, error: new ChartMirrorError('DIGEST', 'content ended early', { retryable: true }) });
    retryReporter('source local', emit)!({ attempt: 1, delayMs: 10, error: new Error('a local file') });
    expect(events.map((e) => (e.type === 'retry' ? e.host : '-'))).toEqual(['cdn.example.com:8443', 'registry.example.com', undefined]);
    emit({ type: 'source-indexed', source: 'fresh', versions: 1, selected: 1, excluded: 0, notModified: false, seconds: 0.25 });
    emit({ type: 'source-indexed', source: 'cached', versions: 1, selected: 1, excluded: 0, notModified: true, seconds: 0.0123456789 });
    emit({ type: 'source-indexed', source: 'from-a-plan-file', versions: 1, selected: 1, excluded: 0, notModified: false });
    c.request('cdn.example.com:8443', 'error');
    c.request('registry.example.com', 500);
    const s = await render(c, outcome([]));
    expect(sample(s, 'chartmirror_http_retries_total', { host: 'cdn.example.com:8443' }).value).toBe(1);
    expect(sample(s, 'chartmirror_http_retries_total', { host: 'registry.example.com' }).value).toBe(1);
    expect(s.filter((x) => x.name === 'chartmirror_http_retries_total')).toHaveLength(2);
    expect(sample(s, 'chartmirror_source_index_fetch_seconds', { source: 'fresh' }).value).toBe(0.25);
    expect(sample(s, 'chartmirror_source_index_fetch_seconds', { source: 'cached' }).value).toBe(0.012346);
    expect(sample(s, 'chartmirror_source_index_not_modified', { source: 'cached' }).value).toBe(1);
    expect(sample(s, 'chartmirror_source_index_not_modified', { source: 'fresh' }).value).toBe(0);
    expect(s.some((x) => x.labels.source === 'from-a-plan-file')).toBe(false);
  });

  it('puts the file labels on every series', async () => {
    const s = await render(new MetricsCollector(), outcome([{ status: 'pushed' }]), { labels: { config: 'nightly', shard: '1-of-2' }, lastSuccessSeconds: 5 });
    expect(s.length).toBeGreaterThan(5);
    for (const x of s) expect(x.labels, x.name).toMatchObject({ config: 'nightly', shard: '1-of-2' });
    expect(sample(s, 'chartmirror_last_success_timestamp_seconds').value).toBe(5);
  });

  it('a plan file keeps no index times (they belong to the run that read the index)', () => {
    const plan = newPlan({ configHash: 'sha256:x', config: 'c.yaml', targets: [] });
    plan.sources.push({ name: 's', versions: 1, selected: 1, excluded: 0, notModified: false, seconds: 1.5, warnings: [] });
    const written = JSON.parse(serializePlan(plan)) as { sources: Record<string, unknown>[] };
    expect(written.sources[0]).toEqual({ name: 's', versions: 1, selected: 1, excluded: 0, notModified: false, warnings: [] });
  });
});

describe('metrics: what HttpClient observes', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') res.writeHead(200, { 'content-length': '2' }).end('ok');
      else if (req.url === '/throttle') res.writeHead(429, { 'retry-after': '2', 'content-length': '0' }).end();
      else res.writeHead(404, { 'content-length': '0' }).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('every request by host (never credentials) and status class; a 429 pauses the host and is counted with the pause', async () => {
    const c = new MetricsCollector();
    const seen: string[] = [];
    const observer: HttpObserver = {
      request: (host, status) => {
        seen.push(`${host} ${status}`);
        c.request(host, status);
      },
      throttled: (host, ms) => c.throttled(host, ms),
    };
    const http = new HttpClient({ userAgent: 't', observer });
    const endpoint = http.endpoint({ connections: 2 });
    const closed = await freePort();
    try {
      const base = `http://reader:s3cret-pw@127.0.0.1:${port}`;
      await (await endpoint.send({ method: 'GET', url: `${base}/ok` })).dump();
      const missing = await endpoint.send({ method: 'GET', url: `${base}/nope?token=abc` });
      await missing.dump();
      // Errors built from a response name its host too (for the retry series).
      expect(statusError('REGISTRY', missing, 'x').host).toBe(`127.0.0.1:${port}`);
      const refused = await endpoint.send({ method: 'GET', url: `http://u:p@127.0.0.1:${closed}/` }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ChartMirrorError);
      expect((refused as ChartMirrorError).host).toBe(`127.0.0.1:${closed}`);
      // Last: it pauses the host for 2 s, which the next request to it would wait out.
      await (await endpoint.send({ method: 'GET', url: `${base}/throttle` })).dump();
    } finally {
      await http.close();
    }
    expect(seen).toEqual([`127.0.0.1:${port} 200`, `127.0.0.1:${port} 404`, `127.0.0.1:${closed} error`, `127.0.0.1:${port} 429`]);
    const s = await render(c, outcome([]));
    const text = JSON.stringify(s);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('reader');
    const host = `127.0.0.1:${port}`;
    expect(sample(s, 'chartmirror_http_requests_total', { host, code: '2xx' }).value).toBe(1);
    expect(sample(s, 'chartmirror_http_requests_total', { host, code: '4xx' }).value).toBe(2);
    expect(sample(s, 'chartmirror_http_requests_total', { host: `127.0.0.1:${closed}`, code: 'error' }).value).toBe(1);
    expect(sample(s, 'chartmirror_http_throttled_total', { host }).value).toBe(1);
    // The host was not paused before: the whole Retry-After is added.
    expect(sample(s, 'chartmirror_http_throttle_wait_seconds_total', { host }).value).toBe(2);
    // Every host that was asked anything has all three counters, zeros included.
    expect(sample(s, 'chartmirror_http_throttled_total', { host: `127.0.0.1:${closed}` }).value).toBe(0);
    expect(sample(s, 'chartmirror_http_retries_total', { host }).value).toBe(0);
  });
});

describe('metrics: the file', () => {
  it('a failed run keeps the last success of the file it replaces; a file that never saw one has none; no temp file is left', async () => {
    const dir = await tmpDir('metrics-unit-');
    const file = join(dir, 'sub', 'dir', 'chartmirror.prom');
    const c = new MetricsCollector();
    await writeMetricsFile(c, outcome([{ status: 'failed' }]), file, { config: 'm' });
    expect(parseLastSuccess(await readFile(file, 'utf8'))).toBeUndefined();
    await writeMetricsFile(c, outcome([{ status: 'pushed' }]), file, { config: 'm' });
    const success = T1.getTime() / 1000;
    expect(parseLastSuccess(await readFile(file, 'utf8'))).toBe(success);
    const later = new Date(T1.getTime() + 3_600_000);
    await writeMetricsFile(c, outcome([{ status: 'failed' }], { startedAt: later, finishedAt: later }), file, { config: 'm' });
    const text = await readFile(file, 'utf8');
    expect(parseLastSuccess(text)).toBe(success);
    expect(sample(parseExposition(text), 'chartmirror_last_run_timestamp_seconds').value).toBe(later.getTime() / 1000);
    expect(sample(parseExposition(text), 'chartmirror_run_success').value).toBe(0);
    // A dry run succeeds without being a mirror: the last success stays.
    await writeMetricsFile(c, outcome([{ status: 'planned' }], { dryRun: true, finishedAt: later }), file, { config: 'm' });
    expect(parseLastSuccess(await readFile(file, 'utf8'))).toBe(success);
    expect(await readdir(join(dir, 'sub', 'dir'))).toEqual(['chartmirror.prom']);
    // Something else in the file's place: the old value is read from whatever is there.
    await writeFile(file, 'garbage\n');
    await writeMetricsFile(c, outcome([{ status: 'failed' }]), file, {});
    expect(parseLastSuccess(await readFile(file, 'utf8'))).toBeUndefined();
  });
});
