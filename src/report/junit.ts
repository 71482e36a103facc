import type { ItemResult } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';
import { groupSummaries, itemsOf } from './summary.js';

/** Text fit for XML 1.0: the five entities escaped, characters XML cannot hold dropped. */
export function xmlEscape(text: string): string {
  return (
    text
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * `--junit FILE`: JUnit XML for CI test dashboards. One testsuite per source and target, one
 * testcase per chart version (name `chart@version`, classname `source.target`); failures are
 * `<failure>` with the reason and error code; excluded versions (and, in a dry run, planned
 * ones) are `<skipped>`; pushed and present ones pass, with their reference in system-out.
 */
export function junitReport(command: string, result: RunResult): string {
  const durationMs = result.finishedAt.getTime() - result.startedAt.getTime();
  const timestamp = result.startedAt.toISOString().replace(/\.\d{3}Z$/, '');
  const groups = groupSummaries(result.items);
  const skippedOf = (g: { excluded: number; planned: number }) => g.excluded + g.planned;
  const totals = groups.reduce(
    (t, g) => ({ tests: t.tests + g.pushed + g.present + g.failed + g.excluded + g.planned, failures: t.failures + g.failed, skipped: t.skipped + skippedOf(g) }),
    { tests: 0, failures: 0, skipped: 0 },
  );
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="${xmlEscape(`chartmirror ${command}`)}" tests="${totals.tests}" failures="${totals.failures}" errors="0" skipped="${totals.skipped}" time="${seconds(durationMs)}" timestamp="${timestamp}">`,
  );
  for (const g of groups) {
    const tests = g.pushed + g.present + g.failed + g.excluded + g.planned;
    out.push(
      `  <testsuite name="${xmlEscape(`${g.source} -> ${g.target}`)}" tests="${tests}" failures="${g.failed}" errors="0" skipped="${skippedOf(g)}" time="${seconds(durationMs)}" timestamp="${timestamp}">`,
    );
    for (const i of itemsOf(result.items, g)) out.push(testcase(i));
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

function testcase(i: ItemResult): string {
  const open = `    <testcase classname="${xmlEscape(`${i.source}.${i.target}`)}" name="${xmlEscape(`${i.chart}@${i.version}`)}"`;
  switch (i.status) {
    case 'failed': {
      const reason = i.reason ?? 'failed';
      return `${open}>\n      <failure message="${xmlEscape(reason)}" type="${xmlEscape(i.code ?? 'FAILED')}">${xmlEscape(reason)}</failure>\n    </testcase>`;
    }
    case 'excluded':
      return `${open}>\n      <skipped message="${xmlEscape(`excluded: ${i.reason ?? ''}`)}"/>\n    </testcase>`;
    case 'planned':
      return `${open}>\n      <skipped message="dry run: would be pushed"/>\n    </testcase>`;
    default: {
      const note = [`${i.status}${i.via ? ` (${i.via})` : ''}${i.reference ? ` ${i.reference}` : ''}`, ...(i.warnings ?? []).map((w) => `warning: ${w}`)].join('\n');
      return `${open}>\n      <system-out>${xmlEscape(note)}</system-out>\n    </testcase>`;
    }
  }
}
