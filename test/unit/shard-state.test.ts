/**
 * Sharding arithmetic, the state directory lock, and the checks a registry-backed state's
 * manifest must pass before anything of it is written to disk.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownsChart, parseShard, shardFrom, shardOf, chartShardKey } from '../../src/pipeline/shard.js';
import { lockStateDir, staleness } from '../../src/state/dir-lock.js';
import { parseStateManifest, STATE_ARTIFACT_TYPE } from '../../src/state/registry-state.js';
import { mergeReports } from '../../src/report/merge.js';
import { waitFor } from '../support/wait.js';
import { tmpDir } from '../support/tmp.js';

describe('shards', () => {
  it('parses i/n and auto/n; rejects the rest with the option named', () => {
    expect(parseShard('0/3', '--shard')).toEqual({ index: 0, count: 3 });
    expect(parseShard('auto/4', '--shard', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, count: 4 });
    expect(() => parseShard('auto/4', '--shard', {})).toThrow(/JOB_COMPLETION_INDEX, which is not set/);
    expect(() => parseShard('auto/4', '--shard', { JOB_COMPLETION_INDEX: '4' })).toThrow(/not below the shard count 4/);
    expect(() => parseShard('2/0', '--shard')).toThrow(/between 1 and/);
    expect(() => parseShard('1/2/3', 'CHARTMIRROR_SHARD')).toThrow(/^CHARTMIRROR_SHARD: "1\/2\/3" is not a shard/);
    expect(shardFrom(undefined, { CHARTMIRROR_SHARD: '1/2' })).toEqual({ index: 1, count: 2 });
    expect(shardFrom('0/2', { CHARTMIRROR_SHARD: '1/2' })).toEqual({ index: 0, count: 2 });
    expect(shardFrom(undefined, {})).toBeUndefined();
  });

  it('a chart keeps its shard when other charts come and go, and the split is roughly even', () => {
    const names = Array.from({ length: 2000 }, (_, i) => `chart-${i}`);
    const before = new Map(names.slice(0, 1000).map((n) => [n, shardOf(chartShardKey('src', n), 5)]));
    // The assignment depends on the chart alone, never on the other charts.
    for (const [n, s] of before) expect(shardOf(chartShardKey('src', n), 5)).toBe(s);
    const sizes = [0, 0, 0, 0, 0];
    for (const n of names) sizes[shardOf(chartShardKey('src', n), 5)]!++;
    for (const size of sizes) expect(size).toBeGreaterThan(300);
    // The source is part of the key: one chart name in two sources may land apart.
    expect(names.some((n) => shardOf(chartShardKey('a', n), 5) !== shardOf(chartShardKey('b', n), 5))).toBe(true);
    expect(ownsChart(undefined, 'src', 'x')).toBe(true);
    expect(ownsChart({ index: 0, count: 1 }, 'src', 'x')).toBe(true);
  });
});

describe('report merge', () => {
  const report = (shard: { index: number; count: number } | undefined, items: Array<[string, string]>) => ({
    schemaVersion: 1 as const,
    tool: { name: 'chartmirror' as const, version: 't' },
    command: 'sync',
    dryRun: false,
    interrupted: false,
    startedAt: '2026-11-30T10:00:00.000Z',
    finishedAt: '2026-11-30T10:01:00.000Z',
    durationMs: 60000,
    ...(shard ? { shard } : {}),
    summary: { pushed: 0, present: 0, failed: 0, excluded: 0, planned: 0, bytesUploaded: 0, bytesPlanned: 0 },
    groups: [],
    items: items.map(([chart, status]) => ({ source: 'images', chart, version: '1', target: 't', status: status as 'pushed', digest: null, reason: null, usedBy: [`s/${chart}-${status}@1`] })),
  });

  it('an item in two shards (an image two charts use) is kept once, with its best outcome and both users', () => {
    const m = mergeReports([
      { file: 'a', report: report({ index: 0, count: 2 }, [['nginx', 'failed'], ['redis', 'pushed']]) },
      { file: 'b', report: report({ index: 1, count: 2 }, [['nginx', 'present']]) },
    ]);
    expect(m.warnings).toEqual([]);
    expect(m.result.items).toHaveLength(2);
    const nginx = m.result.items.find((i) => i.chart === 'nginx')!;
    expect(nginx.status).toBe('present');
    expect(nginx.usedBy).toEqual(['s/nginx-failed@1', 's/nginx-present@1']);
  });

  it('says which shards are missing, repeated, or of another count', () => {
    expect(mergeReports([{ file: 'a', report: report({ index: 0, count: 3 }, []) }]).warnings).toEqual(['shards 1/3, 2/3 missing: the merged report covers only part of the work']);
    expect(mergeReports([{ file: 'a', report: report({ index: 0, count: 1 }, []) }, { file: 'b', report: report({ index: 0, count: 1 }, []) }]).warnings).toEqual(['shard 0/1 appears in a and b']);
    expect(mergeReports([{ file: 'a', report: report({ index: 0, count: 2 }, []) }, { file: 'b', report: report({ index: 0, count: 3 }, []) }]).warnings[0]).toMatch(/different shard counts \(2, 3\)/);
  });
});

describe('the state directory lock', () => {
  const opts = { leaseMs: 300_000, renewMs: 60_000 };

  it('the lock file names the holder; a lock left by our own pid (a restarted container is pid 1 again) is taken over', async () => {
    const dir = join(await tmpDir('lock-'), 'state');
    await lockStateDir(dir, { ...opts, command: 'sync' });
    const text = await readFile(join(dir, 'lock.json'), 'utf8');
    expect(JSON.parse(text)).toMatchObject({ pid: process.pid, host: hostname(), command: 'sync' });
    // Our own pid on our host reads as "a restarted container": only a lease keeps it then.
    const warnings: string[] = [];
    await expect(lockStateDir(dir, { ...opts, onWarning: (w) => warnings.push(w) })).resolves.toBeDefined();
    expect(warnings).toEqual([expect.stringMatching(/took over the lock of a chartmirror sync .*its process is this one, restarted/)]);
  });

  it('a holder on another host keeps the lock until its lease ends; then it is stale', () => {
    const holder = { pid: 1, host: 'elsewhere', startedAt: 'x', token: 't' };
    expect(staleness({ holder, mtimeMs: Date.now() - 1000 }, 60_000)).toBeUndefined();
    expect(staleness({ holder, mtimeMs: Date.now() - 61_000 }, 60_000)).toMatch(/not renewed for 61 s/);
    expect(staleness({ holder: { ...holder, host: hostname(), pid: 2 ** 22 + 9 }, mtimeMs: Date.now() }, 60_000)).toBe('its process is gone');
    // Unreadable (half-written) locks are judged by their age alone.
    expect(staleness({ mtimeMs: Date.now() }, 60_000)).toBeUndefined();
  });

  it('a run whose lock is taken over learns it at the next renewal (its `lost` signal aborts)', async () => {
    const dir = join(await tmpDir('lock-'), 'state');
    const warnings: string[] = [];
    const lock = await lockStateDir(dir, { leaseMs: 300_000, renewMs: 20, onWarning: (w) => warnings.push(w) });
    await writeFile(join(dir, 'lock.json'), JSON.stringify({ pid: 77, host: 'node-2', startedAt: '2026-11-30T00:00:00Z', token: 'other' }));
    await waitFor(() => lock.lost.aborted, { what: 'the lost signal' });
    expect(warnings[0]).toMatch(/another run took this run's lock over \(another chartmirror run \(pid 77 on host node-2/);
    await lock.release();
    // Not ours any more: release leaves the other run's lock alone.
    expect(JSON.parse(await readFile(join(dir, 'lock.json'), 'utf8')).token).toBe('other');
  });
});

describe('a registry-backed state read back', () => {
  const layer = (title: string, size = 10) => ({ mediaType: 'x', digest: `sha256:${'a'.repeat(64)}`, size, annotations: { 'org.opencontainers.image.title': title } });
  const manifest = (layers: unknown[], artifactType = STATE_ARTIFACT_TYPE) => Buffer.from(JSON.stringify({ schemaVersion: 2, artifactType, layers }));

  it('accepts the journal and cached indexes', () => {
    const ok = parseStateManifest(manifest([layer('journal.jsonl'), layer(`index-cache/${'0'.repeat(32)}.json`), layer(`index-cache/${'0'.repeat(32)}.index`)]), 'w');
    expect(ok.map((l) => l.annotations!['org.opencontainers.image.title'])).toHaveLength(3);
  });

  it('refuses files that could land elsewhere, repeated files, oversized journals and other artifacts', () => {
    for (const bad of ['../journal.jsonl', '/etc/passwd', 'index-cache/../../x', 'index-cache/zz.json', 'journal.jsonl/x', '']) {
      expect(() => parseStateManifest(manifest([layer(bad)]), 'w'), bad).toThrow(/not a chartmirror state \(unexpected file/);
    }
    expect(() => parseStateManifest(manifest([layer('journal.jsonl'), layer('journal.jsonl')]), 'w')).toThrow(/unexpected file/);
    expect(() => parseStateManifest(manifest([layer('journal.jsonl', 2 ** 31)]), 'w')).toThrow(/more than the 1073741824 allowed/);
    expect(() => parseStateManifest(manifest([], 'application/vnd.cncf.helm.config.v1+json'), 'w')).toThrow(/artifactType/);
    expect(() => parseStateManifest(Buffer.from('{'), 'w')).toThrow(/not JSON/);
    expect(() => parseStateManifest(manifest(Array.from({ length: 10_001 }, () => layer('journal.jsonl'))), 'w')).toThrow(/too many/);
  });
});
