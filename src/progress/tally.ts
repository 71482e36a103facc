import type { ItemResult, PipelineEvent } from '../pipeline/events.js';
import type { Summary } from '../report/summary.js';

/** Progress of one source and target (or of the whole run), as renderers show it. */
export interface Progress extends Summary {
  source: string;
  target: string;
  /** Items the plan left to check or push; each ends with one `item` event. */
  total: number;
  /** Of those, finished. */
  done: number;
}

function empty(source: string, target: string): Progress {
  return { source, target, total: 0, done: 0, pushed: 0, present: 0, failed: 0, excluded: 0, planned: 0, bytesUploaded: 0, bytesPlanned: 0 };
}

/**
 * Counts kept from PipelineEvents only. Items settled by the plan itself (excluded, journal
 * hits, invalid versions) arrive before the `plan` event and are counted from it; every item
 * after it is one of the plan's pending ones finishing.
 */
export class Tally {
  readonly groups = new Map<string, Progress>();
  readonly all: Progress = empty('', '');
  planned = false;
  /** When the plan event arrived (ms): work starts then, so rate and ETA count from it. */
  workStartedAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Apply one event; returns the group an item belongs to, when it moved one. */
  apply(e: PipelineEvent): Progress | undefined {
    if (e.type === 'plan') {
      this.planned = true;
      this.workStartedAt = this.now();
      for (const g of e.groups) {
        const p = { ...empty(g.source, g.target), total: g.pending, present: g.present, failed: g.failed, excluded: g.excluded };
        this.groups.set(key(g.source, g.target), p);
        for (const k of ['total', 'present', 'failed', 'excluded'] as const) this.all[k] += p[k];
      }
      return undefined;
    }
    if (e.type !== 'item' || !this.planned) return undefined;
    const r = e.result;
    let g = this.groups.get(key(r.source, r.target));
    if (!g) {
      g = empty(r.source, r.target);
      this.groups.set(key(r.source, r.target), g);
    }
    for (const p of [g, this.all]) count(p, r);
    return g;
  }

  elapsedMs(): number {
    return this.planned ? this.now() - this.workStartedAt : 0;
  }
}

function count(p: Progress, r: ItemResult): void {
  p.done++;
  if (p.done > p.total) p.total = p.done;
  p[r.status]++;
  p.bytesUploaded += r.bytesUploaded ?? 0;
  if (r.status === 'planned') p.bytesPlanned += r.archiveSize ?? 0;
}

function key(source: string, target: string): string {
  return `${source}\u0000${target}`;
}

/** Bytes per second over `ms`, or undefined before there is anything to measure. */
export function rate(bytes: number, ms: number): number | undefined {
  return ms >= 500 && bytes > 0 ? (bytes * 1000) / ms : undefined;
}

/** Time left at the pace so far, or undefined before the first item finished. */
export function eta(p: Pick<Progress, 'done' | 'total'>, ms: number): number | undefined {
  if (p.done === 0 || p.done >= p.total) return undefined;
  return (ms / p.done) * (p.total - p.done);
}
