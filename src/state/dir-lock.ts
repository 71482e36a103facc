/**
 * The lock of a state directory: `lock.json`, created with O_EXCL (atomic on local file
 * systems and NFSv3+), holding who runs. The holder touches it while it runs; a lock whose
 * holder is gone (same host, no such process) or that was not touched for the lease is stale
 * and taken over with a warning. Taking over renames the stale file away first and checks that
 * it renamed what it judged stale, so two runs that both found it stale cannot both win.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LIMITS } from '../defaults.js';
import { ChartMirrorError } from '../errors.js';
import { describeHolder, goneOnThisHost, lockedError, newHolder, parseHolder, type LockHolder } from './holder.js';

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
  for (let attempt = 0; ; attempt++) {
    if (await createExclusive(path, body)) break;
    const seen = await readLock(path);
    if (seen === 'gone') continue; // released between our create and read
    const stale = staleness(seen, opts.leaseMs);
    if (!stale || attempt >= 3) throw lockedError(`state ${dir}`, seen.holder, path, opts.leaseMs);
    if (await takeOver(path, seen.text)) opts.onWarning?.(`state ${dir}: took over the lock of ${seen.holder ? describeHolder(seen.holder) : 'a run whose lock could not be read'}: ${stale}`);
  }

  const lost = new AbortController();
  const renew = setInterval(() => {
    void (async () => {
      const now = await readLock(path);
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
      const now = await readLock(path);
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

async function createExclusive(path: string, body: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new ChartMirrorError('CONFIG', `state: cannot create the lock ${path} (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  try {
    await fh.writeFile(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

interface SeenLock {
  text: string;
  holder?: LockHolder;
  mtimeMs: number;
}

async function readLock(path: string): Promise<SeenLock | 'gone'> {
  try {
    const [st, buf] = await Promise.all([stat(path), readFile(path)]);
    const text = buf.subarray(0, LIMITS.lockFileBytes).toString('utf8');
    let holder: LockHolder | undefined;
    try {
      holder = parseHolder(JSON.parse(text));
    } catch {
      holder = undefined; // half-written by a run that died at that moment, or not ours
    }
    return { text, holder, mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw new ChartMirrorError('CONFIG', `state: cannot read the lock ${path} (${(e as NodeJS.ErrnoException).code ?? e})`);
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

/**
 * Move a stale lock out of the way. Only one run's rename succeeds; if what it moved is not
 * what it judged stale (another run took over in between), the lock is put back.
 */
async function takeOver(path: string, judged: string): Promise<boolean> {
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved.slice(0, LIMITS.lockFileBytes) !== judged) {
    // A fresh lock: restore it unless someone already made a new one.
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return false;
  }
  await unlink(aside).catch(() => undefined);
  return true;
}
