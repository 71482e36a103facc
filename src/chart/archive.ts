/**
 * Helm's chart archive loader (pkg/chart/loader/archive.go + load.go at v3.17.3,
 * pkg/chart/loader/archive/archive.go + pkg/chart/v2/loader/load.go at v4.1.4): which archives
 * load, which fail, and the metadata that `helm push` puts in the config blob.
 *
 * The tar layer is a small reader with Go archive/tar's rules (checksums, PAX/GNU long names,
 * global headers returned as entries and ignored, header-only types, base-256 numbers) fed
 * by a streaming inflate that stops where the tar reader stops, as Go's does: bytes after the
 * end-of-archive blocks are never decompressed, so trailing garbage, a damaged gzip trailer or
 * reserved gzip flag bits do not matter, exactly as in Helm. (node-tar's Parser applies global
 * PAX headers, skips bad-checksum and unknown entries and hides mode type bits, so it is not
 * used here.)
 */
import type { Transform } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';
import { ChartMirrorError } from '../errors.js';
import { filepathExt, pathClean } from '../helmcompat/gopath.js';
import { detectContentType } from '../helmcompat/gosniff.js';
import { yamlSourceText } from '../helmcompat/goyaml.js';
import { checkLockYaml, checkValuesYaml, decodeInto, validateMetadata, type ChartMetadata } from './metadata.js';

export interface LoadedChart {
  /** After Helm's load + Validate. */
  metadata: ChartMetadata;
  /** Tar header mtime of the (last) Chart.yaml entry. */
  chartYamlMtime?: Date;
  /** Paths after stripping the first component. */
  fileNames: string[];
}

/** Helm's MaxDecompressedChartSize and MaxDecompressedFileSize. */
export const MAX_DECOMPRESSED_CHART_SIZE = 100 * 1024 * 1024;
export const MAX_DECOMPRESSED_FILE_SIZE = 5 * 1024 * 1024;
/**
 * Our own bound on the decompressed tar stream (headers, padding, skipped entries). Helm has
 * none beyond the file-size limits; a legitimate chart never comes near it.
 */
const MAX_TAR_STREAM = 2 * MAX_DECOMPRESSED_CHART_SIZE;

interface BufferedFile {
  name: string;
  data: Buffer;
  mtime?: Date;
}

function chartError(msg: string, cause?: unknown): ChartMirrorError {
  return new ChartMirrorError('CHART', msg.split('\n')[0], cause === undefined ? {} : { cause });
}

class ArchiveError extends Error {}

// ---------------------------------------------------------------------------------------------
// Streaming gunzip, read as Go's compress/gzip is read by archive/tar: the header is parsed
// up front (Go's rules: reserved flag bits ignored, FHCRC checked, names < 512 bytes), the
// deflate body is inflated only as far as the tar reader asks, and the trailer (CRC, size)
// and any further member or trailing bytes only matter if the tar reader reads past the end
// of the first member.

const HIGH_WATER = 4 << 20;
const SLICE = 64 << 10;

/** Go gzip.Reader.readHeader: offset of the deflate data. */
function gzipHeaderEnd(b: Buffer): number {
  if (b.length === 0) throw new ArchiveError('EOF');
  if (b.length < 10) throw new ArchiveError('unexpected EOF');
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 0x08) throw new ArchiveError('gzip: invalid header');
  const flg = b[3];
  let off = 10;
  const need = (n: number) => {
    if (off + n > b.length) throw new ArchiveError('unexpected EOF');
  };
  if (flg & 0x04) {
    need(2);
    const xlen = b.readUInt16LE(off);
    off += 2;
    need(xlen);
    off += xlen;
  }
  for (const bit of [0x08, 0x10]) {
    if (!(flg & bit)) continue;
    let i = 0;
    for (;;) {
      if (i >= 512) throw new ArchiveError('gzip: invalid header');
      need(1);
      if (b[off++] === 0) break;
      i++;
    }
  }
  if (flg & 0x02) {
    need(2);
    const want = b.readUInt16LE(off);
    if ((crc32(b.subarray(0, off)) & 0xffff) !== want) throw new ArchiveError('gzip: invalid header');
    off += 2;
  }
  return off;
}

let CRC_TABLE: Uint32Array | undefined;
function crc32(b: Buffer): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

