import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExit } from './cleanup.js';

const created = new Set<string>();
let hooked = false;

/**
 * A fresh directory under os.tmpdir() (mode 0700), removed at process exit (best effort).
 * Set CHARTMIRROR_KEEP_TMP=1 to keep them for debugging.
 */
export async function tmpDir(prefix = 'chartmirror-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix.endsWith('-') ? prefix : `${prefix}-`));
  created.add(dir);
  if (!hooked) {
    hooked = true;
    onExit('files', () => {
      if (process.env.CHARTMIRROR_KEEP_TMP === '1') return;
      for (const d of created) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

/** Removes a directory made by tmpDir() now rather than at exit. */
export async function removeTmpDir(dir: string): Promise<void> {
  created.delete(dir);
  await rm(dir, { recursive: true, force: true });
}
