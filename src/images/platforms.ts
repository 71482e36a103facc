/**
 * Platform subsets of multi-platform images. With every platform the image index is copied as
 * it is, so its digest is kept. With a subset, registries refuse an index whose children are
 * missing (distribution checks them), so a new index is written that lists only the chosen
 * platforms (same media type, same annotations): its digest differs from the source's, and the
 * report and the map record both.
 */
import type { Descriptor } from '../oci/descriptor.js';

type Platform = { os?: string; architecture?: string; variant?: string };

/** `linux/arm64/v8` matches os linux, architecture arm64, variant v8; `linux/arm64` any variant. */
export function platformMatches(p: Platform | undefined, wanted: readonly string[]): boolean {
  if (!p) return false;
  return wanted.some((w) => {
    const [os, arch, variant] = w.split('/');
    return p.os === os && p.architecture === arch && (variant === undefined || p.variant === variant);
  });
}

export function platformOf(d: Descriptor): Platform | undefined {
  const p = (d as Descriptor & { platform?: unknown }).platform;
  return p && typeof p === 'object' ? (p as Platform) : undefined;
}

/**
 * The index to copy for `wanted`: undefined when every child is wanted (copy the original),
 * else the new index bytes. Children without a platform (attestations) are kept with the
 * platform manifests they describe only when their annotations name a kept digest.
 */
export function subsetIndex(indexBytes: Buffer, wanted: readonly string[]): { bytes: Buffer; kept: number; dropped: number } | undefined {
  const doc = JSON.parse(indexBytes.toString('utf8')) as Record<string, unknown> & { manifests?: Descriptor[] };
  const manifests = Array.isArray(doc.manifests) ? doc.manifests : [];
  const kept = manifests.filter((m) => platformMatches(platformOf(m), wanted));
  const keptDigests = new Set(kept.map((m) => m.digest));
  const referring = manifests.filter((m) => !platformOf(m) && keptDigests.has(m.annotations?.['vnd.docker.reference.digest'] ?? ''));
  const all = [...kept, ...referring];
  if (all.length === manifests.length) return undefined;
  return { bytes: Buffer.from(JSON.stringify({ ...doc, manifests: manifests.filter((m) => all.includes(m)) })), kept: kept.length, dropped: manifests.length - all.length };
}
