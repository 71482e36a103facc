/**
 * Prometheus metrics of one run (docs/metrics.md). The collector gathers plain numbers while the
 * run goes: every HTTP request and host pause (it is the HttpClient's observer), retries and
 * index reads (from pipeline events); at the end, with the run's items, it builds the series in
 * a prom-client Registry of their own (never prom-client's global one). prom-client is loaded
 * only then, so runs without metrics never load it.
 */
import type { Registry } from 'prom-client';
import type { HttpObserver } from '../http/client.js';
import type { ItemResult, ItemStatus, PipelineEvent } from '../pipeline/events.js';
import { VERSION } from '../version.js';

/** Every status, so that a status with no items is a 0, not a missing series. */
const STATUSES: readonly ItemStatus[] = ['pushed', 'present', 'failed', 'excluded', 'planned'];

/** What a run came to, as far as its metrics are concerned. */
export interface RunOutcome {
  items: ItemResult[];
  startedAt: Date;
  finishedAt: Date;
  interrupted: boolean;
  dryRun: boolean;
  /** The run stopped with an error before it could finish (an index that cannot be read). */
  error?: boolean;
}

/** Nothing failed, and the run was neither interrupted nor stopped by an error. */
export function runSucceeded(run: RunOutcome): boolean {
  return !run.error && !run.interrupted && !run.items.some((i) => i.status === 'failed');
}

/** An HTTP status as its class (`2xx` … `5xx`); `error` for a request that got no answer. */
export function statusClass(status: number | 'error'): string {
  return status !== 'error' && status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'error';
}

interface HostCounts {
  /** Requests by status class. */
  requests: Map<string, number>;
  retries: number;
  throttled: number;
  throttleWaitMs: number;
}

export interface RegistryOptions {
  /** `chartmirror_last_success_timestamp_seconds`; absent: the series is left out. */
  lastSuccessSeconds?: number;
  /** Labels on every series (the metrics file's `config` and `shard`). */
  labels?: Record<string, string>;
}

export class MetricsCollector implements HttpObserver {
  private readonly hosts = new Map<string, HostCounts>();
  private readonly indexes = new Map<string, { seconds: number; notModified: boolean }>();
  /** Sources and targets the plan paired, so that a pair with no items yet still has its series. */
  private readonly pairs = new Set<string>();
  private readonly targets = new Set<string>();

  /**
   * Sources and targets the config pairs: their item counts are then 0 rather than missing
   * when the run stops before it plans (a Pushgateway would otherwise keep the last run's).
   */
  expect(pairs: Iterable<{ source: string; target: string }>): void {
    for (const p of pairs) {
      this.pairs.add(pairKey(p.source, p.target));
      this.targets.add(p.target);
    }
  }

  private host(host: string): HostCounts {
    let h = this.hosts.get(host);
    if (!h) this.hosts.set(host, (h = { requests: new Map(), retries: 0, throttled: 0, throttleWaitMs: 0 }));
    return h;
  }

  request(host: string, status: number | 'error'): void {
    const requests = this.host(host).requests;
    const c = statusClass(status);
    requests.set(c, (requests.get(c) ?? 0) + 1);
  }

  throttled(host: string, addedMs: number): void {
    const h = this.host(host);
    h.throttled++;
    h.throttleWaitMs += Math.max(0, addedMs);
  }

  /** Feed every pipeline event here (retries, index reads, the plan). */
  readonly onEvent = (e: PipelineEvent): void => {
    switch (e.type) {
      case 'retry':
        // A retry whose host is unknown (a local file) is not an HTTP retry.
        if (e.host) this.host(e.host).retries++;
        return;
      case 'source-indexed':
        // Sources read by this run only: a plan file's sources were read by another.
        if (e.seconds !== undefined) this.indexes.set(e.source, { seconds: roundSeconds(e.seconds), notModified: e.notModified });
        return;
      case 'plan':
        for (const g of e.groups) this.pairs.add(pairKey(g.source, g.target));
        for (const t of e.targets) this.targets.add(t);
        return;
      default:
        return;
    }
  };

