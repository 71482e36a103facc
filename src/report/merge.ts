/**
 * `chartmirror report merge`: the JSON reports of several runs (the shards of an Indexed Job)
 * joined into one, with totals recomputed. An item found in two reports (an image used by
 * charts of two shards is copied by both) is kept once, with its best outcome: it is at the
 * target if either shard put it there.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, errorMessage } from '../errors.js';
import type { ItemResult, ItemStatus } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';
import type { Shard } from '../pipeline/shard.js';
import { ReportSchema, type Report, type ReportItem } from './report-schema.js';

/** Which of two reports of one item wins: the one that says the most about the target. */
const RANK: Record<ItemStatus, number> = { pushed: 4, present: 3, planned: 2, failed: 1, excluded: 0 };

export interface MergedReports {
  result: RunResult;
  /** The command the reports came from (`sync`, or `a+b` when they differ). */
  command: string;
  /** Things worth saying: shards missing or repeated, reports of different shard counts. */
  warnings: string[];
}

/** Read and check one report file; a ConfigError (exit 2) naming the file when it is not one. */
export async function readReportFile(file: string): Promise<Report> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? errorMessage(e)})`}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not a chartmirror report (not JSON: ${errorMessage(e)}); give files written by --report`);
  }
  const parsed = ReportSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${file}: not a chartmirror report (${issue.path.join('.') || '(top)'}: ${issue.message}); give files written by --report`);
  }
  return parsed.data;
}

export function mergeReports(reports: { file: string; report: Report }[]): MergedReports {
  const warnings: string[] = [];
  const byKey = new Map<string, ItemResult>();
  for (const { report } of reports) {
    for (const r of report.items) {
      const item = toItem(r);
      const key = JSON.stringify([item.source, item.chart, item.version, item.target]);
      const had = byKey.get(key);
      if (!had) {
        byKey.set(key, item);
        continue;
      }
      const best = RANK[item.status] > RANK[had.status] ? item : had;
      const usedBy = [...new Set([...(had.usedBy ?? []), ...(item.usedBy ?? [])])].sort();
      byKey.set(key, { ...best, ...(usedBy.length ? { usedBy } : {}) });
    }
  }

  const shards: Shard[] = [];
  for (const { report } of reports) if (report.shard) shards.push(report.shard);
  const counts = new Set(shards.map((s) => s.count));
  if (counts.size > 1) warnings.push(`the reports come from different shard counts (${[...counts].sort((a, b) => a - b).join(', ')}): they may overlap or leave charts out`);
  if (counts.size === 1 && shards.length > 0) {
    const n = [...counts][0]!;
    const seen = new Map<number, string[]>();
    reports.forEach(({ file, report }) => report.shard && seen.set(report.shard.index, [...(seen.get(report.shard.index) ?? []), file]));
    const missing = [...Array(n).keys()].filter((i) => !seen.has(i));
    if (missing.length) warnings.push(`shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${n}`).join(', ')} missing: the merged report covers only part of the work`);
    for (const [i, files] of seen) if (files.length > 1) warnings.push(`shard ${i}/${n} appears in ${files.join(' and ')}`);
    const unsharded = reports.filter(({ report }) => !report.shard).map(({ file }) => file);
    if (unsharded.length) warnings.push(`${unsharded.join(', ')} ${unsharded.length > 1 ? 'are' : 'is'} not a shard's report`);
  }

  const commands = [...new Set(reports.map(({ report }) => report.command))];
  const started = Math.min(...reports.map(({ report }) => Date.parse(report.startedAt)));
  const finished = Math.max(...reports.map(({ report }) => Date.parse(report.finishedAt)));
  return {
    command: commands.join('+'),
    warnings,
    result: {
      items: [...byKey.values()],
      startedAt: new Date(started),
      finishedAt: new Date(finished),
      interrupted: reports.some(({ report }) => report.interrupted),
      dryRun: reports.every(({ report }) => report.dryRun),
      merged: { reports: reports.length, shards },
    },
  };
}

function toItem(r: ReportItem): ItemResult {
  const { digest, reason, ...rest } = r;
  return { ...rest, ...(digest !== null ? { digest } : {}), ...(reason !== null ? { reason } : {}) } as ItemResult;
}
