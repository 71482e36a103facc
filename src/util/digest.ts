import { createHash } from 'node:crypto';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256:<hex>` of the bytes. */
export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${sha256Hex(data)}`;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isSha256Digest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** The hex part of a `sha256:<hex>` digest. */
export function digestHex(digest: string): string {
  if (!isSha256Digest(digest)) throw new Error(`unsupported digest ${JSON.stringify(digest)}`);
  return digest.slice('sha256:'.length);
}

/**
 * An index.yaml `digest` as a normalised `sha256:<hex>`: `helm repo index` writes bare hex,
 * other tools write `sha256:`-prefixed; case is ignored. Undefined when absent or unusable.
 */
export function normaliseIndexDigest(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.trim().toLowerCase();
  const hex = v.startsWith('sha256:') ? v.slice(7) : v;
  return /^[a-f0-9]{64}$/.test(hex) ? `sha256:${hex}` : undefined;
}
