/**
 * Where a run's metrics go (docs/metrics.md): a file in the Prometheus text format for
 * node_exporter's textfile collector (`--metrics-file`), and a Prometheus Pushgateway
 * (`--pushgateway`). Neither can fail a run: each comes back as one warning line.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ChartMirrorError, errorMessage } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import { HttpClient } from '../http/client.js';
import { ProxyPolicy, type ProxyConfig } from '../http/proxy.js';
import { displayUrl } from '../http/redact-url.js';
import { VERSION } from '../version.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import { redact, registerSecret } from '../util/secrets.js';
import { runSucceeded, type MetricsCollector, type RunOutcome } from './collector.js';

/** The Pushgateway job, the `job` grouping label. */
export const PUSHGATEWAY_JOB = 'chartmirror';

/** What tells one mirror job's series from another's. */
export interface MetricsLabels {
  /** The config file's base name without `.yaml`/`.yml` (`mirror.config`); absent for `import`. */
  config?: string;
  /** The shard of a sharded run, e.g. `0-of-3`. */
  shard?: string;
}

/** The labels of a run from its config file (a path) and its shard. */
export function metricsLabels(configFile: string | undefined, shard?: string): MetricsLabels {
  const config = configFile ? basename(configFile).replace(/\.ya?ml$/i, '') : undefined;
  return { ...(config ? { config } : {}), ...(shard ? { shard } : {}) };
}

/** The Pushgateway grouping labels besides `job`: `config`, and `shard` only when the run is sharded. */
export function pushgatewayGrouping(labels: MetricsLabels): Record<string, string> {
  return { ...(labels.config ? { config: labels.config } : {}), ...(labels.shard ? { shard: labels.shard } : {}) };
}

export interface MetricsOutputs {
  /** `--metrics-file`. */
  file?: string;
  /** `--pushgateway`: `http(s)://[user:pass@]host:port[/path]`. */
  pushgateway?: string;
  labels: MetricsLabels;
  /** `http.proxy` of the run's config: the push goes through the same proxies as the run. */
  proxy?: ProxyConfig;
}

/**
 * A Pushgateway URL from the command line: http(s) only; its password (basic auth) is
 * registered as a secret at once, so no message can ever show it.
 */
export function checkPushgatewayUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ChartMirrorError('USAGE', `--pushgateway ${redact(url)}: not a URL (use http://host:9091)`);
  }
  if (u.password) registerSecret(decodeURIComponent(u.password));
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ChartMirrorError('USAGE', `--pushgateway ${displayUrl(u)}: must be an http:// or https:// URL`);
  if (u.search || u.hash) throw new ChartMirrorError('USAGE', `--pushgateway ${displayUrl(u)}: no query or fragment (the grouping labels are added to the path)`);
}

/** The value of `chartmirror_last_success_timestamp_seconds` in a metrics file, if it has one. */
export function parseLastSuccess(text: string): number | undefined {
  const m = /^chartmirror_last_success_timestamp_seconds(?:\{[^}]*\})?[ \t]+(\S+)/m.exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** A successful real run sets the last success; a failed one (or a dry run) keeps it. */
function thisRunsSuccess(run: RunOutcome): number | undefined {
  return runSucceeded(run) && !run.dryRun ? run.finishedAt.getTime() / 1000 : undefined;
}

/**
 * Write the file atomically (a temp file renamed over it), its directory created when missing.
 * After a failed run the last success is carried over from the file being replaced.
 */
export async function writeMetricsFile(collector: MetricsCollector, run: RunOutcome, file: string, labels: MetricsLabels): Promise<void> {
  const path = resolve(file);
  const previous = await readFile(path, 'utf8').then(parseLastSuccess, () => undefined);
  // The file has no Pushgateway to add the grouping labels: they are on every series, so that
  // several jobs' files can sit side by side in one textfile directory.
  const registry = await collector.registry(run, { lastSuccessSeconds: thisRunsSuccess(run) ?? previous, labels: pushgatewayGrouping(labels) });
  const text = await registry.metrics();
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text);
}

