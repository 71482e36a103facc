/**
 * The tar side of bundles, on node-tar's header codec (`Header`, `Pax`).
 *
 * Reading walks the headers and records where each file's bytes are, so blobs can be read
 * later by position, in any order, without unpacking (oras-go `internal/fs/tarfs` does the
 * same); node-tar's streaming Parser cannot say where an entry starts. Writing streams entries
 * we choose, in an order we choose, with fixed metadata: the same content gives the same bytes.
 */
import { Header, Pax, type HeaderData } from 'tar';
import type { PartedFile } from './parted-file.js';

const BLOCK = 512;

export interface TarEntry {
  path: string;
  /** Offset of the first data byte. */
  offset: number;
  size: number;
}

export interface TarIndex {
  /** Regular files by normalised path (`./x` and `x` are the same); a later entry wins, as in tar. */
  files: Map<string, TarEntry>;
  /** Why the walk stopped early (truncated or damaged archive); entries past it are unknown. */
  problem?: string;
}

/** `./blobs/sha256/x` and `blobs/sha256/x/` are `blobs/sha256/x`. */
function normalise(path: string): string {
  return path.replace(/^(\.\/)+/, '').replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Index a tar's regular files (ustar, pax and GNU long names; plain, not compressed). */
export async function indexTar(file: PartedFile): Promise<TarIndex> {
  const files = new Map<string, TarEntry>();
  let ex: HeaderData | undefined;
  let gex: HeaderData | undefined;
  let pos = 0;
  const name = file.display;
  for (;;) {
    if (pos + BLOCK > file.size) {
      return {
        files,
        problem: pos === 0 ? `${name} is empty` : `${name} is truncated: it ends at byte ${file.size} without the end-of-archive marker (a part missing or cut short?)`,
      };
    }
    const block = await file.read(pos, BLOCK);
    let h: Header;
    try {
      h = new Header(block, 0, ex, gex);
    } catch {
      return { files, problem: `${name}: unreadable tar header at byte ${pos} (in ${file.where(pos, BLOCK)})` };
    }
    if (h.nullBlock) return { files };
    if (!h.cksumValid) {
      const what = pos === 0 ? `${name} is not a tar archive (chartmirror bundles are plain, uncompressed tar)` : `${name}: tar header at byte ${pos} is damaged (checksum mismatch, in ${file.where(pos, BLOCK)})`;
      return { files, problem: what };
    }
    const size = h.size ?? 0;
    const dataStart = pos + BLOCK;
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    const path = normalise(h.path ?? '');
    if (dataStart + size > file.size) {
      return { files, problem: `${name} is truncated: ${path || 'an entry'} needs ${dataStart + size - file.size} more bytes than there are (a part missing or cut short?)` };
    }
    switch (h.type) {
      case 'ExtendedHeader':
      case 'OldExtendedHeader':
        ex = Pax.parse((await file.read(dataStart, size)).toString('utf8'), ex, false);
        break;
      case 'GlobalExtendedHeader':
        gex = Pax.parse((await file.read(dataStart, size)).toString('utf8'), gex, true);
        break;
      case 'NextFileHasLongPath':
      case 'OldGnuLongPath':
        ex = { ...ex, path: (await file.read(dataStart, size)).toString('utf8').replace(/\0.*/s, '') };
        break;
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        if (path) files.set(path, { path, offset: dataStart, size });
        ex = undefined;
        break;
      default:
        // Directories, links and the rest carry nothing a layout needs.
        ex = undefined;
        break;
    }
    pos = next;
  }
}

/** A file to put in a tar: its bytes, or a producer of exactly `size` bytes. */
export type TarInput =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; size: number; data: Buffer | (() => AsyncIterable<Buffer>) };

/** Fixed metadata: the same entries give the same archive, byte for byte. */
const EPOCH = new Date(0);

function header(path: string, type: 'File' | 'Directory', size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const h = new Header({ path, type, size, mode: type === 'File' ? 0o644 : 0o755, uid: 0, gid: 0, uname: '', gname: '', mtime: EPOCH });
  h.encode(block, 0);
  if (h.needPax) throw new Error(`tar: ${path} does not fit a ustar header`);
  return block;
}

/** The archive as a stream of chunks; a producer that yields the wrong number of bytes is an error. */
export async function* tarStream(entries: Iterable<TarInput>): AsyncGenerator<Buffer> {
  for (const e of entries) {
    if (e.kind === 'dir') {
      yield header(`${e.path.replace(/\/+$/, '')}/`, 'Directory', 0);
      continue;
    }
    yield header(e.path, 'File', e.size);
    let written = 0;
    if (Buffer.isBuffer(e.data)) {
      written = e.data.length;
      yield e.data;
    } else {
      for await (const chunk of e.data()) {
        written += chunk.length;
        yield chunk;
      }
    }
    if (written !== e.size) throw new Error(`tar: ${e.path} gave ${written} bytes, expected ${e.size}`);
    const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}
