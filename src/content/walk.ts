/**
 * Every descriptor of a graph, root first (manifests read and checked against their digests on
 * the way; blobs only named): what a bundle must hold for a root to be complete.
 */
import { LIMITS } from '../defaults.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isManifest, parseManifest, successors } from './graph.js';
import type { ReadOnlyStore } from './store.js';
import { readVerified } from './verify.js';

export async function walkGraph(store: ReadOnlyStore, root: Descriptor, signal?: AbortSignal): Promise<Descriptor[]> {
  const seen = new Map<string, Descriptor>();
  const visit = async (d: Descriptor): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.set(d.digest, { mediaType: d.mediaType, digest: d.digest, size: d.size });
    if (!isManifest(d)) return;
    const bytes = await readVerified(await store.fetch(d, signal), d, LIMITS.manifestBytes, 'manifest');
    for (const child of successors(parseManifest(bytes, d.mediaType, `manifest ${d.digest}`))) await visit(child);
  };
  await visit(root);
  return [...seen.values()];
}