/** Where a push goes: `<url path>/metrics/job/<job>/<label>/<value>…`, as prom-client builds it. */
export function pushgatewayTarget(url: string, labels: MetricsLabels): string {
  const u = new URL(url);
  const groupings = Object.entries(pushgatewayGrouping(labels))
    .map(([k, v]) => `/${encodeURIComponent(k)}/${encodeURIComponent(v)}`)
    .join('');
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/metrics/job/${encodeURIComponent(PUSHGATEWAY_JOB)}${groupings}`;
  u.username = '';
  u.password = '';
  return u.href;
}

/** A push the Pushgateway refused, or that did not reach it: `reason` is what the warning says. */
class PushError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * Push with POST (what prom-client calls `pushAdd`): the group's series that this push leaves
 * out keep their values, which is how a failed run leaves the last success as it was. The push
 * goes through chartmirror's own HTTP client: the same proxies and trust store as the run, and
 * nothing left open after it.
 */
export async function pushMetrics(collector: MetricsCollector, run: RunOutcome, url: string, labels: MetricsLabels, proxy?: ProxyConfig): Promise<void> {
  const registry = await collector.registry(run, { lastSuccessSeconds: thisRunsSuccess(run) });
  const body = await registry.metrics();
  const u = new URL(url);
  const headers: Record<string, string> = { 'content-type': registry.contentType };
  if (u.username || u.password) {
    const user = decodeURIComponent(u.username);
    const password = decodeURIComponent(u.password);
    registerSecret(password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    registerSecret(headers.authorization);
  }
  const wait = DEFAULTS.metrics.pushTimeoutMs;
  const http = new HttpClient({
    userAgent: `chartmirror/${VERSION}`,
    timeouts: { connectMs: wait, headersMs: wait, bodyIdleMs: wait, totalMs: 3 * wait },
    proxy: ProxyPolicy.fromEnvironment(process.env, proxy),
  });
  const target = pushgatewayTarget(url, labels);
  try {
    let res;
    try {
      res = await http.endpoint({ connections: 1 }).send({ method: 'POST', url: target, headers, body });
    } catch (e) {
      // The transport's message names the request; the warning names the Pushgateway already.
      const prefix = `POST ${displayUrl(target)}: `;
      const text = errorMessage(e);
      throw new PushError(text.startsWith(prefix) ? text.slice(prefix.length) : text);
    }
    if (res.status >= 400) {
      const answer = (await res.peekText(1024)).replace(/\s+/g, ' ').trim();
      throw new PushError(`HTTP ${res.status}${answer ? `: ${answer.length > 200 ? `${answer.slice(0, 200)}…` : answer}` : ''}`);
    }
    await res.dump();
  } finally {
    await http.close();
  }
}

/** Write and push what was asked for; the warnings (one line each) for what could not be done. */
export async function emitMetrics(collector: MetricsCollector, run: RunOutcome, outputs: MetricsOutputs): Promise<string[]> {
  const warnings: string[] = [];
  if (outputs.file) {
    const file = outputs.file;
    await writeMetricsFile(collector, run, file, outputs.labels).catch((e: unknown) => {
      warnings.push(`metrics: cannot write --metrics-file ${file} (${fileFailure(e)}); check that its directory exists or can be created and is writable`);
    });
  }
  if (outputs.pushgateway) {
    const url = outputs.pushgateway;
    await pushMetrics(collector, run, url, outputs.labels, outputs.proxy).catch((e: unknown) => {
      warnings.push(`metrics: cannot push to the Pushgateway at ${displayUrl(url)} (${pushFailure(e)}); check --pushgateway, and that the Pushgateway is up and reachable from here`);
    });
  }
  return warnings.map((w) => redact(w));
}

const FILE_ERRORS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  // mkdir -p answers EEXIST when a part of the path is a file.
  EEXIST: 'part of the path is not a directory',
  ENOTDIR: 'part of the path is not a directory',
  EISDIR: 'it is a directory',
};

function fileFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (!code) return errorMessage(e);
  return FILE_ERRORS[code] ? `${FILE_ERRORS[code]}, ${code}` : code;
}

/** A push failure in a few words: the status and the Pushgateway's answer, or what kept the push from it. */
function pushFailure(e: unknown): string {
  return e instanceof PushError ? e.reason : errorMessage(e);
}
