import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../support/tmp.js';
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
});
