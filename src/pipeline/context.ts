import { ChartMirrorError, errorMessage } from '../errors.js';
import { HttpClient, type HttpObserver, type RouteInfo, type Timeouts } from '../http/client.js';
import { ProxyPolicy, type ProxyConfig } from '../http/proxy.js';
import { urlHost } from '../http/redact-url.js';
import { registryHost } from '../oci/reference.js';
import type { RetryContext, RetryPolicy } from '../http/retry.js';
import type { RunLimits, SourceConfig, TargetSpec } from '../config/load.js';
import { loadKeyring } from '../chart/provenance.js';
import type { Keyring } from '../chart/provenance-types.js';
import { BlobLocator } from '../content/registry.js';
import { RegistryConnector } from '../registry/connect.js';
import { ChartRepository } from '../source/repository.js';
import { OciChartSource } from '../source/oci-source.js';
import type { EventSink } from './events.js';
import { bindTarget, type BindingContext, type TargetBinding } from './targets.js';
import { VERSION } from '../version.js';
import { LIMITS } from '../defaults.js';
import { ByteBudget } from '../util/byte-budget.js';

/** What every run shares, whatever it reads from and writes to. */
export interface RunSettings {
  timeouts: Timeouts;
  retry: RetryPolicy;
  /** Caps on what sources may make us read and hold (default: LIMITS). */
  limits?: RunLimits;
  /** `http.proxy`, over the environment's proxies. */
  proxy?: ProxyConfig;
}

/** Everything a run shares: one HTTP client, the sources, the targets, keyrings. */
export interface RunContext {
  http: HttpClient;
  /** Registry clients of the run (targets, oci:// sources, image registries). */
  connector: RegistryConnector;
  targets: Map<string, TargetBinding>;
  /** Classic sources (index.yaml repositories), by source name. */
  repositories: Map<string, ChartRepository>;
  /** oci:// sources, by source name. */
  ociSources: Map<string, OciChartSource>;
  keyrings: Map<string, Keyring>;
  /** Archive bytes the versions in flight may hold together (limits.inFlight). */
  budget: ByteBudget;
  /** Open the destinations (layouts are created by their first write, not here). */
  openTargets(specs: TargetSpec[], opts?: Pick<BindingContext, 'conflictHint'>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Retries as `retry` events. The host is the one the error names (the host that failed), else
 * `host`: the source's or target's own (for content that failed its checks while streaming).
 */
export function retryReporter(what: string, emit: EventSink, host?: string): RetryContext['onRetry'] {
  return ({ attempt, delayMs, error }) => {
    const h = (error instanceof ChartMirrorError ? error.host : undefined) ?? host;
    emit({ type: 'retry', what, attempt, delayMs, error: errorMessage(error), ...(h ? { host: h } : {}) });
  };
}

/**
 * Build a run's shared pieces. Keyrings are read first: an unreadable one is a config error
 * before any work. Targets are opened separately, once the sources have been read.
 */
export async function createContext(
  settings: RunSettings,
  sources: SourceConfig[],
  opts: { dryRun: boolean; emit: EventSink; httpObserver?: HttpObserver },
): Promise<RunContext> {
  const keyrings = new Map<string, Keyring>();
  for (const s of sources) {
    const files = s.provenance.keyring;
    if (s.provenance.mode === 'ignore' || files.length === 0) continue;
    const key = JSON.stringify(files);
    if (!keyrings.has(key)) keyrings.set(key, await loadKeyring(files));
  }

  const http = new HttpClient({
    userAgent: `chartmirror/${VERSION}`,
    timeouts: settings.timeouts,
    observer: opts.httpObserver,
    proxy: ProxyPolicy.fromEnvironment(process.env, settings.proxy),
    onRoute: (route: RouteInfo) => opts.emit({ type: 'route', ...route }),
  });
  const connector = new RegistryConnector(http);
  const locator = new BlobLocator();
  const targets = new Map<string, TargetBinding>();

  const repositories = new Map<string, ChartRepository>();
  const ociSources = new Map<string, OciChartSource>();
  for (const s of sources) {
    const onRetry = retryReporter(`source ${s.name}`, opts.emit, s.kind === 'oci' ? apiHost(s.registry!) : urlHost(s.url));
    if (s.kind === 'oci') {
      const client = connector.client({ registry: s.registry!, plainHttp: s.plainHttp, tls: s.tls, auth: s.auth, proxy: s.proxy, connections: s.connections });
      ociSources.set(s.name, new OciChartSource(s, client, { retry: settings.retry, onRetry }));
      continue;
    }
    repositories.set(
      s.name,
      new ChartRepository(s.name, s.url, {
        endpoint: http.endpoint({ tls: s.tls, connections: s.connections, proxy: s.proxy }),
        // Config loading made sure a classic source's auth is a username and a password.
        auth: s.auth as { username: string; password: string } | undefined,
        passCredentials: s.passCredentials,
        retry: settings.retry,
        onRetry,
        limits: settings.limits,
      }),
    );
  }

  return {
    http,
    connector,
    targets,
    repositories,
    ociSources,
    keyrings,
    budget: new ByteBudget(settings.limits?.inFlightBytes ?? LIMITS.inFlightBytes),
    async openTargets(specs, extra = {}) {
      for (const spec of specs) {
        if (targets.has(spec.name)) continue;
        targets.set(
          spec.name,
          await bindTarget(spec, {
            connector,
            locator,
            retry: settings.retry,
            onRetry: (name) => retryReporter(`target ${name}`, opts.emit, spec.host ? apiHost(spec.host) : undefined),
            readOnly: opts.dryRun,
            ...extra,
          }),
        );
      }
    },
    async close() {
      await Promise.all([...targets.values()].map((b) => b.close().catch(() => undefined)));
      await http.close();
    },
  };
}

/** The `host[:port]` requests to a registry go to, as their URLs spell it (Docker Hub's API host, lower case). */
function apiHost(registry: string): string {
  const host = registryHost(registry);
  return urlHost(`https://${host}`) ?? host;
}
