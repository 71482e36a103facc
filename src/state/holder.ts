/**
 * Who holds a state's lock: enough to name the run in a message (pid, host, start time) and a
 * random token that tells our own lock from another run's (pids repeat across hosts and pods).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ChartMirrorError } from '../errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  token: string;
  /** The command that holds it (sync, import). */
  command?: string;
}

export function newHolder(command?: string): LockHolder {
  return { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: randomUUID(), ...(command ? { command } : {}) };
}

export function describeHolder(h: Partial<LockHolder>): string {
  const what = h.command ? `a chartmirror ${h.command}` : 'another chartmirror run';
  return `${what} (pid ${h.pid ?? '?'} on host ${h.host ?? '?'}, started ${h.startedAt ?? 'at an unknown time'})`;
}

/**
 * Why a holder is known to be gone, when it ran on this host: no such process, or our own pid
 * (a restarted container is pid 1 again). Other hosts' holders are judged by their lease.
 */
export function goneOnThisHost(h: LockHolder | undefined, host = hostname()): string | undefined {
  if (!h || h.host !== host) return undefined;
  if (h.pid === process.pid) return 'its process is this one, restarted';
  if (!processAlive(h.pid)) return 'its process is gone';
  return undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Read a holder from untrusted JSON: only the fields we know, of the right types. */
export function parseHolder(value: unknown): LockHolder | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.token !== 'string' || typeof v.host !== 'string' || typeof v.pid !== 'number' || typeof v.startedAt !== 'string') return undefined;
  return {
    pid: v.pid,
    host: v.host.slice(0, 255),
    startedAt: v.startedAt.slice(0, 64),
    token: v.token.slice(0, 64),
    ...(typeof v.command === 'string' ? { command: v.command.slice(0, 32) } : {}),
  };
}

/** The second run's error: exit 2, naming the holder and what to do. */
export function lockedError(where: string, holder: Partial<LockHolder> | undefined, lock: string, leaseMs: number): ChartMirrorError {
  const who = holder ? describeHolder(holder) : 'another chartmirror run (its lock cannot be read)';
  const lease = leaseMs % 60_000 === 0 ? `${leaseMs / 60_000} minutes` : `${Math.round(leaseMs / 1000)} seconds`;
  return new ChartMirrorError(
    'LOCKED',
    `${where} is in use by ${who}; wait for it to finish, or remove ${lock} if that run is gone (a lock not renewed for ${lease} is taken over by the next run)`,
  );
}
