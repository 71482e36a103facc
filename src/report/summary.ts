import type { ItemResult } from '../pipeline/events.js';

export interface Summary {
  pushed: number;
  present: number;
  failed: number;
  excluded: number;
  planned: number;
  bytesUploaded: number;
}

export function summarise(items: readonly ItemResult[]): Summary {
  const s: Summary = { pushed: 0, present: 0, failed: 0, excluded: 0, planned: 0, bytesUploaded: 0 };
  for (const i of items) {
    s[i.status]++;
    s.bytesUploaded += i.bytesUploaded ?? 0;
  }
  return s;
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
  return `${m}m${Math.round(s - m * 60)}s`;
}

/** Stable order for reports: source, chart, version, target. */
export function sortItems(items: readonly ItemResult[]): ItemResult[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...items].sort(
    (a, b) => cmp(a.source, b.source) || cmp(a.chart, b.chart) || cmp(a.version, b.version) || cmp(a.target, b.target),
  );
}
