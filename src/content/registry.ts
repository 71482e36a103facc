/**
 * A registry repository as a store (oras-go `registry/remote.Repository`): blobs stream in
 * and out, manifests are held whole (capped), every operation is retried as a whole with its
 * content opened again, and blobs pushed during a run are mounted into other repositories of
 * the same registry instead of being uploaded twice.
 */
import { LIMITS } from '../defaults.js';
import { withRetry, type RetryContext, type RetryPolicy } from '../http/retry.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isDigest } from '../oci/reference.js';
import type { RegistryClient } from '../registry/client.js';
import { isManifest, parseManifest } from './graph.js';
import { isIndexMediaType } from '../oci/media-types.js';
import { referrersTag } from './referrers-tag.js';
import { bufferStream, readVerified } from './verify.js';
import type {
  ContentOpener,
  ContentStream,
  Mounter,
  PushResult,
  ReadOnlyStore,
  ReferencePusher,
  ReferrerLister,
  Store,
  TagDeleter,
} from './store.js';

/**
 * Blobs pushed during this run, by registry host: the source of cross-repository mounts. An
 * upload in flight counts too: targets on one registry receive a chart at the same time, and
 * without waiting for the first upload the second would upload the same bytes instead of mounting.
 */
export class BlobLocator {
  private readonly landed = new Map<string, string>();
  private readonly pending = new Map<string, Promise<string | undefined>>();

  remember(host: string, digest: string, repo: string): void {
    this.landed.set(key(host, digest), repo);
  }

  /**
   * Where the blob is, or a promise of where it will be once the upload in flight ends
   * (undefined if it fails); undefined when nobody has it or is pushing it.
   */
  lookup(host: string, digest: string): string | Promise<string | undefined> | undefined {
    const k = key(host, digest);
    return this.landed.get(k) ?? this.pending.get(k);
  }

  /** Announce an upload into `repo`; call the result when it ends, with whether the blob landed. */
  begin(host: string, digest: string, repo: string): (landed: boolean) => void {
    const k = key(host, digest);
    let settle!: (repo: string | undefined) => void;
    const p = new Promise<string | undefined>((resolve) => (settle = resolve));
    this.pending.set(k, p);
    return (landed) => {
      if (this.pending.get(k) === p) this.pending.delete(k);
      if (landed) this.landed.set(k, repo);
      settle(landed ? repo : this.landed.get(k));
    };
  }
}

function key(host: string, digest: string): string {
  return `${host}\u0000${digest}`;
}

export interface RegistryRepositoryOptions {
  retry: RetryPolicy;
  onRetry?: RetryContext['onRetry'];
  /** Shared by every repository of a run: where blobs landed. Default: one of its own. */
  locator?: BlobLocator;
  /** Mount blobs that landed elsewhere on this registry. Default true. */
  mount?: boolean;
}

