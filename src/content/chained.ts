/**
 * Read from the first store that has the content: a chart's verified manifest, config and
 * layers in memory, and anything else its graph names (an unknown extra layer) from the registry
 * it came from. Resolving and listing tags are the last store's (the origin's).
 */
import type { Descriptor } from '../oci/descriptor.js';
import type { ContentStream, ReadOnlyStore } from './store.js';

export class ChainedStore implements ReadOnlyStore {
  readonly kind: ReadOnlyStore['kind'];
  readonly display: string;
  readonly existsCheckMinBytes?: number;

  constructor(private readonly stores: readonly ReadOnlyStore[]) {
    const origin = stores[stores.length - 1]!;
    this.kind = origin.kind;
    this.display = origin.display;
    this.existsCheckMinBytes = origin.existsCheckMinBytes;
  }

  private get origin(): ReadOnlyStore {
    return this.stores[this.stores.length - 1]!;
  }

  resolve(reference: string, signal?: AbortSignal): Promise<Descriptor | undefined> {
    return this.origin.resolve(reference, signal);
  }

  async fetch(desc: Descriptor, signal?: AbortSignal): Promise<ContentStream> {
    for (const s of this.stores.slice(0, -1)) if (await s.exists(desc, signal)) return s.fetch(desc, signal);
    return this.origin.fetch(desc, signal);
  }

  async exists(desc: Descriptor, signal?: AbortSignal): Promise<boolean> {
    for (const s of this.stores) if (await s.exists(desc, signal)) return true;
    return false;
  }

  tags(signal?: AbortSignal): Promise<string[]> {
    return this.origin.tags(signal);
  }

  async close(): Promise<void> {}
}
