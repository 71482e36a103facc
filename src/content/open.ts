/**
 * `openStore(reference)`: a store from a string, for the library API and the command line.
 *
 *   oci://host[:port]/repo[:tag|@digest]     a registry repository
 *   oci-layout:<dir>[:<ref>|@<digest>]       an OCI layout directory (created on first write)
 *   oci-layout:<file.tar>[...]               a bundle: a tar of a layout, or its first part (read-only)
 *
 * In a layout, the reference is the ref name as index.json holds it (`chart:1.0.0`), unless
 * `repository` binds the store to one repository (then tags are `<repository>:<tag>`).
 */
import { ChartMirrorError } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import { HttpClient, type TlsSettings, type Timeouts } from '../http/client.js';
import type { RetryPolicy } from '../http/retry.js';
import { isDigest, parseReference } from '../oci/reference.js';
import { RegistryConnector, type RegistryAuth } from '../registry/connect.js';
import { VERSION } from '../version.js';
import { OciLayout } from './layout.js';
import { RegistryRepository } from './registry.js';
import type { OpenedStore, Store } from './store.js';

export interface OpenStoreOptions {
  /** Registries: talk HTTP, not HTTPS. Default false. */
  plainHttp?: boolean;
  /** Registries: CA bundle, client certificate, or no verification. */
  tls?: TlsSettings;
  /** Registries: credentials. Default: Helm's registry config, then Docker's config.json. */
  auth?: RegistryAuth;
  retry?: Partial<RetryPolicy>;
  timeouts?: Partial<Timeouts>;
  /**
   * Registries: a proxy URL for every request, or false for none. Default: HTTPS_PROXY,
   * HTTP_PROXY and NO_PROXY from the environment, as Helm and Docker read them.
   */
  proxy?: string | false;
  /** Registries: connections to the host. Default DEFAULTS.connections.registries (16). */
  connections?: number;
  /** Layouts: the repository the store is bound to (tags become `<repository>:<tag>`). */
  repository?: string;
}

/** Open the store a reference names. Close it when done (it may hold connections or files). */
export async function openStore(reference: string, opts: OpenStoreOptions = {}): Promise<OpenedStore<Store>> {
  if (reference.startsWith('oci://')) return openRegistry(reference, opts);
  if (reference.startsWith('oci-layout:')) return openLayout(reference.slice('oci-layout:'.length), opts);
  throw new ChartMirrorError('USAGE', `${reference}: not a store reference (oci://host/repo[:tag], or oci-layout:PATH[:ref])`);
}

async function openRegistry(reference: string, opts: OpenStoreOptions): Promise<OpenedStore<Store>> {
  const ref = parseReference(reference);
  if (!ref.repository) throw new ChartMirrorError('USAGE', `${reference}: name a repository (oci://host/repository[:tag])`);
  const http = new HttpClient({ userAgent: `chartmirror/${VERSION}`, timeouts: opts.timeouts });
  const client = new RegistryConnector(http).client({
    registry: ref.registry,
    plainHttp: opts.plainHttp ?? false,
    tls: opts.tls,
    auth: opts.auth,
    ...(opts.proxy !== undefined ? { proxy: { url: opts.proxy, from: 'the proxy option' } } : {}),
    connections: opts.connections ?? DEFAULTS.connections.registries,
  });
  const store = new RegistryRepository(client, ref.repository, { retry: { ...DEFAULTS.retry, ...opts.retry } });
  return Object.assign(store, {
    reference: ref.digest ?? ref.tag,
    close: () => http.close(),
  });
}

async function openLayout(rest: string, opts: OpenStoreOptions): Promise<OpenedStore<Store>> {
  const spec = rest.startsWith('//') ? rest.slice(2) : rest;
  let path = spec;
  let reference: string | undefined;
  const at = spec.indexOf('@sha256:');
  if (at >= 0) {
    path = spec.slice(0, at);
    reference = spec.slice(at + 1);
    if (!isDigest(reference)) throw new ChartMirrorError('USAGE', `oci-layout:${rest}: "${reference}" is not a sha256 digest`);
  } else {
    const colon = spec.indexOf(':');
    if (colon >= 0) {
      path = spec.slice(0, colon);
      reference = spec.slice(colon + 1) || undefined;
    }
  }
  if (!path) throw new ChartMirrorError('USAGE', `oci-layout:${rest}: name a directory or bundle file`);
  const layout = await OciLayout.open(path, { create: 'lazy' });
  const store = layout.repository(opts.repository ?? '');
  return Object.assign(store, {
    reference,
    close: () => layout.close(),
  });
}
