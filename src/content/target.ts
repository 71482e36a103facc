import type { Descriptor } from '../oci/descriptor.js';

/** A blob to copy: its bytes now, or a way to get them only when the destination lacks it. */
export interface BlobSource {
  descriptor: Descriptor;
  bytes: Buffer | (() => Promise<Buffer>);
}

/** One OCI artifact ready to land: a manifest and every blob it references. */
export interface ArtifactContent {
  manifest: { descriptor: Descriptor; bytes: Buffer };
  blobs: BlobSource[];
}

export interface PushOutcome {
  /** Bytes actually sent or written (blobs the destination already had are not counted). */
  bytesUploaded: number;
  blobsSkipped: number;
  blobsMounted: number;
}

/**
 * Anything that holds OCI content: a registry repository or an OCI image layout
 * (oras `content.Storage` + `Tagger`, regclient `scheme/reg` vs `scheme/ocidir`).
 * Repositories are paths inside the target (`mirror/nginx`); tags are plain tags.
 */
export interface Target {
  readonly name: string;
  readonly kind: 'registry' | 'layout';
  /** Stable identity of the destination (URL or absolute path), for the journal. */
  readonly id: string;
  /** `oci://host/repo:tag` or `layout:/abs/path:repo:tag`, for reports and maps. */
  reference(repo: string, tag: string, digest?: string): string;
  /** Every tag the repository holds. One request (plus pages) on a registry. */
  listTags(repo: string, signal?: AbortSignal): Promise<Set<string>>;
  /** The manifest digest a tag points at, or undefined. */
  resolve(repo: string, tag: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Store blobs the target lacks, then the manifest, then point the tag at it. */
  push(repo: string, tag: string, content: ArtifactContent, signal?: AbortSignal): Promise<PushOutcome>;
  /** Read back (for verification and for copying out of a layout). */
  fetchManifest(repo: string, reference: string, signal?: AbortSignal): Promise<{ descriptor: Descriptor; bytes: Buffer }>;
  fetchBlob(repo: string, descriptor: Descriptor, signal?: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
}

export async function blobBytes(blob: BlobSource): Promise<Buffer> {
  return typeof blob.bytes === 'function' ? blob.bytes() : blob.bytes;
}
