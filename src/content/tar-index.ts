/**
 * Where each file of a tar is, by position, without unpacking it (oras-go `internal/fs/tarfs`
 * does the same), on node-tar's header codec (`Header`, `Pax`). node-tar's streaming Parser
 * cannot say where an entry starts, and a bundle's blobs are read later, in any order.
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
export function normalise(path: string): string {
  // Plain scans, not /\/+$/: a regex anchored at the end backtracks over every run of slashes.
  let start = 0;
  while (path.startsWith('./', start)) start += 2;
  while (path[start] === '/') start++;
  let end = path.length;
  while (end > start && path[end - 1] === '/') end--;
  return path.slice(start, end);
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
