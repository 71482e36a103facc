import type { ItemResult } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';

export interface Summary {
  pushed: number;
  present: number;
  failed: number;
  excluded: number;
  planned: number;
  /** Bytes this run sent to targets. */
  bytesUploaded: number;
  /** Archive bytes of `planned` items whose size is known (dry runs). */
  bytesPlanned: number;
}

export interface GroupSummary extends Summary {
  source: string;
  target: string;
}

function emptySummary(): Summary {
  return { pushed: 0, present: 0, failed: 0, excluded: 0, planned: 0, bytesUploaded: 0, bytesPlanned: 0 };
}

function add(s: Summary, i: ItemResult): void {
  s[i.status]++;
  s.bytesUploaded += i.bytesUploaded ?? 0;
  if (i.status === 'planned') s.bytesPlanned += i.archiveSize ?? 0;
}

export function summarise(items: readonly ItemResult[]): Summary {
  const s = emptySummary();
  for (const i of items) add(s, i);
  return s;
}

/** Counts per source and target, ordered by source then target. */
export function groupSummaries(items: readonly ItemResult[]): GroupSummary[] {
  const groups = new Map<string, GroupSummary>();
  for (const i of items) {
    const key = `${i.source}\u0000${i.target}`;
    let g = groups.get(key);
    if (!g) {
      g = { source: i.source, target: i.target, ...emptySummary() };
      groups.set(key, g);
    }
    add(g, i);
  }
  return [...groups.values()].sort((a, b) => cmp(a.source, b.source) || cmp(a.target, b.target));
}

/** The items of one source and target, in report order. */
export function itemsOf(items: readonly ItemResult[], g: { source: string; target: string }): ItemResult[] {
  return sortItems(items.filter((i) => i.source === g.source && i.target === g.target));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m - h * 60).padStart(2, '0')}m`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Stable order for reports: source, chart, version, target. */
export function sortItems(items: readonly ItemResult[]): ItemResult[] {
  return [...items].sort(
    (a, b) => cmp(a.source, b.source) || cmp(a.chart, b.chart) || cmp(a.version, b.version) || cmp(a.target, b.target),
  );
}

export interface RunSummary extends Summary {
  dryRun: boolean;
  interrupted: boolean;
  durationMs: number;
}

export function runSummary(result: RunResult): RunSummary {
  return {
    ...summarise(result.items),
    dryRun: result.dryRun,
    interrupted: result.interrupted,
    durationMs: result.finishedAt.getTime() - result.startedAt.getTime(),
  };
}

/** The one line every run ends with: pushed, present, failed, excluded, bytes, time. */
export function summaryLine(s: RunSummary): string {
  const took = formatDuration(s.durationMs);
  const stopped = s.interrupted ? ' (interrupted)' : '';
  if (s.dryRun) {
    return `plan: ${s.planned} to push (${formatBytes(s.bytesPlanned)}), ${s.present} present, ${s.failed} failed, ${s.excluded} excluded in ${took}; nothing was written${stopped}`;
  }
  return `done: ${s.pushed} pushed, ${s.present} present, ${s.failed} failed, ${s.excluded} excluded; ${formatBytes(s.bytesUploaded)} uploaded in ${took}${stopped}`;
}
