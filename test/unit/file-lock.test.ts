import { spawn } from 'node:child_process';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../support/tmp.js';
import { withFileLock } from '../../src/util/file-lock.js';

/** The pid of a process that has exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0']);
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid!));
  });
}

const holder = (pid: number, host = hostname()) => JSON.stringify({ pid, host, startedAt: new Date().toISOString(), token: `t-${pid}-${host}` });

describe('file lock (the lock of index.json and of the journal)', () => {
  it('lets one holder in at a time', async () => {
    const lock = join(await tmpDir('flock-'), 'x.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withFileLock(
          lock,
          async () => {
            most = Math.max(most, ++inside);
            await new Promise((r) => setImmediate(r));
            inside--;
          },
          { what: 'test' },
        ),
      ),
    );
    expect(most).toBe(1);
    expect(await readdir(join(lock, '..'))).toEqual([]);
  });

  it('takes over a lock whose process is gone', async () => {
    const dir = await tmpDir('flock-');
    const lock = join(dir, 'x.lock');
    await writeFile(lock, holder(await deadPid()));
    const old = new Date(Date.now() - 5_000);
    await utimes(lock, old, old);
    expect(await withFileLock(lock, async () => 'got it', { what: 'test', timeoutMs: 5_000 })).toBe('got it');
    expect((await readdir(dir)).sort()).toEqual([]);
  });

  it('takes over a lock on another host once it is not renewed for the lease', async () => {
    const lock = join(await tmpDir('flock-'), 'x.lock');
    await writeFile(lock, holder(1, 'some-other-host'));
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    expect(await withFileLock(lock, async () => 'got it', { what: 'test', staleMs: 30_000, timeoutMs: 5_000 })).toBe('got it');
  });

  it('waits for a live holder, and names it when it gives up', async () => {
    const lock = join(await tmpDir('flock-'), 'x.lock');
    // The test runner's parent is alive, on this host.
    await writeFile(lock, holder(process.ppid));
    await expect(withFileLock(lock, async () => 'never', { what: 'OCI layout /x (index.json)', timeoutMs: 300 })).rejects.toThrow(
      new RegExp(`OCI layout /x \\(index.json\\): still locked by another chartmirror run \\(pid ${process.ppid} on host .*\\) after waiting 300 ms; remove .*x\\.lock if that process is gone`),
    );
  });
});
