/**
 * Builds hostile or unusual chart archives from plain data (ArchiveCase in fixtures-awkward.ts):
 * raw ustar/GNU/v7 headers, PAX and GNU long-name records, odd entry types, size fields that
 * lie, nested subchart archives, and gzip containers with damage after the tar data.
 */
import { gzipSync } from 'node:zlib';

export type TarPart =
  | {
      file: string;
      /** text content, or `zeros` bytes of zeros */
      data?: string;
      zeros?: number;
      /** content = this nested archive (a subchart .tgz) */
      tgz?: TarPart[];
      type?: string;
      mode?: number;
      link?: string;
      /** size written in the header when it must differ from the data length */
      sizeField?: number;
      magic?: 'ustar' | 'gnu' | 'v7';
      badChecksum?: boolean;
      base256Size?: boolean;
      prefix?: string;
      mtime?: number;
    }
  | { pax: Record<string, string>; global?: boolean }
  | { paxRaw: string }
  | { gnuLongName: string }
  | { bytes: number; fill: number };

export type GzipVariant =
  | 'none'
  | 'trailing-garbage'
  | 'bad-crc'
  | 'reserved-flags'
  | 'two-members'
  | 'corrupt-deflate'
  | { truncateTail: number }
  | 'truncate-half';

export interface ArchiveCase {
  id: string;
  parts: TarPart[];
  /** end-of-archive zero blocks (default 2) */
  endBlocks?: number;
  /** bytes of zeros after the end blocks (inside the gzip stream) */
  padding?: number;
  gzip?: GzipVariant;
}

function oct(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(p: Extract<TarPart, { file: string }>, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(p.file, 0, 100, 'utf8');
  h.write(oct(p.mode ?? 0o644, 8), 100, 'ascii');
  h.write(oct(0, 8), 108, 'ascii');
  h.write(oct(0, 8), 116, 'ascii');
  const s = p.sizeField ?? size;
  if (p.base256Size) {
    h[124] = 0x80;
    h.writeUInt32BE(s, 132);
  } else {
    h.write(oct(s, 12), 124, 'ascii');
  }
  h.write(oct(p.mtime ?? 1_700_000_000, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(p.type ?? '0', 156, 'latin1');
  if (p.link) h.write(p.link, 157, 100, 'utf8');
  const magic = p.magic ?? 'ustar';
  if (magic === 'ustar') {
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
  } else if (magic === 'gnu') {
    h.write('ustar ', 257, 'ascii');
    h.write(' \0', 263, 'ascii');
  }
  if (p.prefix) h.write(p.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  if (p.badChecksum) sum += 1;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

function paxBody(recs: Record<string, string>): string {
  let body = '';
  for (const [k, v] of Object.entries(recs)) {
    const rest = ` ${k}=${v}\n`;
    let n = Buffer.byteLength(rest) + 1;
    while (String(n).length + Buffer.byteLength(rest) !== n) n++;
    body += n + rest;
  }
  return body;
}

function partBytes(p: TarPart): Buffer {
  if ('bytes' in p) return Buffer.alloc(p.bytes, p.fill);
  if ('pax' in p || 'paxRaw' in p) {
    const body = Buffer.from('pax' in p ? paxBody(p.pax) : p.paxRaw);
    const global = 'pax' in p && p.global;
    return Buffer.concat([header({ file: global ? 'pax_global_header' : 'PaxHeader/x', type: global ? 'g' : 'x' }, body.length), body, pad(body.length)]);
  }
  if ('gnuLongName' in p) {
    const body = Buffer.from(p.gnuLongName + '\0');
    return Buffer.concat([header({ file: '././@LongLink', type: 'L', magic: 'gnu' }, body.length), body, pad(body.length)]);
  }
  const data = p.tgz ? buildTgz(p.tgz) : p.zeros !== undefined ? Buffer.alloc(p.zeros) : Buffer.from(p.data ?? '');
  return Buffer.concat([header(p, data.length), data, pad(data.length)]);
}

function buildTgz(parts: TarPart[]): Buffer {
  return gzipSync(Buffer.concat([...parts.map(partBytes), Buffer.alloc(1024)]));
}

/** The archive bytes for a case. */
export function buildArchive(c: ArchiveCase): Buffer {
  const tar = Buffer.concat([...c.parts.map(partBytes), Buffer.alloc(512 * (c.endBlocks ?? 2)), Buffer.alloc(c.padding ?? 0)]);
  const v = c.gzip ?? 'normal';
  if (v === 'none') return tar;
  const gz = Buffer.from(gzipSync(tar));
  if (v === 'normal') return gz;
  if (v === 'trailing-garbage') return Buffer.concat([gz, Buffer.from('garbage')]);
  if (v === 'bad-crc') {
    gz[gz.length - 8] ^= 0xff;
    return gz;
  }
  if (v === 'reserved-flags') {
    gz[3] = 0xe0;
    return gz;
  }
  if (v === 'two-members') {
    const half = Math.floor(tar.length / 1024) * 512;
    return Buffer.concat([gzipSync(tar.subarray(0, half)), gzipSync(tar.subarray(half))]);
  }
  if (v === 'corrupt-deflate') {
    for (let i = 20; i < 60 && i < gz.length; i++) gz[i] ^= 0x55;
    return gz;
  }
  if (v === 'truncate-half') return gz.subarray(0, Math.floor(gz.length / 2));
  return gz.subarray(0, gz.length - v.truncateTail);
}
