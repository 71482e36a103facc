/**
 * Content stores: small interfaces, combined (oras-go v2 `content.Storage`, `content.Resolver`,
 * `registry.TagLister`, `registry.Mounter`, ...). Each store is bound to one repository: a
 * registry repository, a repository (ref-name prefix) in an OCI image layout, a read-only
 * layout over a bundle tar, or an in-memory store. Optional abilities are detected at run time
 * with the `can*` guards, never assumed.
 */
import type { Descriptor } from '../oci/descriptor.js';

/** Bytes as they arrive: a Readable, or any async iterable of chunks. */
export type ContentStream = AsyncIterable<Uint8Array>;

/**
 * A way to open a descriptor's content, as often as needed: a retried upload opens it again
 * from the start (oras `GetBody`, regclient `BodyFunc`).
 */
export type ContentOpener = (signal?: AbortSignal) => Promise<ContentStream>;

export type StoreKind = 'registry' | 'layout' | 'bundle' | 'memory';

export interface PushResult {
  /** uploaded: bytes went over; mounted: the registry linked it from another repository; exists: nothing to do. */
  how: 'uploaded' | 'mounted' | 'exists';
  /** Bytes sent or written for this descriptor. */
  bytes: number;
}

export interface ReadOnlyStore {
  readonly kind: StoreKind;
  /** For messages and reports: `oci://host/repo`, a layout directory, a bundle file. */
  readonly display: string;
  /** A tag or `sha256:` digest to the manifest descriptor it names; undefined when absent. */
  resolve(reference: string, signal?: AbortSignal): Promise<Descriptor | undefined>;
  /** The content of a descriptor as stored, unverified: callers check it (see verify.ts). */
  fetch(desc: Descriptor, signal?: AbortSignal): Promise<ContentStream>;
  exists(desc: Descriptor, signal?: AbortSignal): Promise<boolean>;
  /** Every tag of the repository (paginated where the store pages). */
  tags(signal?: AbortSignal): Promise<string[]>;
  /**
   * Below this size, asking whether content exists costs more than sending it again (a
   * registry round trip vs. a deduplicating upload); copy then pushes without asking.
   */
  readonly existsCheckMinBytes?: number;
  close(): Promise<void>;
}

export interface PushOptions {
  signal?: AbortSignal;
}

export interface Store extends ReadOnlyStore {
  /** Store content that matches `desc` exactly (size and digest are checked while writing). */
  push(desc: Descriptor, content: ContentOpener, opts?: PushOptions): Promise<PushResult>;
  /** Point `tag` at a manifest the store already holds. */
  tag(desc: Descriptor, tag: string, signal?: AbortSignal): Promise<void>;
}

/** Push a manifest and tag it in one step (a registry PUT by tag): oras `registry.ReferencePusher`. */
export interface ReferencePusher {
  pushReference(desc: Descriptor, bytes: Buffer, tag: string, signal?: AbortSignal): Promise<PushResult>;
}

/** Cross-repository blob mount within one registry: oras `registry.Mounter`. */
export interface Mounter {
  /**
   * Link a blob from repository `from` of the same registry; when the registry refuses, the
   * blob is uploaded from `content` instead.
   */
  mount(desc: Descriptor, from: string, content: ContentOpener, signal?: AbortSignal): Promise<PushResult>;
  /** The repository to mount from when copying out of `src`, if `src` lives on the same registry. */
  mountSourceFor(src: ReadOnlyStore): string | undefined;
}

/** Manifests whose `subject` is a given manifest (OCI 1.1 referrers API or the fallback tag). */
export interface ReferrerLister {
  /**
   * `tags`: the repository's tags when the caller has them; the fallback tag `sha256-<hex>` is
   * then only looked up when listed (no request for a subject without referrers).
   */
  referrers(subject: Descriptor, opts?: { tags?: readonly string[]; signal?: AbortSignal }): Promise<Descriptor[]>;
}

export interface TagDeleter {
  deleteTag(tag: string, signal?: AbortSignal): Promise<void>;
}

export function isStore(s: ReadOnlyStore): s is Store {
  return typeof (s as Partial<Store>).push === 'function' && typeof (s as Partial<Store>).tag === 'function';
}

export function canPushReference(s: ReadOnlyStore): s is Store & ReferencePusher {
  return typeof (s as Partial<ReferencePusher>).pushReference === 'function';
}

export function canMount(s: ReadOnlyStore): s is Store & Mounter {
  return typeof (s as Partial<Mounter>).mount === 'function';
}

export function canListReferrers(s: ReadOnlyStore): s is ReadOnlyStore & ReferrerLister {
  return typeof (s as Partial<ReferrerLister>).referrers === 'function';
}

export function canDeleteTags(s: ReadOnlyStore): s is ReadOnlyStore & TagDeleter {
  return typeof (s as Partial<TagDeleter>).deleteTag === 'function';
}

/** A store with a reference to start from: what openStore returns. */
export type OpenedStore<S extends ReadOnlyStore = ReadOnlyStore> = S & {
  /** The tag or digest named when the store was opened, if any. */
  readonly reference?: string;
};