export class RegistryRepository implements Store, ReferencePusher, Mounter, ReferrerLister, TagDeleter {
  readonly kind = 'registry' as const;
  readonly existsCheckMinBytes = LIMITS.registryExistsCheckMinBytes;
  private readonly locator: BlobLocator;
  private readonly mounting: boolean;

  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    private readonly opts: RegistryRepositoryOptions,
  ) {
    this.locator = opts.locator ?? new BlobLocator();
    this.mounting = opts.mount ?? true;
  }

  get display(): string {
    return `oci://${this.client.host}/${this.repository}`;
  }

  private retry<T>(op: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(op, this.opts.retry, { signal, onRetry: this.opts.onRetry });
  }

  resolve(reference: string, signal?: AbortSignal): Promise<Descriptor | undefined> {
    return this.retry(() => this.client.resolve(this.repository, reference, signal), signal);
  }

  async fetch(desc: Descriptor, signal?: AbortSignal): Promise<ContentStream> {
    if (isManifest(desc)) {
      const m = await this.retry(() => this.client.fetchManifest(this.repository, desc.digest, signal), signal);
      return bufferStream(m.bytes);
    }
    return this.retry(() => this.client.fetchBlob(this.repository, desc, signal), signal);
  }

  async exists(desc: Descriptor, signal?: AbortSignal): Promise<boolean> {
    if (isManifest(desc)) return this.retry(() => this.client.manifestExists(this.repository, desc.digest, signal), signal);
    const known = this.mounting ? this.locator.lookup(this.client.host, desc.digest) : undefined;
    if (known !== undefined) {
      const where = await known;
      if (where === this.repository) return true;
      // Elsewhere on this registry: not here, but a push will mount it without a HEAD.
      if (where !== undefined) return false;
    }
    return this.retry(() => this.client.blobExists(this.repository, desc.digest, signal), signal);
  }

  tags(signal?: AbortSignal): Promise<string[]> {
    return this.retry(() => this.client.listTags(this.repository, signal), signal);
  }

  async push(desc: Descriptor, content: ContentOpener, opts: { signal?: AbortSignal } = {}): Promise<PushResult> {
    if (isManifest(desc)) {
      const bytes = await readVerified(await content(opts.signal), desc, LIMITS.manifestBytes, 'manifest');
      await this.retry(() => this.client.putManifest(this.repository, desc.digest, bytes, desc.mediaType, opts.signal), opts.signal);
      return { how: 'uploaded', bytes: bytes.length };
    }
    return this.pushBlob(desc, content, undefined, opts.signal);
  }

  mount(desc: Descriptor, from: string, content: ContentOpener, signal?: AbortSignal): Promise<PushResult> {
    return this.pushBlob(desc, content, from, signal);
  }

  mountSourceFor(src: ReadOnlyStore): string | undefined {
    return src instanceof RegistryRepository && src.client.host === this.client.host && src.repository !== this.repository ? src.repository : undefined;
  }

  /**
   * One blob: skipped when this run already put it in this repository, mounted when it put it
   * in another one (or `mountFrom` says where it is), uploaded otherwise.
   */
  private async pushBlob(desc: Descriptor, content: ContentOpener, mountFrom: string | undefined, signal?: AbortSignal): Promise<PushResult> {
    const host = this.client.host;
    const repo = this.repository;
    // Decided before the first await, so that concurrent pushes of one blob see each other.
    const known = this.mounting ? this.locator.lookup(host, desc.digest) : undefined;
    const done = this.mounting && known === undefined ? this.locator.begin(host, desc.digest, repo) : undefined;
    let landed = false;
    try {
      const from = (await known) ?? mountFrom;
      if (from === repo) {
        landed = true;
        return { how: 'exists', bytes: 0 };
      }
      // A retry restarts the upload from its POST, with the content opened again.
      const r = await this.retry(() => this.client.pushBlob(repo, desc, content, { mountFrom: this.mounting ? from : undefined, signal }), signal);
      landed = true;
      if (!done && this.mounting) this.locator.remember(host, desc.digest, repo);
      return r.how === 'mounted' ? { how: 'mounted', bytes: 0 } : { how: 'uploaded', bytes: desc.size };
    } finally {
      done?.(landed);
    }
  }

  async pushReference(desc: Descriptor, bytes: Buffer, tag: string, signal?: AbortSignal): Promise<PushResult> {
    await this.retry(() => this.client.putManifest(this.repository, tag, bytes, desc.mediaType, signal), signal);
    return { how: 'uploaded', bytes: bytes.length };
  }

  /** Tagging is a PUT of the manifest's bytes under the tag. */
  async tag(desc: Descriptor, tag: string, signal?: AbortSignal): Promise<void> {
    const m = await this.retry(() => this.client.fetchManifest(this.repository, desc.digest, signal), signal);
    await this.pushReference({ ...desc, mediaType: desc.mediaType || m.descriptor.mediaType }, m.bytes, tag, signal);
  }

  /** The referrers API where the registry has one, else the fallback tag's index (distribution-spec "Referrers Tag Schema"). */
  async referrers(subject: Descriptor, opts: { tags?: readonly string[]; signal?: AbortSignal } = {}): Promise<Descriptor[]> {
    const { signal } = opts;
    const api = await this.retry(() => this.client.referrersApi(this.repository, subject.digest, signal), signal);
    if (api) return api;
    const fallback = referrersTag(subject.digest);
    if (opts.tags && !opts.tags.includes(fallback)) return [];
    const d = await this.resolve(fallback, signal);
    if (!d || !isIndexMediaType(d.mediaType)) return [];
    const bytes = await readVerified(await this.fetch(d, signal), d, LIMITS.manifestBytes, 'manifest');
    return parseManifest(bytes, d.mediaType, `referrers index ${fallback}`).manifests;
  }

  /** Whether pushing a manifest with a subject is enough for the registry to list it (OCI 1.1). */
  async indexesReferrers(subject: Descriptor, signal?: AbortSignal): Promise<boolean> {
    const api = await this.retry(() => this.client.referrersApi(this.repository, subject.digest, signal), signal).catch(() => undefined);
    return api !== undefined;
  }

  deleteTag(tag: string, signal?: AbortSignal): Promise<void> {
    if (isDigest(tag)) throw new Error('deleteTag takes a tag, not a digest');
    return this.retry(() => this.client.deleteManifest(this.repository, tag, signal), signal);
  }

  async close(): Promise<void> {
    // Connections belong to the shared HttpClient.
  }
}
