/**
 * The files of an OCI image layout (image-spec image-layout.md), wherever they are: a
 * directory, or a tar of one (a bundle), whole or cut into parts. Read access is the same for
 * both; only a directory can be written. Nothing here trusts content: readers verify.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ChartMirrorError } from '../errors.js';
import { LIMITS } from '../defaults.js';
import type { Descriptor } from '../oci/descriptor.js';
import { digestHex } from '../util/digest.js';
import { TEMP_PREFIX, writeFileAtomic } from '../util/fs-atomic.js';
import { PartedFile } from './parted-file.js';
import { indexTar, type TarEntry } from './tar-index.js';
import { verified } from './verify.js';
import type { ContentStream } from './store.js';

export interface LayoutFiles {
  readonly kind: 'dir' | 'tar';
  /** The path to show in messages. */
  readonly display: string;
  /** What the layout is made of: the directory, or the tar and its parts. */
  readonly files: string[];
  /** Why part of a tar could not be read (truncated, damaged header): what lies past it is missing. */
  readonly problem?: string;
  /** A file at the layout root (oci-layout, index.json, a listing), or undefined when absent. */
  readRootFile(name: string): Promise<Buffer | undefined>;
  /** A blob's size as stored, or undefined when absent. */
  blobSize(digest: string): Promise<number | undefined>;
  /** A blob's stored bytes (unverified). */
  openBlob(digest: string): Promise<ContentStream>;
  /** Where a blob's bytes are, for messages (`bytes 512-1023 of bundle.tar.part-002`). */
  where(digest: string): string;
  close(): Promise<void>;
}

/** A temp file not written to for this long was left by a crash (see removeStaleTemps). */
export const STALE_TEMP_MS = 60 * 60_000;

function missingBlob(display: string, digest: string): ChartMirrorError {
  return new ChartMirrorError('NOT_FOUND', `${display}: blob ${digest} is missing`);
}

