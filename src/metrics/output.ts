/**
 * Where a run's metrics go (docs/metrics.md): a file in the Prometheus text format for
 * node_exporter's textfile collector (`--metrics-file`), and a Prometheus Pushgateway
 * (`--pushgateway`). Neither can fail a run: each comes back as one warning line.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ChartMirrorError, errorMessage } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import { friendlyTransportError } from '../http/errors.js';
import { displayUrl } from '../http/redact-url.js';
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

/**
 * Push with POST (prom-client `pushAdd`): the group's series that this push leaves out keep
 * their values, which is how a failed run leaves the last success as it was.
 */
export async function pushMetrics(collector: MetricsCollector, run: RunOutcome, url: string, labels: MetricsLabels): Promise<void> {
  const [registry, { Pushgateway }] = await Promise.all([collector.registry(run, { lastSuccessSeconds: thisRunsSuccess(run) }), import('prom-client')]);
  // No keep-alive agent: nothing of the push may hold the process open after it.
  const gateway = new Pushgateway(url, { timeout: DEFAULTS.metrics.pushTimeoutMs, agent: false }, registry);
  await gateway.pushAdd({ jobName: PUSHGATEWAY_JOB, groupings: pushgatewayGrouping(labels) });
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
    await pushMetrics(collector, run, url, outputs.labels).catch((e: unknown) => {
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

/** prom-client's push errors in a few words: a transport failure, or the status and the Pushgateway's answer. */
function pushFailure(e: unknown): string {
  const m = /^push failed with status (\d+), ([\s\S]*)$/.exec(e instanceof Error ? e.message : '');
  if (m) {
    const body = m[2]!.replace(/\s+/g, ' ').trim();
    return `HTTP ${m[1]}${body ? `: ${body.length > 200 ? `${body.slice(0, 200)}…` : body}` : ''}`;
  }
  return friendlyTransportError(e).text;
}
