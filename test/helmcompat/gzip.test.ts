import { crc32, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GzipError, GzipReader } from '../../src/helmcompat/gzip.js';

const DATA = Buffer.from('chart bytes '.repeat(100));

/** gzipSync output with extra header fields, as Go's gzip.Writer could write them. */
function withHeader(opts: { name?: string; hcrc?: 'good' | 'bad'; flagBits?: number }): Buffer {
  const gz = gzipSync(DATA);
  let header = Buffer.from(gz.subarray(0, 10));
  if (opts.flagBits) header[3] |= opts.flagBits;
  if (opts.name !== undefined) {
    header[3] |= 0x08;
    header = Buffer.concat([header, Buffer.from(opts.name, 'latin1'), Buffer.alloc(1)]);
  }
  if (opts.hcrc) {
    header[3] |= 0x02;
    const sum = Buffer.alloc(2);
    sum.writeUInt16LE((crc32(header) + (opts.hcrc === 'bad' ? 1 : 0)) & 0xffff);
    header = Buffer.concat([header, sum]);
  }
  return Buffer.concat([header, gz.subarray(10)]);
}

function headerFailure(input: Uint8Array): string {
  try {
    new GzipReader(input).close();
  } catch (e) {
    expect(e).toBeInstanceOf(GzipError);
    expect((e as GzipError).failure).toBe('header');
    return (e as Error).message;
  }
  return 'no error';
}

async function readAll(input: Uint8Array): Promise<Buffer | undefined> {
  const r = new GzipReader(input);
  try {
    return await r.read(DATA.length);
  } finally {
    r.close();
  }
}

describe('GzipReader header (Go gzip.Reader.readHeader)', () => {
  it('checks the FHCRC header checksum (low 16 bits of the CRC-32 of the header before it)', async () => {
    expect(await readAll(withHeader({ hcrc: 'good' }))).toEqual(DATA);
    expect(await readAll(withHeader({ name: 'chart.tgz', hcrc: 'good' }))).toEqual(DATA);
    expect(headerFailure(withHeader({ hcrc: 'bad' }))).toBe('gzip: invalid header');
  });

  it('takes names up to 511 bytes and ignores reserved flag bits', async () => {
    expect(await readAll(withHeader({ name: 'n'.repeat(511) }))).toEqual(DATA);
    expect(headerFailure(withHeader({ name: 'n'.repeat(512) }))).toBe('gzip: invalid header');
    expect(await readAll(withHeader({ flagBits: 0xe0 }))).toEqual(DATA);
  });

  it('reports short and foreign input with Go texts', () => {
    expect(headerFailure(Buffer.alloc(0))).toBe('EOF');
    expect(headerFailure(gzipSync(DATA).subarray(0, 5))).toBe('unexpected EOF');
    expect(headerFailure(Buffer.from('PK\x03\x04 not gzip at all'))).toBe('gzip: invalid header');
  });
});

describe('GzipReader body (read on demand, as archive/tar reads it)', () => {
  it('never looks at the trailer unless asked for more than the first member holds', async () => {
    const gz = gzipSync(DATA);
    gz[gz.length - 8] ^= 0xff; // damaged CRC-32 in the trailer
    const r = new GzipReader(gz);
    try {
      expect(await r.read(DATA.length)).toEqual(DATA);
      await expect(r.read(1, true)).rejects.toMatchObject({ failure: 'corrupt' });
    } finally {
      r.close();
    }
  });

  it('ends cleanly at the end of a sound stream, and calls a cut one truncated', async () => {
    const sound = new GzipReader(gzipSync(DATA));
    expect(await sound.read(DATA.length)).toEqual(DATA);
    expect(await sound.read(512, true)).toBeUndefined();
    sound.close();

    const gz = gzipSync(Buffer.concat([DATA, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff))]));
    const cut = new GzipReader(gz.subarray(0, gz.length >> 1));
    await expect(cut.read(DATA.length + 4096)).rejects.toMatchObject({ failure: 'truncated', message: 'unexpected EOF' });
    cut.close();
  });
});
