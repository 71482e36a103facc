/**
 * An in-memory store (oras-go `content/memory`): where a freshly built chart artifact lives
 * until it is copied to its targets. Content is checked on the way in like any other store's.
 */
import { ChartMirrorError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isDigest } from '../oci/reference.js';
import { sha256Digest } from '../util/digest.js';
import { bufferStream, readVerified } from './verify.js';
import type { ContentOpener, ContentStream, PushResult, Store } from './store.js';

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly existsCheckMinBytes = 0;
  private readonly blobs = new Map<string, Buffer>();
  private readonly tagged = new Map<string, Descriptor>();
  private readonly manifests = new Map<string, Descriptor>();

  constructor(readonly display = 'memory') {}

  /** Add bytes directly; returns their descriptor. */
  add(mediaType: string, bytes: Buffer): Descriptor {
    const desc: Descriptor = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
    this.blobs.set(desc.digest, bytes);
    this.manifests.set(desc.digest, desc);
    return desc;
  }

  /** The bytes of a descriptor held here (undefined when absent). */
  bytes(desc: Descriptor): Buffer | undefined {
    return this.blobs.get(desc.digest);
  }

  async resolve(reference: string): Promise<Descriptor | undefined> {
    if (isDigest(reference)) return this.manifests.get(reference);
    return this.tagged.get(reference);
  }

  async fetch(desc: Descriptor): Promise<ContentStream> {
    const b = this.blobs.get(desc.digest);
    if (!b) throw new ChartMirrorError('NOT_FOUND', `${this.display}: no content ${desc.digest}`);
    return bufferStream(b);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return this.blobs.get(desc.digest)?.length === desc.size;
  }

  async tags(): Promise<string[]> {
    return [...this.tagged.keys()].sort();
  }

  async push(desc: Descriptor, content: ContentOpener, opts: { signal?: AbortSignal } = {}): Promise<PushResult> {
    if (await this.exists(desc)) return { how: 'exists', bytes: 0 };
    const bytes = await readVerified(await content(opts.signal), desc, Number.MAX_SAFE_INTEGER);
    this.blobs.set(desc.digest, bytes);
    this.manifests.set(desc.digest, desc);
    return { how: 'uploaded', bytes: bytes.length };
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    if (!this.blobs.has(desc.digest)) throw new ChartMirrorError('NOT_FOUND', `${this.display}: cannot tag ${tag}: no content ${desc.digest}`);
    this.tagged.set(tag, { mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
  }

  async close(): Promise<void> {}
}
