/**
 * Go `compress/gzip` Reader (gunzip.go, Go 1.23 / 1.25 as in Helm 3.17.3 / 4.1.4) as Helm's
 * loader uses it: `gzip.NewReader` parses the header up front (reserved flag bits ignored,
 * FHCRC checked, names and comments under 512 bytes), then archive/tar pulls inflated bytes
 * only as far as it reads. Bytes after the end-of-archive blocks are never decompressed, so
 * trailing garbage or a damaged trailer do not matter; the trailer (CRC, size) and any
 * further member count only if the tar reader reads past the end of the first member.
 *
 * node:zlib's gunzip checks the trailer and rejects reserved flags eagerly, so it only takes
 * over once Go would read that far.
 */
import type { Transform } from 'node:stream';
import { crc32, createGunzip, createInflateRaw, inflateRawSync } from 'node:zlib';

/**
 * How reading failed. `header`: Go's own error (`gzip: invalid header`, `EOF`,
 * `unexpected EOF`). `truncated`: the data ended early (Go: `unexpected EOF`). `corrupt`:
 * node:zlib's message, whose wording is not Go's.
 */
export class GzipError extends Error {
  constructor(
    readonly failure: 'header' | 'truncated' | 'corrupt',
    message: string,
  ) {
    super(message);
  }
}

const HIGH_WATER = 4 << 20;
const SLICE = 64 << 10;
/** Deflate data up to this size is inflated in one synchronous call when it can be. */
const SYNC_INPUT_MAX = 1 << 20;

function headerError(msg: string): GzipError {
  return new GzipError('header', msg);
}

/** Go gzip.Reader.readHeader: offset of the deflate data. */
function gzipHeaderEnd(b: Buffer): number {
  if (b.length === 0) throw headerError('EOF');
  if (b.length < 10) throw headerError('unexpected EOF');
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 0x08) throw headerError('gzip: invalid header');
  const flg = b[3];
  let off = 10;
  const need = (n: number) => {
    if (off + n > b.length) throw headerError('unexpected EOF');
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
      if (i >= 512) throw headerError('gzip: invalid header');
      need(1);
      if (b[off++] === 0) break;
      i++;
    }
  }
  if (flg & 0x02) {
    need(2);
    const want = b.readUInt16LE(off);
    if ((crc32(b.subarray(0, off)) & 0xffff) !== want) throw headerError('gzip: invalid header');
    off += 2;
  }
  return off;
}

/** A gzip stream read on demand, in exact lengths, as Go's tar reader reads its gzip.Reader. */
export class GzipReader {
  private readonly input: Buffer;
  private z: Transform | undefined;
  private chunks: Buffer[] = [];
  private have = 0;
  private ended = false;
  private error: (Error & { code?: string }) | undefined;
  private delivered = 0;
  private skip = 0;
  private wholeGzip = false;
  private wake: (() => void) | undefined;

  /** Throws GzipError('header') where gzip.NewReader fails. */
  constructor(input: Uint8Array) {
    this.input = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const deflated = this.input.subarray(gzipHeaderEnd(this.input));
    if (deflated.length <= SYNC_INPUT_MAX) {
      // Most charts are small: inflate at once, without a stream (each stream step is a trip to
      // the thread pool). Only a first member that inflates cleanly within HIGH_WATER is taken;
      // anything else (damaged, truncated, larger) is read as a stream below, on demand, exactly
      // as Go reads it. What lies past the first member is read as before (`fill`).
      try {
        const out = inflateRawSync(deflated, { maxOutputLength: HIGH_WATER });
        if (out.length > 0) this.chunks.push(out);
        this.have = this.delivered = out.length;
        this.ended = true;
        return;
      } catch {
        // fall through
      }
    }
    this.start(createInflateRaw(), deflated);
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
        if (!z.write(data.subarray(off, off + SLICE))) await drainOrClose(z);
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
    if (!e || e.code === 'Z_BUF_ERROR') throw new GzipError('truncated', 'unexpected EOF');
    throw new GzipError('corrupt', e.message);
  }

  /**
   * Exactly n bytes; at a clean end of stream (no bytes at all) returns undefined when
   * `eofOk`, else throws GzipError: Go's "unexpected EOF" (or the gzip error that cut the
   * stream short).
   */
  async read(n: number, eofOk = false): Promise<Buffer | undefined> {
    if (n === 0) return Buffer.alloc(0);
    await this.fill(n);
    if (this.have < n) {
      if (this.have === 0 && eofOk && !this.error) return undefined;
      this.failure();
    }
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
}

/** Wait for 'drain' (or 'close'), leaving no listener behind: a large archive waits thousands of times. */
function drainOrClose(z: Transform): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      z.off('drain', done);
      z.off('close', done);
      resolve();
    };
    z.once('drain', done);
    z.once('close', done);
  });
}
