import type { RunResult } from '../pipeline/run.js';
import { VERSION } from '../version.js';
import { formatBytes, formatDuration, groupSummaries, sortItems, summarise, type Summary } from './summary.js';
import { stripControl } from './text.js';

/** A table cell: one line, pipes escaped, no HTML (the file is often rendered in a CI page). */
function md(text: string): string {
  return stripControl(text)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/`/g, "'");
}

/**
 * `--report-md FILE`: for a CI summary page or a ticket. A summary per source and target,
 * totals, every failure with its reason, and the warnings.
 */
export function markdownReport(command: string, result: RunResult): string {
  const took = formatDuration(result.finishedAt.getTime() - result.startedAt.getTime());
  const total = summarise(result.items);
  const groups = groupSummaries(result.items);
  const dry = result.dryRun;
  const out: string[] = [];
  out.push(`# chartmirror ${md(command)}${dry ? ' (dry run)' : ''}`, '');
  out.push(
    `Started ${result.startedAt.toISOString()}, took ${took}, chartmirror ${VERSION}.` +
      (result.interrupted ? ' **Interrupted**: versions not started are failed as ABORTED.' : '') +
      (dry ? ' Nothing was written.' : ''),
    '',
  );
  const head = dry
    ? ['source', 'target', 'to push', 'bytes to push', 'present', 'excluded', 'failed']
    : ['source', 'target', 'pushed', 'present', 'failed', 'excluded', 'uploaded'];
  const row = (source: string, target: string, s: Summary) =>
    dry
      ? [source, target, String(s.planned), formatBytes(s.bytesPlanned), String(s.present), String(s.excluded), String(s.failed)]
      : [source, target, String(s.pushed), String(s.present), String(s.failed), String(s.excluded), formatBytes(s.bytesUploaded)];
  out.push('## Summary', '');
  out.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const g of groups) out.push(`| ${row(md(g.source), md(g.target), g).join(' | ')} |`);
  out.push(`| ${row('**total**', '', total).map((c, i) => (i >= 2 ? `**${c}**` : c)).join(' | ')} |`, '');

  const failures = sortItems(result.items.filter((i) => i.status === 'failed'));
  out.push(`## Failures (${failures.length})`, '');
  if (failures.length === 0) out.push('None.', '');
  else {
    out.push('| source | target | chart | version | code | reason |', '| --- | --- | --- | --- | --- | --- |');
    for (const f of failures) {
      out.push(`| ${[f.source, f.target, f.chart, f.version, f.code ?? '', f.reason ?? ''].map(md).join(' | ')} |`);
    }
    out.push('');
  }

  const warned = sortItems(result.items.filter((i) => i.warnings?.length));
  if (warned.length > 0) {
    out.push(`## Warnings (${warned.length})`, '');
    for (const w of warned) {
      out.push(`- ${md(`${w.source} ${w.chart} ${w.version} -> ${w.target}`)}: ${w.warnings!.map(md).join('; ')}`);
    }
    out.push('');
  }

  if (!dry) {
    const pushed = sortItems(result.items.filter((i) => i.status === 'pushed'));
    if (pushed.length > 0) {
      out.push(`## Pushed (${pushed.length})`, '');
      out.push('| source | target | chart | version | reference |', '| --- | --- | --- | --- | --- |');
      for (const p of pushed) out.push(`| ${[p.source, p.target, p.chart, p.version, p.reference ?? ''].map(md).join(' | ')} |`);
      out.push('');
    }
  }
  return out.join('\n');
}
