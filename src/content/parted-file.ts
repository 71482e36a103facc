import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ChartMirrorError, ConfigError } from '../errors.js';

/** `bundle.tar.part-001`: the name of part `n` (1-based) of `base`. */
export function partName(base: string, n: number): string {
  return `${base}.part-${String(n).padStart(3, '0')}`;
}

const PART_RE = /^(.*)\.part-(\d{3,})$/;
export const SUMS_FILE = 'SHA256SUMS';

interface Part {
  path: string;
  size: number;
  /** Offset of the part's first byte in the whole. */
  start: number;
  /** Opened on first read; a promise so concurrent first reads share one handle. */
  fh?: Promise<FileHandle>;
}

/**
 * One file, or the parts `export --split` cut it into, read as one byte range with positional
 * reads (safe under concurrency, nothing held in memory). Parts are the ones SHA256SUMS lists
 * next to them, else `part-001`, `part-002`, ... up to the first gap.
 */
export class PartedFile {
  private constructor(
    /** The name to show: the file, or the base name of the parts. */
    readonly display: string,
    private readonly parts: Part[],
    readonly size: number,
  ) {}

  get partPaths(): string[] {
    return this.parts.map((p) => p.path);
  }

  static async open(path: string): Promise<PartedFile> {
    const m = PART_RE.exec(path);
    if (!m) {
      const s = await stat(path).catch(() => undefined);
      if (s?.isFile()) return new PartedFile(path, [{ path, size: s.size, start: 0 }], s.size);
      // `bundle.tar` given but only its parts are there.
      if (!s && (await stat(partName(path, 1)).catch(() => undefined))) return PartedFile.openParts(path, partName(path, 1));
      throw new ConfigError(`${path}: ${s ? 'not a file or directory' : 'no such file or directory'}`);
    }
    return PartedFile.openParts(m[1]!, path);
  }

  private static async openParts(base: string, given: string): Promise<PartedFile> {
    if (Number(PART_RE.exec(given)![2]) !== 1) {
      throw new ChartMirrorError('USAGE', `${given}: give the first part (${basename(partName(base, 1))}); the others are found next to it`);
    }
    const listed = await partsInSums(base);
    const paths: string[] = [];
    if (listed.length) {
      const missing = [];
      for (const p of listed) {
        if (await stat(p).catch(() => undefined)) paths.push(p);
        else missing.push(basename(p));
      }
      if (missing.length) {
        throw new ChartMirrorError('LAYOUT', `${base} is incomplete: ${missing.join(', ')} (listed in ${SUMS_FILE}) ${missing.length === 1 ? 'is' : 'are'} missing`);
      }
    } else {
      for (let n = 1; ; n++) {
        const p = partName(base, n);
        if (!(await stat(p).catch(() => undefined))) break;
        paths.push(p);
      }
    }
    const parts: Part[] = [];
    let start = 0;
    for (const p of paths) {
      const s = await stat(p);
      parts.push({ path: p, size: s.size, start });
      start += s.size;
    }
    return new PartedFile(base, parts, start);
  }

  /** Which files hold bytes [offset, offset+length): for messages about damage. */
  where(offset: number, length: number): string {
    const names = this.parts.filter((p) => p.start < offset + Math.max(length, 1) && offset < p.start + p.size).map((p) => basename(p.path));
    return names.length ? names.join(' and ') : basename(this.display);
  }

  private handle(p: Part): Promise<FileHandle> {
    p.fh ??= open(p.path, 'r');
    return p.fh;
  }

  /** Exactly `length` bytes at `offset`, or an error when the file is shorter. */
  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let done = 0;
    for await (const chunk of this.chunks(offset, length)) {
      chunk.copy(out, done);
      done += chunk.length;
    }
    return out;
  }

  /** Bytes [offset, offset+length) in chunks of at most `chunkSize`; throws if the file ends first. */
  async *chunks(offset: number, length: number, chunkSize = 1024 * 1024): AsyncGenerator<Buffer> {
    let pos = offset;
    const end = offset + length;
    if (end > this.size) throw new ChartMirrorError('LAYOUT', `${this.display}: ends at byte ${this.size}, ${end - this.size} bytes too early`);
    for (const p of this.parts) {
      if (pos >= end) return;
      if (pos >= p.start + p.size) continue;
      const fh = await this.handle(p);
      while (pos < end && pos < p.start + p.size) {
        const n = Math.min(chunkSize, end - pos, p.start + p.size - pos);
        const buf = Buffer.alloc(n);
        const { bytesRead } = await fh.read(buf, 0, n, pos - p.start);
        if (bytesRead !== n) throw new ChartMirrorError('LAYOUT', `${p.path}: shorter than when it was opened`);
        pos += n;
        yield buf;
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map(async (p) => (await p.fh?.catch(() => undefined))?.close().catch(() => undefined)));
    for (const p of this.parts) p.fh = undefined;
  }
}

/** Parts of `base` that SHA256SUMS (next to them) lists, in order; [] when it lists none. */
async function partsInSums(base: string): Promise<string[]> {
  const text = await readFile(join(dirname(base), SUMS_FILE), 'utf8').catch(() => '');
  const name = basename(base);
  const numbers = parseSums(text)
    .map((l) => PART_RE.exec(l.name))
    .filter((m): m is RegExpExecArray => !!m && m[1] === name)
    .map((m) => Number(m[2]))
    .sort((a, b) => a - b);
  return numbers.map((n) => join(dirname(base), basename(partName(name, n))));
}

/** `sha256sum` output lines: `<hex>  <name>` or `<hex> *<name>`. */
export function parseSums(text: string): { hex: string; name: string }[] {
  const out: { hex: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-f0-9]{64}) [ *](.+)$/.exec(line.replace(/\r$/, ''));
    if (m) out.push({ hex: m[1]!, name: m[2]! });
  }
  return out;
}
