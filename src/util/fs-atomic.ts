import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** Temp files start with this prefix so an interrupted write is never mistaken for content. */
export const TEMP_PREFIX = '.tmp-';

/**
 * Write a file so that it is either absent or complete under its final name: write a temp
 * file in the same directory, fsync it, rename it over the target (ggcr layout/write.go).
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: {
    fsync?: boolean;
    /** Called when the temp file is complete, just before the rename; throwing cancels it. */
    beforeRename?: () => Promise<void>;
  } = {},
): Promise<void> {
  const tmp = join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    if (opts.fsync !== false) await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await opts.beforeRename?.();
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
