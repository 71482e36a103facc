import type { ItemResult, ItemStatus } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';
import { compareNewestFirst } from '../pipeline/selection.js';
import { redact } from '../util/secrets.js';
import { formatBytes, groupSummaries, summarise, type Summary } from './summary.js';
import { cell, table } from './text.js';

const ORDER: Record<ItemStatus, number> = { planned: 0, pushed: 1, present: 2, excluded: 3, failed: 4 };
const LABEL: Record<ItemStatus, string> = { planned: 'push', pushed: 'pushed', present: 'present', excluded: 'excluded', failed: 'fail' };

/**
 * The plan for people (stdout of `chartmirror plan` and `sync --dry-run`): a table with one
 * row per source and target (to push with bytes, present, excluded, failed), a total, then
 * the items of each source and target with where they would go or why they are left out.
 */
export function formatPlan(result: RunResult): string {
  const groups = groupSummaries(result.items);
  const lines: string[] = [];
  const of = result.shard ? ` for shard ${result.shard.index}/${result.shard.count}` : '';
  lines.push(result.interrupted ? `Plan${of} (interrupted; incomplete). Nothing was written.` : `Plan${of}. Nothing was written.`, '');
  if (groups.length === 0) {
    lines.push('No chart versions in any source.');
    lines.push(...networkLines(result));
    return redact(lines.join('\n')) + '\n';
  }
  const unknownSizes = result.items.filter((i) => i.status === 'planned' && i.archiveSize === undefined).length;
  const bytes = (s: Summary, items: readonly ItemResult[]) => {
    const unknown = items.some((i) => i.status === 'planned' && i.archiveSize === undefined);
    return `${formatBytes(s.bytesPlanned)}${unknown ? '+' : ''}`;
  };
  const rows = [['SOURCE', 'TARGET', 'TO PUSH', 'BYTES', 'PRESENT', 'EXCLUDED', 'FAILED']];
  for (const g of groups) {
    const items = result.items.filter((i) => i.source === g.source && i.target === g.target);
    rows.push([cell(g.source), cell(g.target), String(g.planned), bytes(g, items), String(g.present), String(g.excluded), String(g.failed)]);
  }
  const total = summarise(result.items);
  if (groups.length > 1) {
    rows.push(['total', '', String(total.planned), bytes(total, result.items), String(total.present), String(total.excluded), String(total.failed)]);
  }
  lines.push(...table(rows, new Set([2, 3, 4, 5, 6])));
  if (unknownSizes > 0) lines.push(`(+: the size of ${unknownSizes} archive${unknownSizes === 1 ? ' is' : 's are'} unknown: no Content-Length)`);

  for (const g of groups) {
    const items = result.items
      .filter((i) => i.source === g.source && i.target === g.target)
      .sort(
        (a, b) =>
          ORDER[a.status] - ORDER[b.status] || (a.chart < b.chart ? -1 : a.chart > b.chart ? 1 : 0) || compareNewestFirst(a.version, b.version),
      );
    lines.push('', `${cell(g.source)} -> ${cell(g.target)}: ${g.planned} to push (${bytes(g, items)}), ${g.present} present, ${g.excluded} excluded, ${g.failed} failed`);
    const itemRows = items.map((i) => ['  ' + LABEL[i.status], cell(i.chart), cell(i.version), size(i), cell(detail(i))]);
    const rendered = table(itemRows, new Set([3]));
    items.forEach((i, n) => {
      lines.push(rendered[n]!);
      for (const w of i.warnings ?? []) lines.push(`      warning: ${cell(w)}`);
    });
  }
  lines.push(...networkLines(result));
  return redact(lines.join('\n')) + '\n';
}

/** With a proxy configured: how each host the plan talked to is reached, through which proxy or direct, and why. */
function networkLines(result: RunResult): string[] {
  if (!result.routes?.length) return [];
  const routes = [...result.routes].sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
  const rows = routes.map((r) => ['  ' + cell(r.origin), r.proxy ? `via proxy ${cell(r.proxy)}` : 'direct', `(${cell(r.reason)})`]);
  return ['', 'Network (how each host is reached):', ...table(rows, new Set())];
}

function size(i: ItemResult): string {
  if (i.status !== 'planned') return '';
  return i.archiveSize === undefined ? '?' : formatBytes(i.archiveSize);
}

function detail(i: ItemResult): string {
  switch (i.status) {
    case 'planned':
      return i.repository && i.tag ? `-> ${i.repository}:${i.tag}` : '';
    case 'present':
    case 'pushed':
      return `${i.reference ?? `${i.repository}:${i.tag}`}${i.via === 'journal' ? ' (journal)' : i.reason ? ` (${i.reason})` : ''}`;
    default:
      return i.reason ?? '';
  }
}
