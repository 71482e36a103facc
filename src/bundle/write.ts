import { randomBytes, createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ChartMirrorError } from '../errors.js';
import { TEMP_PREFIX, writeFileAtomic } from '../util/fs-atomic.js';
import { SUMS_FILE, parseSums, partName } from '../content/parted-file.js';

export interface WrittenFile {
  path: string;
  size: number;
  sha256: string;
}

interface Out extends WrittenFile {
  tmp: string;
  fh?: FileHandle;
  hash: ReturnType<typeof createHash>;
}

/**
 * Write a stream to `target`, or to `target.part-001`, `-002`, ... of `split` bytes each. Every
 * file is written under a temp name and renamed into place only when the whole stream is in, so
 * an interrupted export leaves no file that looks finished. Stale parts of an earlier export of
 * the same name are removed, and SHA256SUMS next to them lists the new files (other lines stay).
 */
export async function writeSplitFile(
  target: string,
  chunks: AsyncIterable<Buffer>,
  opts: { split?: number; stop?: AbortSignal } = {},
): Promise<WrittenFile[]> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const outs: Out[] = [];
  const next = async (): Promise<Out> => {
    const path = opts.split ? partName(target, outs.length + 1) : target;
    const tmp = join(dir, `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString('hex')}`);
    const out: Out = { path, tmp, size: 0, sha256: '', hash: createHash('sha256'), fh: await open(tmp, 'w') };
    outs.push(out);
    return out;
  };
  const finish = async (o: Out) => {
    await o.fh!.sync();
    await o.fh!.close();
    o.fh = undefined;
    o.sha256 = o.hash.digest('hex');
  };
  try {
    let cur = await next();
    for await (const chunk of chunks) {
      if (opts.stop?.aborted) throw new ChartMirrorError('ABORTED', 'interrupted while writing the bundle');
      let off = 0;
      while (off < chunk.length) {
        if (opts.split && cur.size === opts.split) {
          await finish(cur);
          cur = await next();
        }
        const n = opts.split ? Math.min(opts.split - cur.size, chunk.length - off) : chunk.length - off;
        const piece = chunk.subarray(off, off + n);
        await cur.fh!.write(piece);
        cur.hash.update(piece);
        cur.size += n;
        off += n;
      }
    }
    await finish(cur);
  } catch (e) {
    await Promise.all(outs.map(async (o) => {
      await o.fh?.close().catch(() => undefined);
      await rm(o.tmp, { force: true });
    }));
    throw e;
  }
  for (const o of outs) await rename(o.tmp, o.path);
  await removeStale(target, new Set(outs.map((o) => basename(o.path))));
  const written = outs.map(({ path, size, sha256 }) => ({ path, size, sha256 }));
  await updateSums(target, written);
  return written;
}

function isOurs(name: string, base: string): boolean {
  return name === base || (name.startsWith(`${base}.part-`) && /^\d{3,}$/.test(name.slice(base.length + 6)));
}

/** `bundle.tar` and `bundle.tar.part-NNN` from an earlier export that this one did not write. */
async function removeStale(target: string, keep: Set<string>): Promise<void> {
  const base = basename(target);
  const names = await readdir(dirname(target)).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => isOurs(n, base) && !keep.has(n)).map((n) => rm(join(dirname(target), n), { force: true })));
}

/** SHA256SUMS in `sha256sum -c` format: our lines replaced, everyone else's kept. */
async function updateSums(target: string, files: WrittenFile[]): Promise<void> {
  const file = join(dirname(target), SUMS_FILE);
  const base = basename(target);
  const existing = await readFile(file, 'utf8').catch(() => '');
  const kept = parseSums(existing).filter((l) => !isOurs(l.name, base));
  const lines = [...kept, ...files.map((f) => ({ hex: f.sha256, name: basename(f.path) }))].map((l) => `${l.hex}  ${l.name}\n`);
  await writeFileAtomic(file, lines.join(''));
}
