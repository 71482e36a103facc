/**
 * A short exclusive lock between processes: a lock file created with O_EXCL (atomic on local
 * file systems and NFSv3+) beside the file it guards, held only for a read-modify-write of that
 * file (milliseconds), never for a whole run. The guarded file is replaced by rename, so the lock
 * cannot be on the file itself (an flock or fcntl lock would stay with the old inode, which is
 * why containers/image has none for `oci:` directories, containers/image#1028); every writer of
 * the guarded file takes this lock, readers need none (they see the old or the new file whole).
 *
 * A lock whose holder is gone is taken over: on this host when its process no longer exists
 * (and it was not touched for two seconds: pid namespaces differ between containers of one pod),
 * anywhere when it was not touched for `staleMs`. A holder touches its lock every second while
 * it holds it, and checks that it still holds it before it commits (`assertHeld`).
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { LIMITS } from '../defaults.js';
import { ChartMirrorError, type ErrorCode } from '../errors.js';
import { describeHolder, goneOnThisHost, newHolder, parseHolder, type LockHolder } from '../state/holder.js';

export interface FileLockOptions {
  /** What is locked, for messages: `layout /srv/oci (index.json)`. */
  what: string;
  /** A lock not touched for this long belongs to a holder that is gone. Default 30 s. */
  staleMs?: number;
  /** Give up waiting after this long. Default: twice `staleMs`. */
  timeoutMs?: number;
  /** The code of an error creating or reading the lock file. Default LAYOUT. */
  ioErrorCode?: ErrorCode;
}

export interface HeldLock {
  /** Throws when the lock is no longer this holder's (taken over as stale): do not commit then. */
  assertHeld(): Promise<void>;
}

const DEFAULT_STALE_MS = 30_000;
/** A holder touches its lock this often while it holds it. */
const TOUCH_MS = 1_000;
/** A same-host holder whose pid is gone still counts as live until its lock is this old. */
const PID_GRACE_MS = 2_000;

/** Tokens of the locks this process holds right now (a pid is not enough: this process may hold it). */
const heldHere = new Set<string>();

/**
 * Run `fn` holding the lock file `lockPath`. Waits (with short, growing, jittered pauses) while
 * another holder has it; fails with LOCKED after `timeoutMs`.
 */
export async function withFileLock<T>(lockPath: string, fn: (lock: HeldLock) => Promise<T>, opts: FileLockOptions): Promise<T> {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const deadline = Date.now() + (opts.timeoutMs ?? 2 * staleMs);
  const holder = newHolder();
  const body = `${JSON.stringify(holder)}\n`;
  const fail = ioError(opts);
  for (let attempt = 0; ; attempt++) {
    if (await createLockFile(lockPath, body, fail)) break;
    const seen = await readLockFile(lockPath, fail);
    if (seen === 'gone') continue; // released between our attempt and our look
    if (isStale(seen, staleMs)) {
      await takeOverLockFile(lockPath, seen.text);
      continue;
    }
    if (Date.now() > deadline) {
      const who = seen.holder ? describeHolder(seen.holder) : 'another process (its lock cannot be read)';
      const waited = opts.timeoutMs ?? 2 * staleMs;
      const time = waited < 10_000 ? `${waited} ms` : `${Math.round(waited / 1000)} s`;
      throw new ChartMirrorError('LOCKED', `${opts.what}: still locked by ${who} after waiting ${time}; remove ${lockPath} if that process is gone`);
    }
    await pause(attempt);
  }
  heldHere.add(holder.token);
  const touch = setInterval(() => {
    const t = new Date();
    void utimes(lockPath, t, t).catch(() => undefined);
  }, TOUCH_MS);
  touch.unref();
  const lock: HeldLock = {
    async assertHeld() {
      const now = await readLockFile(lockPath, fail);
      if (now === 'gone' || now.holder?.token !== holder.token) {
        throw new ChartMirrorError('LOCKED', `${opts.what}: this process held the lock too long and another took it over; nothing was written`, { retryable: true });
      }
    },
  };
  try {
    return await fn(lock);
  } finally {
    clearInterval(touch);
    heldHere.delete(holder.token);
    const now = await readLockFile(lockPath, fail).catch(() => 'gone' as const);
    if (now !== 'gone' && now.holder?.token === holder.token) await unlink(lockPath).catch(() => undefined);
  }
}

function pause(attempt: number): Promise<void> {
  const ms = Math.min(20, 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How a lock file's I/O failure is reported: the message names what is locked, the code is the caller's. */
export type LockIoError = (action: 'create' | 'read', path: string, e: unknown) => ChartMirrorError;

function ioError(opts: FileLockOptions): LockIoError {
  return (action, path, e) =>
    new ChartMirrorError(opts.ioErrorCode ?? 'LAYOUT', `${opts.what}: cannot ${action} the lock ${path} (${(e as NodeJS.ErrnoException).code ?? e})`);
}

/**
 * Create a lock file whole or not at all: the holder goes into a temp file that is then
 * hard-linked to the lock's name (link fails when the name exists), so nobody ever reads a lock
 * that is still being written. No fsync: a lock matters only while its holder runs.
 */
export async function createLockFile(path: string, body: string, fail: LockIoError): Promise<boolean> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, body, { flag: 'wx' });
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fail('create', path, e);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

export interface SeenLock {
  text: string;
  holder?: LockHolder;
  mtimeMs: number;
}

/** A lock file as it is now, or 'gone'; a holder that cannot be read is undefined (not ours, or damaged). */
export async function readLockFile(path: string, fail: LockIoError): Promise<SeenLock | 'gone'> {
  try {
    const [st, buf] = await Promise.all([stat(path), readFile(path)]);
    const text = buf.subarray(0, LIMITS.lockFileBytes).toString('utf8');
    let holder: LockHolder | undefined;
    try {
      holder = parseHolder(JSON.parse(text));
    } catch {
      holder = undefined;
    }
    return { text, holder, mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw fail('read', path, e);
  }
}

/** Whether a lock's holder is gone (see the module comment). */
export function isStale(seen: { holder?: LockHolder; mtimeMs: number }, staleMs: number, now = Date.now()): boolean {
  const idle = now - seen.mtimeMs;
  if (idle > staleMs) return true;
  if (seen.holder && heldHere.has(seen.holder.token)) return false;
  return idle > PID_GRACE_MS && goneOnThisHost(seen.holder) !== undefined;
}

/**
 * Move a stale lock out of the way. Only one taker's rename succeeds; if what it moved is not
 * what it judged stale (a new holder came in between), the lock is put back. True when taken.
 */
export async function takeOverLockFile(path: string, judged: string): Promise<boolean> {
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved.slice(0, LIMITS.lockFileBytes) !== judged) {
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return false;
  }
  await unlink(aside).catch(() => undefined);
  return true;
}
