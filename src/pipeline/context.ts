import { ConfigError, errorMessage } from '../errors.js';
import { HttpClient } from '../http/client.js';
import type { RetryContext } from '../http/retry.js';
import type { MirrorConfig, TargetConfig } from '../config/load.js';
import { loadKeyring, type Keyring } from '../chart/provenance.js';
import { LayoutTarget } from '../content/layout.js';
import { BlobLocator, RegistryTarget } from '../content/registry-target.js';
import type { Target } from '../content/target.js';
import { RegistryClient } from '../registry/client.js';
import { Authenticator } from '../registry/auth/authenticator.js';
import { resolveCredential } from '../registry/auth/credentials.js';
import { OCI_MANIFEST_MEDIA_TYPE } from '../oci/media-types.js';
import { ChartRepository } from '../source/repository.js';
import type { EventSink } from './events.js';
import { VERSION } from '../version.js';

export interface TargetBinding {
  config: TargetConfig;
  target: Target;
}

/** Everything a run shares: one HTTP client, the targets, the sources, keyrings. */
export interface RunContext {
  http: HttpClient;
  targets: Map<string, TargetBinding>;
  repositories: Map<string, ChartRepository>;
  keyrings: Map<string, Keyring>;
  /** Open the targets now (creating layout directories) if createContext was told to wait. */
  openTargets(): Promise<void>;
  close(): Promise<void>;
}

export function retryReporter(what: string, emit: EventSink): RetryContext['onRetry'] {
  return ({ attempt, delayMs, error }) => emit({ type: 'retry', what, attempt, delayMs, error: errorMessage(error) });
}

/**
 * Build the run's shared pieces. Keyrings are read first: an unreadable one is a config error
 * before any work. Layouts are only read until something is pushed into them.
 */
export async function createContext(
  cfg: MirrorConfig,
  opts: { dryRun: boolean; emit: EventSink; deferTargets?: boolean },
): Promise<RunContext> {
  const keyrings = new Map<string, Keyring>();
  for (const s of cfg.sources) {
    const files = s.provenance.keyring;
    if (s.provenance.mode === 'ignore' || files.length === 0) continue;
    const key = JSON.stringify(files);
    if (!keyrings.has(key)) keyrings.set(key, await loadKeyring(files));
  }

  const http = new HttpClient({ userAgent: `chartmirror/${VERSION}`, timeouts: cfg.timeouts });
  const targets = new Map<string, TargetBinding>();
  const locator = new BlobLocator();
  const authenticators = new Map<string, Authenticator>();
  let opened: Promise<void> | undefined;
  const openTargets = () =>
    (opened ??= (async () => {
      for (const t of cfg.targets) {
        targets.set(t.name, { config: t, target: await openTarget(t, { cfg, http, locator, authenticators, ...opts }) });
      }
    })());
  if (!opts.deferTargets) {
    try {
      await openTargets();
    } catch (e) {
      await http.close();
      throw e;
    }
  }

  const repositories = new Map<string, ChartRepository>();
  for (const s of cfg.sources) {
    repositories.set(
      s.name,
      new ChartRepository(s.name, s.url, {
        endpoint: http.endpoint({ tls: s.tls, connections: s.connections }),
        auth: s.auth,
        passCredentials: s.passCredentials,
        retry: cfg.retry,
        onRetry: retryReporter(`source ${s.name}`, opts.emit),
      }),
    );
  }

  return {
    http,
    targets,
    repositories,
    keyrings,
    openTargets,
    async close() {
      await Promise.all([...targets.values()].map((b) => b.target.close().catch(() => undefined)));
      await http.close();
    },
  };
}

async function openTarget(
  t: TargetConfig,
  ctx: {
    cfg: MirrorConfig;
    http: HttpClient;
    locator: BlobLocator;
    authenticators: Map<string, Authenticator>;
    dryRun: boolean;
    emit: EventSink;
  },
): Promise<Target> {
  if (t.kind === 'layout') {
    try {
      // Created by the first push: a run that pushes nothing leaves no directory behind.
      return await LayoutTarget.openLazily(t.name, t.layoutDir!, { readOnly: ctx.dryRun });
    } catch (e) {
      throw new ConfigError(`targets.${t.name}.layout: ${errorMessage(e)}`);
    }
  }
  const host = t.host!;
  const endpoint = ctx.http.endpoint({ tls: t.tls, connections: t.connections, requestsPerSecond: t.requestsPerSecond });
  const origin = `${t.plainHttp ? 'http' : 'https'}://${host}`;
  // Targets on one registry with the same credentials share tokens.
  const authKey = JSON.stringify([origin, t.auth ?? null]);
  let auth = ctx.authenticators.get(authKey);
  if (!auth) {
    let credential: ReturnType<typeof resolveCredential> | undefined;
    auth = new Authenticator({
      registry: origin,
      credential: () => (credential ??= resolveCredential(host, { configAuth: t.auth })),
      request: async (req) => {
        const res = await endpoint.send(req);
        const body = (await res.buffer(1024 * 1024)).toString('utf8');
        return { status: res.status, headers: res.headers, body };
      },
      trustedRealmHosts: t.auth?.trustedRealmHosts,
    });
    ctx.authenticators.set(authKey, auth);
  }
  const client = new RegistryClient({ host, plainHttp: t.plainHttp, endpoint, auth, chunkSize: t.chunkSize });
  return new RegistryTarget(t.name, client, {
    manifestMediaType: OCI_MANIFEST_MEDIA_TYPE,
    locator: ctx.locator,
    mount: t.mount,
    retry: ctx.cfg.retry,
    onRetry: retryReporter(`target ${t.name}`, ctx.emit),
  });
}
