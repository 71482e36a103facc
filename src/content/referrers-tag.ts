/**
 * Tag names that carry referrers in registries without the OCI 1.1 referrers API: the
 * distribution-spec fallback `sha256-<hex>` (an image index of the referrers) and cosign's
 * `sha256-<hex>.sig`, `.att` and `.sbom` (each a manifest of its own).
 */
const REFERRER_TAG = /^sha256-([a-f0-9]{64})(?:\.(sig|att|sbom))?$/;

/** The fallback tag for a subject: `sha256:<hex>` -> `sha256-<hex>`. */
export function referrersTag(subjectDigest: string): string {
  return `sha256-${subjectDigest.slice('sha256:'.length)}`;
}

/** The subject a referrer tag names, and its cosign kind (undefined for the fallback index). */
export function parseReferrerTag(tag: string): { subject: string; cosign?: 'sig' | 'att' | 'sbom' } | undefined {
  const m = REFERRER_TAG.exec(tag);
  if (!m) return undefined;
  return { subject: `sha256:${m[1]}`, ...(m[2] ? { cosign: m[2] as 'sig' | 'att' | 'sbom' } : {}) };
}