class InflateStream {
  private readonly input: Buffer;
  private z: Transform | undefined;
  private chunks: Buffer[] = [];
  private have = 0;
  private ended = false;
  private error: (Error & { code?: string }) | undefined;
  private consumed = 0;
  private delivered = 0;
  private skip = 0;
  private wholeGzip = false;
  private wake: (() => void) | undefined;

  constructor(input: Uint8Array) {
    this.input = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    this.start(createInflateRaw(), this.input.subarray(gzipHeaderEnd(this.input)));
  }

  private start(z: Transform, data: Buffer): void {
    this.z = z;
    this.ended = false;
    z.on('data', (c: Buffer) => {
      if (this.skip > 0) {
        const s = Math.min(this.skip, c.length);
        this.skip -= s;
        c = c.subarray(s);
        if (c.length === 0) return;
      }
      this.chunks.push(c);
      this.have += c.length;
      this.delivered += c.length;
      if (this.have > HIGH_WATER) z.pause();
      this.notify();
    });
    z.on('end', () => {
      this.ended = true;
      this.notify();
    });
    z.on('error', (e: Error) => {
      this.error = e;
      this.ended = true;
      this.notify();
    });
    // Small slices: Node drops the output of the write that fails, so keep that small.
    void (async () => {
      for (let off = 0; off < data.length && !this.error && !z.destroyed; off += SLICE) {
        if (!z.write(data.subarray(off, off + SLICE))) await new Promise((r) => z.once('drain', r).once('close', r));
      }
      if (!z.destroyed) z.end();
    })();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  close(): void {
    this.z?.destroy();
  }

  private async fill(n: number): Promise<void> {
    while (this.have < n) {
      if (this.ended) {
        // Past the end of the first member: now the trailer and any next member count, as in
        // Go. Node's gunzip checks both; skip what was already delivered.
        if (this.error || this.wholeGzip) return;
        this.wholeGzip = true;
        this.z?.destroy();
        this.skip = this.delivered;
        this.start(createGunzip(), this.input);
        continue;
      }
      if (this.z?.isPaused()) this.z.resume();
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** The stream failed: say how, the way a reader of the tar would see it. */
  private failure(): never {
    const e = this.error;
    if (!e || e.code === 'Z_BUF_ERROR') throw new ArchiveError('chart archive is truncated: unexpected EOF');
    throw new ArchiveError(`chart archive is not valid gzip: ${e.message}`);
  }

  /**
   * Exactly n bytes; at a clean end of stream (no bytes at all) returns undefined when
   * `eofOk`, else throws Go's "unexpected EOF" (or the gzip error that cut the stream short).
   */
  async read(n: number, eofOk = false): Promise<Buffer | undefined> {
    if (n === 0) return Buffer.alloc(0);
    if (this.consumed + n > MAX_TAR_STREAM) throw new ArchiveError(`chart archive expands beyond ${MAX_TAR_STREAM} bytes`);
    await this.fill(n);
    if (this.have < n) {
      if (this.have === 0 && eofOk && !this.error) return undefined;
      this.failure();
    }
    this.consumed += n;
    if (this.chunks[0].length === n) {
      this.have -= n;
      return this.chunks.shift();
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const take = Math.min(c.length, n - off);
      c.copy(out, off, 0, take);
      off += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.have -= n;
    return out;
  }

  async skipBytes(n: number): Promise<void> {
    while (n > 0) {
      const step = Math.min(n, 1 << 20);
      await this.read(step);
      n -= step;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Go archive/tar Reader

interface TarHeader {
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
  if (!/^[-+]?[0-9]+$/.test(ss)) throw new ArchiveError(ERR_HEADER);
  const secs = Number(ss);
  if (sn !== '' && !/^[0-9]+$/.test(sn)) throw new ArchiveError(ERR_HEADER);
  const frac = sn === '' ? 0 : Number((sn + '000').slice(0, 3)) / 1000;
  return new Date((ss.startsWith('-') ? secs - frac : secs + frac) * 1000);
}

function parsePax(buf: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) throw new ArchiveError(ERR_HEADER);
    const nStr = buf.toString('latin1', off, sp);
    const n = /^[0-9]+$/.test(nStr) ? Number(nStr) : NaN;
    if (!(n >= 5) || n > buf.length - off || n <= nStr.length + 1) throw new ArchiveError(ERR_HEADER);
    const end = off + n;
    if (buf[end - 1] !== 0x0a) throw new ArchiveError(ERR_HEADER);
    const rec = buf.toString('utf8', sp + 1, end - 1);
    const eq = rec.indexOf('=');
    if (eq <= 0) throw new ArchiveError(ERR_HEADER);
    const k = rec.slice(0, eq);
    const v = rec.slice(eq + 1);
    const nulCheck = k === 'path' || k === 'linkpath' || k === 'uname' || k === 'gname' ? v : k;
    if (nulCheck.includes('\0')) throw new ArchiveError(ERR_HEADER);
    if (k.startsWith('GNU.sparse.')) throw new ArchiveError('archive/tar: sparse files are not supported');
    out.set(k, v);
    off = end;
  }
  return out;
}

const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

class TarReader {
  private remaining = 0; // data bytes of the current entry not yet read
  private pad = 0;

  constructor(private readonly src: InflateStream) {}

  private async readSpecial(size: number): Promise<Buffer> {
    if (size > MAX_SPECIAL_FILE) throw new ArchiveError('archive/tar: header field too long');
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
      throw new ArchiveError(ERR_HEADER);
    }
    const format = headerFormat(blk);
    if (format === 'unknown') throw new ArchiveError(ERR_HEADER);
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
    if (p.err) throw new ArchiveError(ERR_HEADER);
    return { hdr, format };
  }

  private async discardCurrent(): Promise<void> {
    await this.src.skipBytes(this.remaining + this.pad);
    this.remaining = 0;
    this.pad = 0;
  }

  private setCurrent(h: TarHeader): void {
    const nb = HEADER_ONLY.has(h.typeflag) ? 0 : h.size;
    if (nb < 0) throw new ArchiveError(ERR_HEADER);
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
          if (hdr.typeflag === 'S') throw new ArchiveError('archive/tar: sparse files are not supported');
          this.setCurrent(hdr);
          return hdr;
        }
      }
    }
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
        if (!/^[-+]?[0-9]+$/.test(v)) throw new ArchiveError(ERR_HEADER);
        break;
      case 'mtime':
        hdr.mtime = paxTime(v);
        break;
      case 'atime':
      case 'ctime':
        paxTime(v);
        break;
      case 'size': {
        if (!/^[-+]?[0-9]+$/.test(v) || BigInt(v) > (1n << 63n) - 1n || BigInt(v) < -(1n << 63n)) throw new ArchiveError(ERR_HEADER);
        hdr.size = Number(v);
        break;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// LoadArchiveFiles

function isDirEntry(h: TarHeader): boolean {
  // hd.FileInfo().IsDir(): the mode's type bits say directory, or the typeflag does.
  return h.typeflag === '5' || (h.mode & ~0o7777) === 0o40000;
}

async function readArchiveFiles(tgz: Uint8Array): Promise<BufferedFile[]> {
  const src = new InflateStream(tgz);
  try {
    const tr = new TarReader(src);
    const files: BufferedFile[] = [];
    let remaining = MAX_DECOMPRESSED_CHART_SIZE;
    for (;;) {
      const hd = await tr.next();
      if (!hd) break;
      if (isDirEntry(hd)) continue;
      if (hd.typeflag === 'g' || hd.typeflag === 'x') continue;

      const delim = hd.name.includes('\\') ? '\\' : '/';
      const parts = hd.name.split(delim);
      let n = parts.slice(1).join(delim);
      n = n.split(delim).join('/');
      if (n.startsWith('/')) throw new ArchiveError('chart illegally contains absolute paths');
      n = pathClean(n);
      if (n === '.') throw new ArchiveError(`chart illegally contains content outside the base directory: ${JSON.stringify(hd.name)}`);
      if (n.startsWith('..')) throw new ArchiveError('chart illegally references parent directory');
      if (/^[a-zA-Z]:\//.test(n)) throw new ArchiveError('chart contains illegally named files');
      if (parts[0] === 'Chart.yaml') throw new ArchiveError('chart yaml not in base directory');
      if (hd.size > remaining) throw new ArchiveError(`decompressed chart is larger than the maximum size ${MAX_DECOMPRESSED_CHART_SIZE}`);
      if (hd.size > MAX_DECOMPRESSED_FILE_SIZE) {
        throw new ArchiveError(`decompressed chart file ${JSON.stringify(hd.name)} is larger than the maximum file size ${MAX_DECOMPRESSED_FILE_SIZE}`);
      }
      const data = await tr.data();
      remaining -= data.length;
      if (data.length < hd.size || remaining <= 0) {
        throw new ArchiveError(`decompressed chart is larger than the maximum size ${MAX_DECOMPRESSED_CHART_SIZE}`);
      }
      const body = data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? data.subarray(3) : data;
      files.push({ name: n, data: body, mtime: hd.mtime && !Number.isNaN(hd.mtime.getTime()) ? hd.mtime : undefined });
    }
    if (files.length === 0) throw new ArchiveError('no files in chart archive');
    return files;
  } finally {
    src.close();
  }
}

// ---------------------------------------------------------------------------------------------
// LoadFiles

function yamlText(data: Buffer, what: string): string {
  const text = yamlSourceText(data);
  if (text === undefined) throw chartError(`cannot load ${what}: error converting YAML to JSON: yaml: invalid UTF-8`);
  return text;
}

interface Loaded {
  metadata: ChartMetadata;
  chartYamlMtime?: Date;
}

async function loadFiles(files: BufferedFile[]): Promise<Loaded> {
  let md: ChartMetadata | undefined;
  let chartYamlMtime: Date | undefined;
  for (const f of files) {
    if (f.name !== 'Chart.yaml') continue;
    md ??= {};
    decodeInto(md, yamlText(f.data, 'Chart.yaml'), 'Chart.yaml');
    if (!md.apiVersion) md.apiVersion = 'v1';
    chartYamlMtime = f.mtime;
  }
  const subcharts = new Map<string, BufferedFile[]>();
  for (const f of files) {
    const name = f.name;
    if (name === 'Chart.yaml') continue;
    if (name === 'Chart.lock') {
      checkLockYaml(yamlText(f.data, name), name);
    } else if (name === 'values.yaml') {
      checkValuesYaml(yamlText(f.data, name));
    } else if (name === 'requirements.yaml') {
      md ??= {};
      decodeInto(md, yamlText(f.data, name), name);
    } else if (name === 'requirements.lock') {
      checkLockYaml(yamlText(f.data, name), name);
      md ??= {};
    } else if (name.startsWith('charts/')) {
      if (filepathExt(name) === '.prov') continue;
      const fname = name.slice('charts/'.length);
      const cname = fname.split('/')[0];
      let list = subcharts.get(cname);
      if (!list) subcharts.set(cname, (list = []));
      list.push({ name: fname, data: f.data, mtime: f.mtime });
    }
  }
  if (!md) throw chartError('Chart.yaml file is missing');
  validateMetadata(md);

  for (const [n, list] of subcharts) {
    if (n.startsWith('_') || n.startsWith('.')) continue;
    try {
      if (filepathExt(n) === '.tgz') {
        const file = list[0];
        if (file.name !== n) throw chartError(`error unpacking subchart tar in ${md.name}: expected ${n}, got ${file.name}`);
        await loadArchive(file.data);
      } else {
        const buff: BufferedFile[] = [];
        for (const f of list) {
          const i = f.name.indexOf('/');
          if (i < 0) continue;
          buff.push({ name: f.name.slice(i + 1), data: f.data, mtime: f.mtime });
        }
        await loadFiles(buff);
      }
    } catch (e) {
      if (e instanceof ChartMirrorError && e.message.startsWith('error unpacking subchart tar in ')) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw chartError(`error unpacking subchart ${n} in ${md.name}: ${msg}`, e);
    }
  }
  return { metadata: md, chartYamlMtime };
}

async function loadArchive(tgz: Uint8Array): Promise<Loaded & { files: BufferedFile[] }> {
  let files: BufferedFile[];
  try {
    files = await readArchiveFiles(tgz);
  } catch (e) {
    if (e instanceof ArchiveError) throw chartError(e.message, e);
    throw e;
  }
  return { ...(await loadFiles(files)), files };
}

/**
 * Load a chart archive exactly as Helm's loader does (gzip sniff, tar rules, path checks,
 * size limits, Chart.yaml/requirements.yaml decoding, values/lock files, Validate(), subcharts
 * under charts/ recursively). Throws ChartMirrorError('CHART', one line) where Helm fails.
 */
export async function loadChartArchive(tgz: Uint8Array): Promise<LoadedChart> {
  if (!(tgz.length >= 3 && tgz[0] === 0x1f && tgz[1] === 0x8b && tgz[2] === 0x08)) {
    throw chartError(`chart archive does not appear to be a gzipped archive; got '${detectContentType(tgz)}'`);
  }
  const loaded = await loadArchive(tgz);
  return { metadata: loaded.metadata, chartYamlMtime: loaded.chartYamlMtime, fileNames: loaded.files.map((f) => f.name) };
}
