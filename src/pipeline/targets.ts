/**
 * Destinations of a run: each target as a factory of stores, one per repository, plus what
 * the executor needs to decide and report (its journal identity, conflict policy, references).
 */
import { ConfigError, errorMessage } from '../errors.js';
import type { TargetSpec } from '../config/load.js';
import type { RetryContext, RetryPolicy } from '../http/retry.js';
import { OciLayout } from '../content/layout.js';
import { BlobLocator, RegistryRepository } from '../content/registry.js';
import type { Store } from '../content/store.js';
import type { RegistryConnector } from '../registry/connect.js';
import { formatReference } from '../oci/reference.js';

export interface TargetBinding {
  readonly spec: TargetSpec;
  /** Stable identity for the journal: `oci://host` or `layout:/abs/dir`. */
  readonly id: string;
  /** What to do about a tag that holds something else, in the words of where it is set. */
  readonly conflictHint: string;
  /** The layout behind a layout target. */
  readonly layout?: OciLayout;
  /** The registry host behind a registry target (mounts work within one host). */
  readonly host?: string;
  /** The store for one repository of the target (cached). */
  store(repository: string): Store;
  /** `oci://host/repo@digest` (or `:tag`), or the layout equivalent: for reports and maps. */
  reference(repository: string, tag: string, digest?: string): string;
  close(): Promise<void>;
}

export interface BindingContext {
  connector: RegistryConnector;
  locator: BlobLocator;
  retry: RetryPolicy;
  onRetry?: (target: string) => RetryContext['onRetry'];
  /** Layouts are only read (dry runs). */
  readOnly: boolean;
  /** How the user changes onConflict (config key or command-line flag). */
  conflictHint?: (spec: TargetSpec) => string;
}

const defaultHint = (spec: TargetSpec) => `set onConflict: overwrite on target ${spec.name} to replace it`;

export async function bindTarget(spec: TargetSpec, ctx: BindingContext): Promise<TargetBinding> {
  const conflictHint = (ctx.conflictHint ?? defaultHint)(spec);
  if (spec.kind === 'layout') {
    let layout: OciLayout;
    try {
      // Created by the first push: a run that pushes nothing leaves no directory behind.
      layout = await OciLayout.open(spec.layoutDir!, { create: 'lazy', readOnly: ctx.readOnly });
    } catch (e) {
      throw new ConfigError(`targets.${spec.name}.layout: ${errorMessage(e)}`);
    }
    const stores = new Map<string, Store>();
    return {
      spec,
      id: `layout:${layout.path}`,
      conflictHint,
      layout,
      store(repository) {
        let s = stores.get(repository);
        if (!s) stores.set(repository, (s = layout.repository(repository)));
        return s;
      },
      reference: (repo, tag, digest) => `oci-layout://${layout.path}/${repo}${digest ? `@${digest}` : `:${tag}`}`,
      close: () => layout.close(),
    };
  }
  const client = ctx.connector.client({
    registry: spec.host!,
    plainHttp: spec.plainHttp,
    tls: spec.tls,
    auth: spec.auth,
    proxy: spec.proxy,
    connections: spec.connections,
    requestsPerSecond: spec.requestsPerSecond,
    chunkSize: spec.chunkSize,
  });
  const stores = new Map<string, Store>();
  return {
    spec,
    id: `oci://${client.host}`,
    conflictHint,
    host: client.host,
    store(repository) {
      let s = stores.get(repository);
      if (!s) {
        s = new RegistryRepository(client, repository, { retry: ctx.retry, onRetry: ctx.onRetry?.(spec.name), locator: ctx.locator, mount: spec.mount });
        stores.set(repository, s);
      }
      return s;
    },
    reference: (repo, tag, digest) => formatReference({ registry: client.host, repository: repo, tag, digest }),
    // Connections belong to the run's HttpClient.
    close: async () => undefined,
  };
}
