/**
 * Go `archive/tar` Reader (reader.go, strconv.go, format.go, common.go; Go 1.23 / 1.25 as in
 * Helm 3.17.3 / 4.1.4): header checksums (signed or unsigned), V7/USTAR/STAR/GNU formats,
 * base-256 numbers, PAX records and GNU long names applied to the next entry, global PAX
 * headers returned as entries of their own, header-only types with no data. Sparse files,
 * which Go expands, are refused instead.
 *
 * node-tar's Parser is not used: it applies global PAX headers, skips bad-checksum and
 * unknown entries and hides the mode's type bits, all of which change what Helm's loader sees.
 */

/** A Go archive/tar error; the message is Go's (the sparse-file refusal aside). */
export class TarError extends Error {}

/** What the reader pulls from (Go: the io.Reader, here the gzip stream): exactly n bytes. */
export interface ByteSource {
  /** Exactly n bytes; undefined at a clean end of stream when `eofOk`, else it throws. */
  read(n: number, eofOk?: boolean): Promise<Buffer | undefined>;
}

/** The header fields the loader looks at (tar.Header). */
export interface TarHeader {
  typeflag: string;
  name: string;
  linkname: string;
  size: number;
  mode: number;
  mtime?: Date;
}

const ERR_HEADER = 'archive/tar: invalid tar header';
const MAX_SPECIAL_FILE = 1 << 20;

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Go's parseString: up to the first NUL. */
function cString(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i >= 0 ? b.subarray(0, i) : b;
}

const utf8 = new TextDecoder('utf-8');

function str(b: Buffer): string {
  return utf8.decode(cString(b));
}

class FieldParser {
  err = false;
  numeric(b: Buffer): number {
    if (b.length > 0 && b[0] & 0x80) {
      const neg = (b[0] & 0x40) !== 0;
      let x = 0n;
      for (let i = 0; i < b.length; i++) {
        let c = neg ? b[i] ^ 0xff : b[i];
        if (i === 0) c &= 0x7f;
        if (x >> 56n > 0n) {
          this.err = true;
          return 0;
        }
        x = (x << 8n) | BigInt(c);
      }
      if (x >> 63n > 0n) {
        this.err = true;
        return 0;
      }
      return Number(neg ? -x - 1n : x);
    }
    return this.octal(b);
  }
  octal(b: Buffer): number {
    let s = b.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
    if (s === '') return 0;
    const nul = s.indexOf('\0');
    if (nul >= 0) s = s.slice(0, nul);
    if (!/^[0-7]+$/.test(s) || BigInt('0o' + s) > (1n << 64n) - 1n) {
      this.err = true;
      return 0;
    }
    return Number(BigInt('0o' + s));
  }
}

type Format = 'unknown' | 'v7' | 'ustar' | 'gnu' | 'star';

function headerFormat(blk: Buffer): Format {
  const p = new FieldParser();
  const value = p.octal(blk.subarray(148, 156));
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : blk[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (p.err || (value !== unsigned && value !== signed)) return 'unknown';
  const magic = blk.toString('latin1', 257, 263);
  const version = blk.toString('latin1', 263, 265);
  const trailer = blk.toString('latin1', 508, 512);
  if (magic === 'ustar\0' && trailer === 'tar\0') return 'star';
  if (magic === 'ustar\0') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  return 'v7';
}

function paxTime(s: string): Date {
  const [ss, sn = ''] = s.split(/\.(.*)/s);
  if (!/^[-+]?[0-9]+$/.test(ss)) throw new TarError(ERR_HEADER);
  const secs = Number(ss);
  if (sn !== '' && !/^[0-9]+$/.test(sn)) throw new TarError(ERR_HEADER);
  const frac = sn === '' ? 0 : Number((sn + '000').slice(0, 3)) / 1000;
  return new Date((ss.startsWith('-') ? secs - frac : secs + frac) * 1000);
}

function parsePax(buf: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) throw new TarError(ERR_HEADER);
    const nStr = buf.toString('latin1', off, sp);
    const n = /^[0-9]+$/.test(nStr) ? Number(nStr) : NaN;
    if (!(n >= 5) || n > buf.length - off || n <= nStr.length + 1) throw new TarError(ERR_HEADER);
    const end = off + n;
    if (buf[end - 1] !== 0x0a) throw new TarError(ERR_HEADER);
    const rec = buf.toString('utf8', sp + 1, end - 1);
    const eq = rec.indexOf('=');
    if (eq <= 0) throw new TarError(ERR_HEADER);
    const k = rec.slice(0, eq);
    const v = rec.slice(eq + 1);
    const nulCheck = k === 'path' || k === 'linkpath' || k === 'uname' || k === 'gname' ? v : k;
    if (nulCheck.includes('\0')) throw new TarError(ERR_HEADER);
    if (k.startsWith('GNU.sparse.')) throw new TarError('archive/tar: sparse files are not supported');
    out.set(k, v);
    off = end;
  }
  return out;
}

const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

/** Go tar.Reader: Next() and the current entry's data. */
export class TarReader {
  private remaining = 0; // data bytes of the current entry not yet read
  private pad = 0;

  constructor(private readonly src: ByteSource) {}

  private async readSpecial(size: number): Promise<Buffer> {
    if (size > MAX_SPECIAL_FILE) throw new TarError('archive/tar: header field too long');
    const b = (await this.src.read(size))!;
    this.remaining = 0;
    return b;
  }

