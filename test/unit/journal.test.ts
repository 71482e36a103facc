import { spawn } from 'node:child_process';
import { appendFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/helm.js';
import { tmpDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { Journal } from '../../src/pipeline/journal.js';

const key = (v: string) => Journal.key({ source: 's', chart: 'c', version: v, destination: 'oci://h/r' });

describe('journal', () => {
  it('keeps confirmations across reopen', async () => {
    const dir = await tmpDir('journal-');
    const j = await Journal.open(dir);
    await j.record(key('1.0.0'), { digest: 'sha256:aa', archive: 'sha256:bb' });
    await j.close();
    const again = await Journal.open(dir);
    expect(again.get(key('1.0.0'))).toMatchObject({ digest: 'sha256:aa', archive: 'sha256:bb' });
    expect(again.get(key('2.0.0'))).toBeUndefined();
    await again.close();
  });

  it('ignores a torn last line and compacts it away', async () => {
    const dir = await tmpDir('journal-');
    const j = await Journal.open(dir);
    await j.record(key('1.0.0'), { digest: 'sha256:aa' });
    await j.close();
    await appendFile(join(dir, 'journal.jsonl'), '{"k":"[\\"s\\",\\"c\\",\\"2.0.0');
    const again = await Journal.open(dir);
    expect(again.ignoredLines).toBe(0); // compacted on open
    expect(again.get(key('1.0.0'))?.digest).toBe('sha256:aa');
    expect(again.size).toBe(1);
    await again.close();
    const text = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(text.trim().split('\n')).toHaveLength(1);
  });

  it('writes each record before record() resolves (a SIGKILL loses nothing confirmed)', async () => {
    const dir = await tmpDir('journal-');
    const j = await Journal.open(dir);
    await j.record(key('3.0.0'), { digest: 'sha256:cc' });
    const text = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(text).toContain('sha256:cc');
    await j.close();
  });

  it('does not create anything when read-only', async () => {
    const dir = join(await tmpDir('journal-'), 'state');
    const j = await Journal.open(dir, { readOnly: true });
    await j.record(key('1.0.0'), { digest: 'sha256:aa' });
    await j.close();
    await expect(readFile(join(dir, 'journal.jsonl'))).rejects.toThrow();
  });

  it('loses no line another process appends while it compacts (lock-free appends, each checked against the file at the path)', async () => {
    const dir = await tmpDir('journal-');
    const progress = join(dir, 'progress');
    const N = 2000;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'test', 'fixtures', 'journal-appender.mjs'), join(REPO_ROOT, 'dist', 'pipeline', 'journal.js'), dir, String(N), progress], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let running = true;
    void exited.then(() => (running = false));
    await waitFor(async () => (await stat(progress).catch(() => undefined)) !== undefined || !running, { what: 'the appender to start', timeoutMs: 30_000 });

    // This process appends too, and compacts (rewrites and renames the file) over and over while
    // the other one appends.
    const mine = await Journal.open(dir);
    // How many of the appender's lines each compaction found (it also finds this process's i + 1).
    const seen: number[] = [];
    const file = join(dir, 'journal.jsonl');
    for (let i = 0; running; i++) {
      await mine.record(key(`mine-${i}`), { digest: 'sha256:ee' });
      seen.push((await mine.compact({ force: true })) - (i + 1));
      // Then let the appender append to the compacted file before the next compaction.
      const compacted = (await stat(file)).size;
      await waitFor(async () => !running || (await stat(file)).size > compacted, { what: 'the appender to append', timeoutMs: 30_000, intervalMs: 1 });
    }
    await mine.close();
    expect(await exited).toBe(0);
    const lines = (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n');
    const keys = new Set(lines.map((l) => (JSON.parse(l) as { k: string }).k));
    const appended = [...keys].filter((k) => k.includes('"appender"'));
    expect(appended.length).toBe(N);
    for (let i = 0; i < seen.length; i++) expect(keys.has(key(`mine-${i}`))).toBe(true);
    // The race was on: compactions saw the appender part of the way through.
    expect(new Set(seen.filter((n) => n > 10 && n < N)).size, `appender lines found by each compaction: ${seen.join(' ')}`).toBeGreaterThanOrEqual(3);

  }, 60_000);
});
