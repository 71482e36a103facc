/**
 * How a registry that is neither a source nor a target is reached (an image registry, the
 * registry of a registry-backed state): `registries.<host>`, else the settings of a target or
 * an oci:// source on that host, else HTTPS with Helm's and Docker's credential stores.
 */
import type { MirrorConfig } from '../config/load.js';
import { DEFAULTS } from '../defaults.js';
import type { RegistryConnection } from '../registry/connect.js';

export function registryConnection(cfg: MirrorConfig): (registry: string) => RegistryConnection {
  return (registry) => {
    const host = registry.toLowerCase();
    const r = cfg.registries.get(host);
    if (r) return { registry, plainHttp: r.plainHttp, auth: r.auth, tls: r.tls, proxy: r.proxy, connections: r.connections, requestsPerSecond: r.requestsPerSecond };
    const t = cfg.targets.find((x) => x.kind === 'registry' && x.host?.toLowerCase() === host);
    if (t) return { registry, plainHttp: t.plainHttp, auth: t.auth, tls: t.tls, proxy: t.proxy, connections: t.connections, requestsPerSecond: t.requestsPerSecond };
    const s = cfg.sources.find((x) => x.kind === 'oci' && x.registry?.toLowerCase() === host);
    if (s) return { registry, plainHttp: s.plainHttp, auth: s.auth, tls: s.tls, proxy: s.proxy, connections: s.connections };
    return { registry, plainHttp: false, connections: DEFAULTS.connections.registries };
  };
}