  /** Go tr.readHeader: undefined at the end of the archive. */
  private async readHeader(): Promise<{ hdr: TarHeader; format: Format } | undefined> {
    const blk = await this.src.read(512, true);
    if (!blk) return undefined;
    if (isZero(blk)) {
      const b2 = await this.src.read(512, true);
      if (!b2 || isZero(b2)) return undefined;
      throw new TarError(ERR_HEADER);
    }
    const format = headerFormat(blk);
    if (format === 'unknown') throw new TarError(ERR_HEADER);
    const p = new FieldParser();
    const hdr: TarHeader = {
      typeflag: String.fromCharCode(blk[156]),
      name: str(blk.subarray(0, 100)),
      linkname: str(blk.subarray(157, 257)),
      size: p.numeric(blk.subarray(124, 136)),
      mode: p.numeric(blk.subarray(100, 108)),
    };
    p.numeric(blk.subarray(108, 116)); // uid
    p.numeric(blk.subarray(116, 124)); // gid
    const mtime = p.numeric(blk.subarray(136, 148));
    hdr.mtime = new Date(mtime * 1000);
    let prefix = '';
    if (format !== 'v7') {
      p.numeric(blk.subarray(329, 337)); // devmajor
      p.numeric(blk.subarray(337, 345)); // devminor
      if (format === 'ustar') prefix = str(blk.subarray(345, 500));
      else if (format === 'star') {
        prefix = str(blk.subarray(345, 476));
        p.numeric(blk.subarray(476, 488)); // atime
        p.numeric(blk.subarray(488, 500)); // ctime
      }
      else {
        const p2 = new FieldParser();
        if (blk[345] !== 0) p2.numeric(blk.subarray(345, 357));
        if (blk[357] !== 0) p2.numeric(blk.subarray(357, 369));
        if (p2.err) {
          const s = str(blk.subarray(345, 500));
          if (/^[\x00-\x7f]*$/.test(s)) prefix = s; // pre-Go1.8 writers
        }
      }
    }
    if (prefix) hdr.name = prefix + '/' + hdr.name;
    if (p.err) throw new TarError(ERR_HEADER);
    return { hdr, format };
  }

  private async discardCurrent(): Promise<void> {
    for (let n = this.remaining + this.pad; n > 0; ) {
      const step = Math.min(n, 1 << 20);
      await this.src.read(step);
      n -= step;
    }
    this.remaining = 0;
    this.pad = 0;
  }

  private setCurrent(h: TarHeader): void {
    const nb = HEADER_ONLY.has(h.typeflag) ? 0 : h.size;
    if (nb < 0) throw new TarError(ERR_HEADER);
    this.remaining = nb;
    this.pad = (512 - (nb % 512)) % 512;
  }

  /** Go tr.Next: the next entry, or undefined at the end. */
  async next(): Promise<TarHeader | undefined> {
    let pax: Map<string, string> | undefined;
    let longName = '';
    let longLink = '';
    for (;;) {
      await this.discardCurrent();
      const r = await this.readHeader();
      if (!r) return undefined;
      const { hdr } = r;
      this.setCurrent(hdr);
      switch (hdr.typeflag) {
        case 'x':
        case 'g': {
          const recs = parsePax(await this.readSpecial(this.remaining));
          if (hdr.typeflag === 'g') return { typeflag: 'g', name: hdr.name, linkname: '', size: 0, mode: 0 };
          pax = recs;
          continue;
        }
        case 'L':
        case 'K': {
          const b = cString(await this.readSpecial(this.remaining));
          if (hdr.typeflag === 'L') longName = utf8.decode(b);
          else longLink = utf8.decode(b);
          continue;
        }
        default: {
          if (pax) mergePax(hdr, pax);
          if (longName) hdr.name = longName;
          if (longLink) hdr.linkname = longLink;
          if (hdr.typeflag === '\0') hdr.typeflag = hdr.name.endsWith('/') ? '5' : '0';
          if (hdr.typeflag === 'S') throw new TarError('archive/tar: sparse files are not supported');
          this.setCurrent(hdr);
          return hdr;
        }
      }
    }
  }

  /**
   * Read past the current entry's data without keeping it: its bytes are inflated and counted
   * all the same, and a truncated entry fails as data() would.
   */
  async skipData(): Promise<number> {
    const n = this.remaining;
    for (let left = n; left > 0; ) {
      const step = Math.min(left, 1 << 20);
      await this.src.read(step);
      left -= step;
    }
    this.remaining = 0;
    return n;
  }

  /** The current entry's data. */
  async data(): Promise<Buffer> {
    const n = this.remaining;
    const b = n === 0 ? Buffer.alloc(0) : (await this.src.read(n))!;
    this.remaining = 0;
    return b;
  }
}

function mergePax(hdr: TarHeader, pax: Map<string, string>): void {
  for (const [k, v] of pax) {
    if (v === '') continue;
    switch (k) {
      case 'path':
        hdr.name = v;
        break;
      case 'linkpath':
        hdr.linkname = v;
        break;
      case 'uid':
      case 'gid':
        if (!/^[-+]?[0-9]+$/.test(v)) throw new TarError(ERR_HEADER);
        break;
      case 'mtime':
        hdr.mtime = paxTime(v);
        break;
      case 'atime':
      case 'ctime':
        paxTime(v);
        break;
      case 'size': {
        if (!/^[-+]?[0-9]+$/.test(v) || BigInt(v) > (1n << 63n) - 1n || BigInt(v) < -(1n << 63n)) throw new TarError(ERR_HEADER);
        hdr.size = Number(v);
        break;
      }
    }
  }
}

/** Go `hdr.FileInfo().IsDir()`: the mode's type bits say directory, or the typeflag does. */
export function isDir(h: TarHeader): boolean {
  return h.typeflag === '5' || (h.mode & ~0o7777) === 0o40000;
}
