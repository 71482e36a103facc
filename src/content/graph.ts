/**
 * What a manifest points at (oras-go `content.Successors`): an image manifest names its config
 * and layers, an image index (or Docker manifest list) its manifests. `subject` is not a child:
 * a referrer points back at what it describes, and is found through the referrers API.
 */
import { ChartMirrorError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isDigest } from '../oci/reference.js';
import { isIndexMediaType, isManifestMediaType } from '../oci/media-types.js';

export interface ParsedManifest {
  mediaType: string;
  /** Image manifests: the config. */
  config?: Descriptor;
  /** Image manifests: the layers in order. */
  layers: Descriptor[];
  /** Image indexes: the child manifests in order. */
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations: Record<string, string>;
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  const x = d as Partial<Descriptor> | null;
  if (
    !x ||
    typeof x !== 'object' ||
    typeof x.mediaType !== 'string' ||
    typeof x.digest !== 'string' ||
    !isDigest(x.digest) ||
    !Number.isSafeInteger(x.size) ||
    (x.size as number) < 0
  ) {
    throw new ChartMirrorError('MANIFEST', `${where} is not a valid descriptor (mediaType, sha256 digest and size)`);
  }
  const out: Descriptor = { mediaType: x.mediaType, digest: x.digest, size: x.size as number };
  if (x.annotations && typeof x.annotations === 'object') out.annotations = x.annotations;
  const platform = (d as { platform?: unknown }).platform;
  if (platform && typeof platform === 'object') (out as Descriptor & { platform?: unknown }).platform = platform;
  const artifactType = (d as { artifactType?: unknown }).artifactType;
  if (typeof artifactType === 'string') (out as Descriptor & { artifactType?: string }).artifactType = artifactType;
  return out;
}

/**
 * Parse a manifest or index. `mediaType` is the descriptor's (what the registry or index.json
 * said); the body's own `mediaType`, when present, must agree.
 */
export function parseManifest(bytes: Buffer, mediaType: string, what = 'manifest'): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ChartMirrorError('MANIFEST', `${what} is not JSON (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ChartMirrorError('MANIFEST', `${what} is not a JSON object`);
  const bodyType = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const type = mediaType || bodyType || '';
  if (bodyType && mediaType && bodyType !== mediaType) {
    throw new ChartMirrorError('MANIFEST', `${what}: its body says mediaType ${bodyType}, its descriptor ${mediaType}`);
  }
  const list = (key: string): Descriptor[] => {
    const v = doc[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new ChartMirrorError('MANIFEST', `${what}: ${key} is not a list`);
    return v.map((d, i) => checkDescriptor(d, `${what}: ${key}[${i}]`));
  };
  const annotations = doc.annotations && typeof doc.annotations === 'object' ? (doc.annotations as Record<string, string>) : {};
  const out: ParsedManifest = { mediaType: type, layers: [], manifests: [], annotations };
  if (typeof doc.artifactType === 'string') out.artifactType = doc.artifactType;
  if (doc.subject !== undefined) out.subject = checkDescriptor(doc.subject, `${what}: subject`);
  if (isIndexMediaType(type) || (!type && Array.isArray(doc.manifests))) {
    out.manifests = list('manifests');
  } else {
    if (doc.config === undefined) throw new ChartMirrorError('MANIFEST', `${what} has no config descriptor`);
    out.config = checkDescriptor(doc.config, `${what}: config`);
    out.layers = list('layers');
  }
  return out;
}

/** The children of a node, in the order they must exist before it: config, layers; or manifests. */
export function successors(m: ParsedManifest): Descriptor[] {
  return m.config ? [m.config, ...m.layers] : [...m.manifests];
}

/** Whether a descriptor names a manifest (walked) rather than a blob (streamed). */
export function isManifest(desc: Descriptor): boolean {
  return isManifestMediaType(desc.mediaType);
}
