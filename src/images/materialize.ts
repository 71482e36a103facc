/**
 * An image job as content to copy: the image's repository in its registry, resolved by digest
 * (or tag); a multi-platform image with a platform subset gets a new index in memory (see
 * platforms.ts). Blobs stream from the source registry during the copy; nothing is rebuilt.
 */
import { ChartMirrorError } from '../errors.js';
import { LIMITS } from '../defaults.js';
import type { RetryContext, RetryPolicy } from '../http/retry.js';
import { ChainedStore } from '../content/chained.js';
import { MemoryStore } from '../content/memory.js';
import { RegistryRepository } from '../content/registry.js';
import { readVerified } from '../content/verify.js';
import { isIndexMediaType } from '../oci/media-types.js';
import type { RegistryConnection, RegistryConnector } from '../registry/connect.js';
import type { Materializer } from '../pipeline/materialize.js';
import { formatImage } from './reference.js';
import { subsetIndex } from './platforms.js';

export interface ImageSources {
  connector: RegistryConnector;
  /** How to reach an image registry (registries.<host>, else a source's or target's settings, else defaults). */
  connection(registry: string): RegistryConnection;
  platforms: 'all' | readonly string[];
  retry: RetryPolicy;
  onRetry?: RetryContext['onRetry'];
}

export function imageMaterializer(sources: ImageSources): Materializer {
  const clients = new Map<string, ReturnType<RegistryConnector['client']>>();
  const client = (registry: string) => {
    let c = clients.get(registry);
    if (!c) clients.set(registry, (c = sources.connector.client(sources.connection(registry))));
    return c;
  };
  return async (job, signal) => {
    const o = job.origin;
    if (o.kind !== 'image') throw new Error(`image materializer given a ${o.kind} job`);
    const store = new RegistryRepository(client(o.registry), o.repository, { retry: sources.retry, onRetry: sources.onRetry, mount: false });
    const selector = o.digest ?? o.tag ?? 'latest';
    const root = await store.resolve(selector, signal);
    if (!root) throw new ChartMirrorError('NOT_FOUND', `image ${o.url} does not exist (${store.display} has no ${selector})`);
    if (o.digest && root.digest !== o.digest) throw new ChartMirrorError('DIGEST', `image ${o.url}: the registry resolves it to ${root.digest}`);
    const base = {
      url: o.url,
      warnings: [] as string[],
      origin: { host: store.client.host, repository: o.repository },
    };
    if (sources.platforms === 'all' || !isIndexMediaType(root.mediaType)) {
      return { ...base, store, root: () => root, sourceDigest: root.digest };
    }
    const bytes = await readVerified(await store.fetch(root, signal), root, LIMITS.manifestBytes, 'image index');
    const subset = subsetIndex(bytes, sources.platforms);
    if (!subset) return { ...base, store, root: () => root, sourceDigest: root.digest };
    if (subset.kept === 0) throw new ChartMirrorError('NOT_FOUND', `image ${o.url} has none of the platforms ${sources.platforms.join(', ')}`);
    const memory = new MemoryStore(`${o.url} (platform subset)`);
    const rewritten = memory.add(root.mediaType, subset.bytes);
    base.warnings.push(
      `only ${sources.platforms.join(', ')} of this multi-platform image: a new index was written (${rewritten.digest}) in place of ${formatImage({ registry: o.registry, repository: o.repository, digest: root.digest })}`,
    );
    return { ...base, store: new ChainedStore([memory, store]), root: () => rewritten, sourceDigest: root.digest };
  };
}
