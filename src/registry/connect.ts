/**
 * One way to reach a registry: an endpoint with its TLS settings and limits, an authenticator
 * (credentials from the config, else Helm's and Docker's stores) shared by every repository
 * that uses the same credentials, and a client. Sync targets, import destinations and
 * `openStore` all come through here.
 */
import type { HttpClient, TlsSettings } from '../http/client.js';
import type { EndpointProxy } from '../http/proxy.js';
import { LIMITS } from '../defaults.js';
import { registryHost } from '../oci/reference.js';
import { Authenticator } from './auth/authenticator.js';
import { resolveCredential } from './auth/credentials.js';
import { RegistryClient } from './client.js';

export interface RegistryAuth {
  username?: string;
  password?: string;
  token?: string;
  identityToken?: string;
  /** Token-service hosts other than the registry that may receive these credentials. */
  trustedRealmHosts?: string[];
}

export interface RegistryConnection {
  /** `host[:port]` as the reference writes it (`docker.io` is reached at registry-1.docker.io). */
  registry: string;
  plainHttp: boolean;
  tls?: TlsSettings;
  /** Explicit credentials; otherwise Helm's and Docker's credential stores. */
  auth?: RegistryAuth;
  connections: number;
  requestsPerSecond?: number;
  chunkSize?: number;
  /** The registry's own proxy (or false: direct); default the run's (environment, http.proxy). */
  proxy?: EndpointProxy;
}

/** Registry clients of one run: one HTTP client, authenticators shared per origin and credentials. */
export class RegistryConnector {
  private readonly authenticators = new Map<string, Authenticator>();

  constructor(private readonly http: HttpClient) {}

  client(c: RegistryConnection): RegistryClient {
    const host = registryHost(c.registry);
    // Token services go through this endpoint too: the same TLS settings and proxy.
    const endpoint = this.http.endpoint({ tls: c.tls, connections: c.connections, requestsPerSecond: c.requestsPerSecond, proxy: c.proxy });
    const origin = `${c.plainHttp ? 'http' : 'https'}://${host}`;
    const authKey = JSON.stringify([origin, c.auth ?? null]);
    let auth = this.authenticators.get(authKey);
    if (!auth) {
      let credential: ReturnType<typeof resolveCredential> | undefined;
      auth = new Authenticator({
        registry: origin,
        credential: () => (credential ??= resolveCredential(c.registry, { configAuth: c.auth })),
        request: async (req) => {
          const res = await endpoint.send(req);
          const body = (await res.buffer(LIMITS.authResponseBytes)).toString('utf8');
          return { status: res.status, headers: res.headers, body };
        },
        trustedRealmHosts: c.auth?.trustedRealmHosts,
      });
      this.authenticators.set(authKey, auth);
    }
    return new RegistryClient({ host, plainHttp: c.plainHttp, endpoint, auth, chunkSize: c.chunkSize });
  }
}
