import { formatBytes } from '../report/summary.js';
import type { BundleListing } from './format.js';
import { describeBundle, openBundle, verifyBundle } from './read.js';

export interface Inspection {
  path: string;
  kind: 'tar' | 'dir';
  files: string[];
  /** No chartmirror listing: derived from index.json. */
  derived: boolean;
  listing: BundleListing;
  problems: string[];
  /** With --verify: chart versions import refuses (intact, but Helm cannot load them or sync would not push them). */
  refused: string[];
  warnings: string[];
  /** Whether every blob was checked (--verify). */
  verified: boolean;
}

/** Read a bundle's listing (and with `verify`, check every blob against its digest and every chart archive as import does). */
export async function inspectBundle(path: string, opts: { verify: boolean }): Promise<Inspection> {
  const layout = await openBundle(path);
  try {
    const d = await describeBundle(layout);
    const problems = [...d.problems];
    const refused: string[] = [];
    if (opts.verify && d.manifests.length) {
      const v = await verifyBundle(layout, d);
      problems.push(...v.problems);
      refused.push(...v.refused);
    }
    return {
      path: layout.path,
      kind: layout.files.kind,
      files: layout.files.files,
      derived: d.derived,
      listing: d.listing,
      problems,
      refused,
      warnings: d.warnings,
      verified: opts.verify,
    };
  } finally {
    await layout.close();
  }
}

/** The listing as a table, under one line that says what the bundle is. */
export function formatInspection(i: Inspection): string {
  const l = i.listing;
  const parts = i.kind === 'tar' && i.files.length > 1 ? ` in ${i.files.length} parts` : '';
  const head = [
    `${i.path}: ${i.derived ? 'OCI layout without a chartmirror listing (derived from index.json)' : 'chartmirror bundle'}${parts}`,
    `${l.totals.charts} chart version${l.totals.charts === 1 ? '' : 's'}, ${l.totals.blobs} blobs, ${formatBytes(l.totals.bytes)}`,
  ];
  if (l.incremental) head.push(`incremental: ${l.incremental.leftOut} selected version${l.incremental.leftOut === 1 ? '' : 's'} left out as already on the far side`);
  const lines = [head.join('; ')];
  const rows = [
    ['CHART', 'VERSION', 'TAG', 'PROVENANCE', 'DIGEST', 'SOURCE', 'URL'],
    ...l.charts.map((c) => [c.chart, c.version, c.tag, c.provenance ?? '-', c.digest, c.source, c.url ?? '-']),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const r of rows) lines.push(r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ').trimEnd());
  if (l.images?.length) {
    lines.push(`${l.images.length} image${l.images.length === 1 ? '' : 's'}:`);
    const imageRows = [['IMAGE', 'DIGEST', 'BYTES', 'USED BY'], ...l.images.map((m) => [m.image, m.digest, formatBytes(m.bytes), (m.usedBy ?? ['(extra)']).join(' ')])];
    const w = imageRows[0]!.map((_, col) => Math.max(...imageRows.map((r) => r[col]!.length)));
    for (const r of imageRows) lines.push(r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(w[col]!))).join('  ').trimEnd());
  }
  for (const w of i.warnings) lines.push(`warning: ${w}`);
  if (i.problems.length) {
    lines.push(`DAMAGED: ${i.problems.length} problem${i.problems.length === 1 ? '' : 's'}:`);
    for (const p of i.problems) lines.push(`  ${p}`);
  } else if (i.verified) {
    lines.push(`verified: every blob matches its digest`);
  }
  if (i.refused.length) {
    lines.push(`REFUSED: ${i.refused.length} chart version${i.refused.length === 1 ? '' : 's'} import would not push:`);
    for (const r of i.refused) lines.push(`  ${r}`);
  }
  return lines.join('\n') + '\n';
}
