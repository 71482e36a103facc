import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ChartMirrorError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { digestHex } from '../util/digest.js';
import { PartedFile } from './parted-file.js';
import { indexTar, type TarEntry } from './tar.js';

/** Small files at the layout root (oci-layout, index.json, the listing) are read whole, up to this. */
const MAX_META_BYTES = 64 * 1024 * 1024;

/**
 * Read access to a bundle: an OCI layout directory, a tar of one, or the parts of such a tar.
 * Nothing here trusts content: callers check every blob against its digest (readBlob, checkBlob).
 */
export interface BundleStore {
  /** The path to show in messages. */
  readonly display: string;
  readonly kind: 'tar' | 'dir';
  /** Files the bundle is made of (the tar or its parts; the directory). */
  readonly files: string[];
  /** Why part of a tar could not be read (truncated, damaged header): what lies past it is missing. */
  readonly problem?: string;
  /** A file at the layout root, or undefined when absent. */
  readFile(name: string): Promise<Buffer | undefined>;
  /** Size of a blob as stored, or undefined when absent. */
  blobSize(digest: string): Promise<number | undefined>;
  /** A blob's stored bytes in chunks (not checked). */
  blobChunks(digest: string): AsyncIterable<Buffer>;
  /** Where a blob's bytes are, for messages (`bundle.tar.part-002`). */
  where(digest: string): string;
  close(): Promise<void>;
}

export async function openBundle(path: string): Promise<BundleStore> {
  const s = await stat(path).catch(() => undefined);
  if (s?.isDirectory()) return new DirStore(path);
  const file = await PartedFile.open(path);
  return new TarStore(file, (await indexTar(file)));
}

class DirStore implements BundleStore {
  readonly kind = 'dir' as const;
  readonly files: string[];
  constructor(readonly display: string) {
    this.files = [display];
  }

  private blobPath(digest: string): string {
    return join(this.display, 'blobs', 'sha256', digestHex(digest));
  }

  async readFile(name: string): Promise<Buffer | undefined> {
    const p = join(this.display, name);
    const s = await stat(p).catch(() => undefined);
    if (!s?.isFile()) return undefined;
    if (s.size > MAX_META_BYTES) throw new ChartMirrorError('LAYOUT', `${p}: ${s.size} bytes is too large`);
    return readFile(p);
  }

  async blobSize(digest: string): Promise<number | undefined> {
    const s = await stat(this.blobPath(digest)).catch(() => undefined);
    return s?.isFile() ? s.size : undefined;
  }

  async *blobChunks(digest: string): AsyncIterable<Buffer> {
    for await (const chunk of createReadStream(this.blobPath(digest), { highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
  }

  where(digest: string): string {
    return this.blobPath(digest);
  }

  async close(): Promise<void> {}
}

class TarStore implements BundleStore {
  readonly kind = 'tar' as const;
  readonly display: string;
  readonly problem?: string;
  private readonly entries: Map<string, TarEntry>;

  constructor(
    private readonly file: PartedFile,
    index: { files: Map<string, TarEntry>; problem?: string },
  ) {
    this.display = file.display;
    this.entries = index.files;
    this.problem = index.problem;
  }

  get files(): string[] {
    return this.file.partPaths;
  }

  private blobEntry(digest: string): TarEntry | undefined {
    return this.entries.get(`blobs/sha256/${digestHex(digest)}`);
  }

  async readFile(name: string): Promise<Buffer | undefined> {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (e.size > MAX_META_BYTES) throw new ChartMirrorError('LAYOUT', `${this.display}: ${name} is too large (${e.size} bytes)`);
    return this.file.read(e.offset, e.size);
  }

  async blobSize(digest: string): Promise<number | undefined> {
    return this.blobEntry(digest)?.size;
  }

  async *blobChunks(digest: string): AsyncIterable<Buffer> {
    const e = this.blobEntry(digest);
    if (!e) throw new ChartMirrorError('LAYOUT', `${this.display}: blob ${digest} is missing`);
    yield* this.file.chunks(e.offset, e.size);
  }

  where(digest: string): string {
    const e = this.blobEntry(digest);
    return e ? `bytes ${e.offset}-${e.offset + e.size - 1} of ${this.file.where(e.offset, e.size)}` : basename(this.display);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/**
 * Stream a blob and compare it with its descriptor; a problem (one phrase, without the digest)
 * or undefined when it is intact.
 */
export async function checkBlob(store: BundleStore, desc: Descriptor): Promise<string | undefined> {
  const size = await store.blobSize(desc.digest);
  if (size === undefined) return 'is missing';
  if (size !== desc.size) return `is ${size} bytes, its descriptor says ${desc.size} (in ${store.where(desc.digest)})`;
  const hash = createHash('sha256');
  for await (const chunk of store.blobChunks(desc.digest)) hash.update(chunk);
  if (`sha256:${hash.digest('hex')}` !== desc.digest) return `does not match its digest (damaged, in ${store.where(desc.digest)})`;
  return undefined;
}

/** A blob's bytes, checked against its descriptor as they are read. */
export async function readBlob(store: BundleStore, desc: Descriptor): Promise<Buffer> {
  const size = await store.blobSize(desc.digest);
  if (size === undefined) throw new ChartMirrorError('LAYOUT', `${store.display}: blob ${desc.digest} is missing`);
  if (size !== desc.size) throw new ChartMirrorError('DIGEST', `${store.display}: blob ${desc.digest} is ${size} bytes, its descriptor says ${desc.size}`);
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  for await (const chunk of store.blobChunks(desc.digest)) {
    hash.update(chunk);
    chunks.push(chunk);
  }
  if (`sha256:${hash.digest('hex')}` !== desc.digest) {
    throw new ChartMirrorError('DIGEST', `${store.display}: blob ${desc.digest} does not match its digest (damaged, in ${store.where(desc.digest)})`);
  }
  return Buffer.concat(chunks);
}
