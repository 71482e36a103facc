/**
 * The lock of a state directory: `lock.json`, created with O_EXCL (atomic on local file
 * systems and NFSv3+), holding who runs. The holder touches it while it runs; a lock whose
 * holder is gone (same host, no such process) or that was not touched for the lease is stale
 * and taken over with a warning. Taking over renames the stale file away first and checks that
 * it renamed what it judged stale, so two runs that both found it stale cannot both win.
 */
import { mkdir, readdir, rmdir, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ChartMirrorError } from '../errors.js';
import { createLockFile, readLockFile, takeOverLockFile, type LockIoError } from '../util/file-lock.js';
import { describeHolder, goneOnThisHost, lockedError, newHolder, type LockHolder } from './holder.js';

export const LOCK_FILE = 'lock.json';

export interface StateLock {
  /** Aborted when another run has taken the lock over (this run was presumed gone). */
  readonly lost: AbortSignal;
  readonly holder: LockHolder;
  release(): Promise<void>;
}

export interface LockOptions {
  command?: string;
  leaseMs: number;
  renewMs: number;
  onWarning?: (message: string) => void;
}

/** Take the lock of `dir` (created when missing; removed again at release when it is left empty). */
export async function lockStateDir(dir: string, opts: LockOptions): Promise<StateLock> {
  const created = await mkdir(dir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new ChartMirrorError('CONFIG', `state ${dir}: cannot create the state directory (${e.code ?? e.message})`);
  });
  const path = join(dir, LOCK_FILE);
  const holder = newHolder(opts.command);
  const body = `${JSON.stringify(holder)}\n`;
  const fail: LockIoError = (action, p, e) => new ChartMirrorError('CONFIG', `state: cannot ${action} the lock ${p} (${(e as NodeJS.ErrnoException).code ?? e})`);
  for (let attempt = 0; ; attempt++) {
    if (await createLockFile(path, body, fail)) break;
    const seen = await readLockFile(path, fail);
    if (seen === 'gone') continue; // released between our create and read
    const stale = staleness(seen, opts.leaseMs);
    if (!stale || attempt >= 3) throw lockedError(`state ${dir}`, seen.holder, path, opts.leaseMs);
    if (await takeOverLockFile(path, seen.text)) opts.onWarning?.(`state ${dir}: took over the lock of ${seen.holder ? describeHolder(seen.holder) : 'a run whose lock could not be read'}: ${stale}`);
  }

  const lost = new AbortController();
  const renew = setInterval(() => {
    void (async () => {
      const now = await readLockFile(path, fail);
      if (now === 'gone' || now.holder?.token !== holder.token) {
        clearInterval(renew);
        opts.onWarning?.(`state ${dir}: another run took this run's lock over${now !== 'gone' && now.holder ? ` (${describeHolder(now.holder)})` : ''}; stopping`);
        lost.abort();
        return;
      }
      const t = new Date();
      await utimes(path, t, t).catch(() => undefined);
    })();
  }, opts.renewMs);
  renew.unref();

  return {
    lost: lost.signal,
    holder,
    async release() {
      clearInterval(renew);
      const now = await readLockFile(path, fail);
      if (now !== 'gone' && now.holder?.token === holder.token) await unlink(path).catch(() => undefined);
      // A run that stopped before writing anything leaves no state directory behind.
      if (created) await removeEmptyUpTo(dir, created);
    },
  };
}

/** Remove `dir` and then its parents up to `top` (the first one mkdir created), while empty. */
async function removeEmptyUpTo(dir: string, top: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    if ((await readdir(d).catch(() => ['?'])).length > 0) return;
    if (!(await rmdir(d).then(() => true, () => false))) return;
    if (d === top || dirname(d) === d) return;
  }
}

/** Why a lock is stale, or undefined while its holder may still be running. */
export function staleness(seen: { holder?: LockHolder; mtimeMs: number }, leaseMs: number, now = Date.now()): string | undefined {
  const gone = goneOnThisHost(seen.holder);
  if (gone) return gone;
  const idle = now - seen.mtimeMs;
  if (idle > leaseMs) return `not renewed for ${Math.round(idle / 1000)} s (lease ${Math.round(leaseMs / 1000)} s)`;
  return undefined;
}