  /** The run's series in a registry of their own. */
  async registry(run: RunOutcome, opts: RegistryOptions = {}): Promise<Registry> {
    const { Counter, Gauge, Registry } = await import('prom-client');
    const registry = new Registry();
    if (opts.labels && Object.keys(opts.labels).length) registry.setDefaultLabels(opts.labels);
    const registers = [registry];

    new Gauge({ name: 'chartmirror_info', help: 'Always 1; the chartmirror version that ran.', labelNames: ['version'], registers }).set({ version: VERSION }, 1);

    const items = new Gauge({
      name: 'chartmirror_run_items',
      help: 'Chart versions (and images, source "images") of the last run, by source, target and status.',
      labelNames: ['source', 'target', 'status'],
      registers,
    });
    const counts = new Map<string, number>();
    const pairs = new Set(this.pairs);
    const bytes = new Map<string, number>([...this.targets].map((t) => [t, 0]));
    for (const i of run.items) {
      const pair = pairKey(i.source, i.target);
      pairs.add(pair);
      counts.set(`${pair}\u0000${i.status}`, (counts.get(`${pair}\u0000${i.status}`) ?? 0) + 1);
      bytes.set(i.target, (bytes.get(i.target) ?? 0) + (i.bytesUploaded ?? 0));
    }
    for (const pair of [...pairs].sort()) {
      const [source, target] = pair.split('\u0000') as [string, string];
      for (const status of STATUSES) items.set({ source, target, status }, counts.get(`${pair}\u0000${status}`) ?? 0);
    }

    const uploaded = new Gauge({ name: 'chartmirror_run_uploaded_bytes', help: 'Bytes the last run sent to each target.', labelNames: ['target'], registers });
    for (const [target, n] of sorted(bytes)) uploaded.set({ target }, n);

    new Gauge({ name: 'chartmirror_run_duration_seconds', help: 'How long the last run took.', registers }).set(
      Math.max(0, run.finishedAt.getTime() - run.startedAt.getTime()) / 1000,
    );
    new Gauge({
      name: 'chartmirror_run_success',
      help: '1 when nothing failed in the last run and it was not interrupted, else 0.',
      registers,
    }).set(runSucceeded(run) ? 1 : 0);
    new Gauge({ name: 'chartmirror_last_run_timestamp_seconds', help: 'When the last run ended (Unix time).', registers }).set(run.finishedAt.getTime() / 1000);
    if (opts.lastSuccessSeconds !== undefined) {
      new Gauge({
        name: 'chartmirror_last_success_timestamp_seconds',
        help: 'When the last successful run ended (Unix time); a failed run leaves it as it was.',
        registers,
      }).set(opts.lastSuccessSeconds);
    }

    const requests = new Counter({
      name: 'chartmirror_http_requests_total',
      help: 'HTTP requests of the last run by host and status class (2xx, 3xx, 4xx, 5xx; error: no answer).',
      labelNames: ['host', 'code'],
      registers,
    });
    const retries = new Counter({ name: 'chartmirror_http_retries_total', help: 'Operations retried in the last run, by the host that failed.', labelNames: ['host'], registers });
    const throttled = new Counter({
      name: 'chartmirror_http_throttled_total',
      help: 'Answers in the last run that paused a host (429, or 503 with Retry-After).',
      labelNames: ['host'],
      registers,
    });
    const waited = new Counter({
      name: 'chartmirror_http_throttle_wait_seconds_total',
      help: 'How long each host was paused in the last run after 429s and Retry-After.',
      labelNames: ['host'],
      registers,
    });
    // Every host gets all three counters, 0 included: a Pushgateway push then replaces a
    // previous run's values instead of keeping them for want of a sample.
    for (const [host, h] of sorted(this.hosts)) {
      for (const [code, n] of sorted(h.requests)) requests.inc({ host, code }, n);
      retries.inc({ host }, h.retries);
      throttled.inc({ host }, h.throttled);
      waited.inc({ host }, roundSeconds(h.throttleWaitMs / 1000));
    }

    const fetch = new Gauge({
      name: 'chartmirror_source_index_fetch_seconds',
      help: "How long reading each source's listing took in the last run (its index.yaml, or an oci:// source's tag lists).",
      labelNames: ['source'],
      registers,
    });
    const notModified = new Gauge({
      name: 'chartmirror_source_index_not_modified',
      help: "1 when the source's index came back 304 Not Modified in the last run, else 0.",
      labelNames: ['source'],
      registers,
    });
    for (const [source, i] of sorted(this.indexes)) {
      fetch.set({ source }, i.seconds);
      notModified.set({ source }, i.notModified ? 1 : 0);
    }
    return registry;
  }
}

/** Microseconds are plenty (and print shorter than binary fractions). */
function roundSeconds(s: number): number {
  return Math.round(s * 1e6) / 1e6;
}

function pairKey(source: string, target: string): string {
  return `${source}\u0000${target}`;
}

function sorted<V>(m: Map<string, V>): [string, V][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
