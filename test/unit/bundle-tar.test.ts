import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { describe, expect, it } from 'vitest';
import { PartedFile, partName } from '../../src/content/parted-file.js';
import { indexTar } from '../../src/content/tar-index.js';
import { tarStream, type TarInput } from '../../src/bundle/tar.js';
import { writeSplitFile } from '../../src/bundle/write.js';
import { haveBinaries } from '../support/bins.js';
import { runOk } from '../support/exec.js';
import { tmpDir } from '../support/tmp.js';

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

const entries = (): TarInput[] => [
  { kind: 'file', path: 'index.json', size: 3, data: Buffer.from('{}\n') },
  { kind: 'dir', path: 'blobs' },
  { kind: 'file', path: 'blobs/a', size: 1000, data: Buffer.alloc(1000, 7) },
  {
    kind: 'file',
    path: 'blobs/b',
    size: 5,
    data: async function* () {
      yield Buffer.from('he');
      yield Buffer.from('llo');
    },
  },
];

describe('bundle tar', () => {
  it('writes a deterministic archive that node-tar parses strictly', async () => {
    const a = await collect(tarStream(entries()));
    const b = await collect(tarStream(entries()));
    expect(a.equals(b)).toBe(true);
    expect(a.length % 512).toBe(0);
    const dir = await tmpDir('tar-unit-');
    await writeFile(join(dir, 'x.tar'), a);
    const seen: Array<{ path: string; size: number; mtime: number; uid: number; mode: number }> = [];
    await tar.t({
      file: join(dir, 'x.tar'),
      strict: true,
      onReadEntry: (e) => seen.push({ path: e.path, size: e.size, mtime: e.mtime!.getTime(), uid: e.uid!, mode: e.mode! }),
    });
    expect(seen.map((e) => e.path)).toEqual(['index.json', 'blobs/', 'blobs/a', 'blobs/b']);
    expect(seen.every((e) => e.mtime === 0 && e.uid === 0)).toBe(true);
    expect(seen.find((e) => e.path === 'blobs/a')!.mode).toBe(0o644);
  });

  it('refuses a producer that yields the wrong number of bytes', async () => {
    const bad: TarInput[] = [{ kind: 'file', path: 'x', size: 4, data: Buffer.from('abc') }];
    await expect(collect(tarStream(bad))).rejects.toThrow(/gave 3 bytes, expected 4/);
  });

  it('indexes archives from node-tar (pax long names) and finds every file where it is', async () => {
    const dir = await tmpDir('tar-unit-');
    const src = join(dir, 'src');
    const long = `blobs/${'d'.repeat(120)}/${'e'.repeat(64)}`;
    await mkdir(join(src, long, '..'), { recursive: true });
    await writeFile(join(src, long), 'long-name content');
    await writeFile(join(src, 'short'), Buffer.alloc(513, 1));
    await tar.c({ cwd: src, file: join(dir, 'n.tar'), portable: true }, ['./short', long]);
    const file = await PartedFile.open(join(dir, 'n.tar'));
    const idx = await indexTar(file);
    expect(idx.problem).toBeUndefined();
    const e = idx.files.get(long)!;
    expect((await file.read(e.offset, e.size)).toString()).toBe('long-name content');
    expect(idx.files.get('short')!.size).toBe(513);
    await file.close();
  });

  it.skipIf(!haveBinaries('tar'))('indexes GNU tar archives with GNU long names', async () => {
    const dir = await tmpDir('tar-unit-');
    const name = `${'f'.repeat(150)}.txt`;
    await writeFile(join(dir, name), 'gnu');
    await runOk('tar', ['--format=gnu', '-C', dir, '-cf', join(dir, 'g.tar'), name]);
    const file = await PartedFile.open(join(dir, 'g.tar'));
    const idx = await indexTar(file);
    expect(idx.problem).toBeUndefined();
    const e = idx.files.get(name)!;
    expect((await file.read(e.offset, e.size)).toString()).toBe('gnu');
    await file.close();
  });

  it('says where a truncated or damaged archive stops', async () => {
    const dir = await tmpDir('tar-unit-');
    const whole = await collect(tarStream(entries()));
    await writeFile(join(dir, 'cut.tar'), whole.subarray(0, 2200));
    const cut = await PartedFile.open(join(dir, 'cut.tar'));
    expect((await indexTar(cut)).problem).toMatch(/truncated: blobs\/a needs \d+ more bytes/);
    await cut.close();
    const bad = Buffer.from(whole);
    bad[1024 + 10] ^= 0xff; // inside the header of blobs/ (the second entry)
    await writeFile(join(dir, 'bad.tar'), bad);
    const damaged = await PartedFile.open(join(dir, 'bad.tar'));
    const idx = await indexTar(damaged);
    expect(idx.problem).toMatch(/header at byte 1024 is damaged/);
    expect([...idx.files.keys()]).toEqual(['index.json']);
    await damaged.close();
    await writeFile(join(dir, 'gz.tar'), Buffer.from([0x1f, 0x8b, 8, 0, ...Buffer.alloc(600)]));
    const gz = await PartedFile.open(join(dir, 'gz.tar'));
    expect((await indexTar(gz)).problem).toMatch(/not a tar archive/);
    await gz.close();
  });

  it('splits into parts, writes SHA256SUMS, and reads the parts back as one file', async () => {
    const dir = await tmpDir('tar-unit-');
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    await writeFile(join(dir, 'SHA256SUMS'), `${'0'.repeat(64)}  someone-else.iso\n`);
    const target = join(dir, 'b.tar');
    const written = await writeSplitFile(target, (async function* () {
      for (let i = 0; i < data.length; i += 999) yield data.subarray(i, i + 999);
    })(), { split: 4096 });
    expect(written.map((w) => w.size)).toEqual([4096, 4096, 1808]);
    const sums = await readFile(join(dir, 'SHA256SUMS'), 'utf8');
    expect(sums.split('\n')[0]).toBe(`${'0'.repeat(64)}  someone-else.iso`);
    for (const w of written) {
      expect(sums).toContain(`${createHash('sha256').update(await readFile(w.path)).digest('hex')}  ${w.path.split('/').pop()}`);
    }
    const parts = await PartedFile.open(partName(target, 1));
    expect(parts.size).toBe(data.length);
    expect((await parts.read(4000, 200)).equals(data.subarray(4000, 4200))).toBe(true);
    expect(parts.where(4000, 200)).toBe('b.tar.part-001 and b.tar.part-002');
    await expect(parts.read(9990, 20)).rejects.toThrow(/too early/);
    await parts.close();
    await expect(PartedFile.open(partName(target, 2))).rejects.toThrow(/give the first part/);
  });
});
