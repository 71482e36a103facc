/**
 * Referrers (signatures, SBOMs, attestations) travel with their subject. Found in a source by
 * the OCI 1.1 referrers API, its fallback tag `sha256-<hex>`, or cosign's `sha256-<hex>.sig`,
 * `.att` and `.sbom` tags; copied after the subject (so they never point at nothing) into the
 * destination's referrers API where it has one, else by the same fallback tags.
 */
import { LIMITS } from '../defaults.js';
import type { Descriptor } from '../oci/descriptor.js';
import { OCI_INDEX_MEDIA_TYPE } from '../oci/media-types.js';
import { copy } from './copy.js';
import { parseManifest } from './graph.js';
import { MemoryStore } from './memory.js';
import { RegistryRepository } from './registry.js';
import { parseReferrerTag, referrersTag } from './referrers-tag.js';
import { readVerified } from './verify.js';
import { canListReferrers, type ReadOnlyStore, type Store } from './store.js';

export interface Referrer {
  descriptor: Descriptor;
  /** cosign-style referrers live under a tag of their own, copied as that tag. */
  tag?: string;
  artifactType?: string;
}

/** A referrer as it landed at a destination. */
export interface CopiedReferrer {
  digest: string;
  artifactType?: string;
  tag?: string;
}

/**
 * The referrers of `subject` in `src`. `tags` (the repository's tags, when the caller listed
 * them) saves a request per subject: fallback and cosign tags are only looked up when listed.
 */
export async function findReferrers(src: ReadOnlyStore, subject: Descriptor, tags: readonly string[] | undefined, signal?: AbortSignal): Promise<Referrer[]> {
  const out = new Map<string, Referrer>();
  if (canListReferrers(src)) {
    for (const d of await src.referrers(subject, { tags, signal })) {
      out.set(d.digest, { descriptor: pick(d), ...(artifactTypeOf(d) ? { artifactType: artifactTypeOf(d) } : {}) });
    }
  }
  const cosignTags = (tags ?? (await src.tags(signal))).filter((t) => {
    const p = parseReferrerTag(t);
    return p?.cosign !== undefined && p.subject === subject.digest;
  });
  for (const tag of cosignTags.sort()) {
    const d = await src.resolve(tag, signal);
    if (d) out.set(`${d.digest} ${tag}`, { descriptor: pick(d), tag, artifactType: `cosign ${parseReferrerTag(tag)!.cosign}` });
  }
  return [...out.values()];
}

function pick(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

function artifactTypeOf(d: Descriptor): string | undefined {
  const t = (d as Descriptor & { artifactType?: unknown }).artifactType;
  return typeof t === 'string' ? t : undefined;
}

/**
 * Copy each referrer's graph after its subject, and make it findable at `dst`: a cosign tag as
 * that tag; a subject referrer through the destination's referrers API, or where it has none
 * (a layout, distribution 2.8) in the fallback index tag, merged with what is there already.
 */
export async function copyReferrers(
  src: ReadOnlyStore,
  dst: Store,
  subject: Descriptor,
  referrers: readonly Referrer[],
  opts: { signal?: AbortSignal; mountFrom?: (d: Descriptor) => string | undefined } = {},
): Promise<CopiedReferrer[]> {
  const { signal } = opts;
  const copied: CopiedReferrer[] = [];
  const unlisted: Descriptor[] = [];
  for (const r of referrers) {
    await copy(src, dst, r.descriptor, { signal, mountFrom: opts.mountFrom, ...(r.tag ? { tag: r.tag } : {}) });
    copied.push({ digest: r.descriptor.digest, ...(r.artifactType ? { artifactType: r.artifactType } : {}), ...(r.tag ? { tag: r.tag } : {}) });
    if (!r.tag) unlisted.push(await withArtifactType(src, r.descriptor, signal));
  }
  if (unlisted.length && !(dst instanceof RegistryRepository && (await dst.indexesReferrers(subject, signal)))) {
    await addToFallbackIndex(dst, subject, unlisted, signal);
  }
  return copied;
}

/** The descriptor an index of referrers lists: with the referrer's artifactType and annotations. */
async function withArtifactType(src: ReadOnlyStore, d: Descriptor, signal?: AbortSignal): Promise<Descriptor> {
  const bytes = await readVerified(await src.fetch(d, signal), d, LIMITS.manifestBytes, 'manifest');
  const m = parseManifest(bytes, d.mediaType, `referrer ${d.digest}`);
  const artifactType = m.artifactType ?? m.config?.mediaType;
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(artifactType ? { artifactType } : {}),
    ...(Object.keys(m.annotations).length ? { annotations: m.annotations } : {}),
  } as Descriptor;
}

/** Add descriptors to the `sha256-<hex>` index at `dst` (created when absent), keeping what it listed. */
async function addToFallbackIndex(dst: Store, subject: Descriptor, add: Descriptor[], signal?: AbortSignal): Promise<void> {
  const tag = referrersTag(subject.digest);
  const existing = await dst.resolve(tag, signal);
  let manifests: Descriptor[] = [];
  if (existing) {
    const bytes = await readVerified(await dst.fetch(existing, signal), existing, LIMITS.manifestBytes, 'manifest');
    manifests = parseManifest(bytes, existing.mediaType, `referrers index ${tag}`).manifests;
  }
  const known = new Set(manifests.map((m) => m.digest));
  const fresh = add.filter((d) => !known.has(d.digest));
  if (fresh.length === 0 && existing) return;
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [...manifests, ...fresh] }));
  const mem = new MemoryStore('referrers index');
  const desc = mem.add(OCI_INDEX_MEDIA_TYPE, index);
  // Every referrer it lists is at dst already (looked up, skipped): only the index is pushed.
  await copy(mem, dst, desc, { tag, signal, skipRootCheck: true });
}