function writeError(dir: string, e: unknown): ChartMirrorError {
  if (e instanceof ChartMirrorError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  return new ChartMirrorError('LAYOUT', `${dir}: cannot write OCI layout (${code ?? (e as Error).message})`, { cause: e });
}

/** A layout directory: read, and written blob by blob (verified, then renamed into place). */
export class DirLayoutFiles implements LayoutFiles {
  readonly kind = 'dir' as const;
  readonly display: string;
  readonly files: string[];

  constructor(dir: string) {
    this.display = resolve(dir);
    this.files = [this.display];
  }

  blobPath(digest: string): string {
    return join(this.display, 'blobs', 'sha256', digestHex(digest));
  }

  async readRootFile(name: string): Promise<Buffer | undefined> {
    const p = join(this.display, name);
    const s = await stat(p).catch(() => undefined);
    if (!s?.isFile()) return undefined;
    if (s.size > LIMITS.layoutMetaBytes) throw new ChartMirrorError('LAYOUT', `${p}: ${s.size} bytes is too large`);
    return readFile(p);
  }

  async blobSize(digest: string): Promise<number | undefined> {
    const s = await stat(this.blobPath(digest)).catch(() => undefined);
    return s?.isFile() ? s.size : undefined;
  }

  async openBlob(digest: string): Promise<ContentStream> {
    const path = this.blobPath(digest);
    const s = await stat(path).catch(() => undefined);
    if (!s?.isFile()) throw missingBlob(this.display, digest);
    return createReadStream(path, { highWaterMark: 1024 * 1024 });
  }

  where(digest: string): string {
    return this.blobPath(digest);
  }

  /** Create the directories a layout needs. */
  async prepare(): Promise<void> {
    await mkdir(join(this.display, 'blobs', 'sha256'), { recursive: true }).catch((e) => {
      throw writeError(this.display, e);
    });
  }

  rootPath(name: string): string {
    return join(this.display, name);
  }

  /** Replace a root file atomically; `beforeRename` may still cancel it (by throwing). */
  async writeRootFile(name: string, data: string | Buffer, beforeRename?: () => Promise<void>): Promise<void> {
    try {
      await writeFileAtomic(join(this.display, name), data, { beforeRename });
    } catch (e) {
      throw writeError(this.display, e);
    }
  }

  /**
   * Write a blob from a stream: into a temp file, checked against `desc` as it is written,
   * renamed into place only when complete and correct. Returns the bytes written.
   */
  async writeBlob(desc: Descriptor, stream: ContentStream): Promise<number> {
    const final = this.blobPath(desc.digest);
    const tmp = join(this.display, 'blobs', 'sha256', `${TEMP_PREFIX}${digestHex(desc.digest).slice(0, 16)}-${randomBytes(6).toString('hex')}`);
    let fh;
    try {
      fh = await open(tmp, 'w');
    } catch (e) {
      throw writeError(this.display, e);
    }
    let written = 0;
    try {
      for await (const chunk of verified(stream, desc)) {
        await fh.write(chunk);
        written += chunk.length;
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      await rename(tmp, final);
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw e instanceof ChartMirrorError ? e : writeError(this.display, e);
    }
    return written;
  }

  /**
   * Temp files are only ever ours and only ever unfinished: a crash left them, or another
   * process sharing the layout is writing them right now. Only those nobody has written to for
   * an hour are removed (a live write touches its file with every chunk).
   */
  async removeStaleTemps(now = Date.now()): Promise<void> {
    for (const d of [this.display, join(this.display, 'blobs', 'sha256')]) {
      const names = (await readdir(d).catch(() => [] as string[])).filter((n) => n.startsWith(TEMP_PREFIX));
      await Promise.all(
        names.map(async (n) => {
          const s = await stat(join(d, n)).catch(() => undefined);
          if (s && now - s.mtimeMs > STALE_TEMP_MS) await rm(join(d, n), { force: true });
        }),
      );
    }
  }

  async close(): Promise<void> {}
}

/** A layout inside a tar (or the parts `export --split` cut it into), read by position. */
export class TarLayoutFiles implements LayoutFiles {
  readonly kind = 'tar' as const;
  readonly display: string;
  readonly problem?: string;

  private constructor(
    private readonly file: PartedFile,
    private readonly entries: Map<string, TarEntry>,
    problem: string | undefined,
  ) {
    this.display = file.display;
    this.problem = problem;
  }

  static async open(path: string): Promise<TarLayoutFiles> {
    const file = await PartedFile.open(path);
    const index = await indexTar(file);
    return new TarLayoutFiles(file, index.files, index.problem);
  }

  get files(): string[] {
    return this.file.partPaths;
  }

  private blobEntry(digest: string): TarEntry | undefined {
    return this.entries.get(`blobs/sha256/${digestHex(digest)}`);
  }

  async readRootFile(name: string): Promise<Buffer | undefined> {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (e.size > LIMITS.layoutMetaBytes) throw new ChartMirrorError('LAYOUT', `${this.display}: ${name} is too large (${e.size} bytes)`);
    return this.file.read(e.offset, e.size);
  }

  async blobSize(digest: string): Promise<number | undefined> {
    return this.blobEntry(digest)?.size;
  }

  async openBlob(digest: string): Promise<ContentStream> {
    const e = this.blobEntry(digest);
    if (!e) throw missingBlob(this.display, digest);
    return this.file.chunks(e.offset, e.size);
  }

  where(digest: string): string {
    const e = this.blobEntry(digest);
    return e ? `bytes ${e.offset}-${e.offset + e.size - 1} of ${this.file.where(e.offset, e.size)}` : basename(this.display);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** A directory is a layout directory; anything else is read as a tar or its first part. */
export async function openLayoutFiles(path: string): Promise<LayoutFiles> {
  const s = await stat(path).catch(() => undefined);
  if (s?.isDirectory()) return new DirLayoutFiles(path);
  return TarLayoutFiles.open(path);
}
