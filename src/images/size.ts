/**
 * What an image weighs, for plans: its manifests, configs and layers over the platforms that
 * will be copied (a manifest request per platform; no blob is read).
 */
import { LIMITS } from '../defaults.js';
import { parseManifest } from '../content/graph.js';
import type { ReadOnlyStore } from '../content/store.js';
import { readVerified } from '../content/verify.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isIndexMediaType } from '../oci/media-types.js';
import { platformMatches, platformOf } from './platforms.js';

export async function imageSize(store: ReadOnlyStore, selector: string, platforms: 'all' | readonly string[], signal?: AbortSignal): Promise<{ digest: string; bytes: number } | undefined> {
  const root = await store.resolve(selector, signal);
  if (!root) return undefined;
  const read = async (d: Descriptor) => parseManifest(await readVerified(await store.fetch(d, signal), d, LIMITS.manifestBytes, 'manifest'), d.mediaType);
  const manifestBytes = async (d: Descriptor) => {
    const m = await read(d);
    return d.size + (m.config?.size ?? 0) + m.layers.reduce((n, l) => n + l.size, 0);
  };
  if (!isIndexMediaType(root.mediaType)) return { digest: root.digest, bytes: await manifestBytes(root) };
  const index = await read(root);
  const children = index.manifests.filter((m) => platforms === 'all' || platformMatches(platformOf(m), platforms) || !platformOf(m));
  let bytes = root.size;
  for (const c of children) bytes += await manifestBytes(c);
  return { digest: root.digest, bytes };
}
