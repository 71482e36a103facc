import type { ItemResult } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';
import { publicUrl } from '../http/redact-url.js';
import { sortItems } from './summary.js';

export interface MapEntry {
  source: string;
  chart: string;
  version: string;
  target: string;
  /** The chart archive URL in the source (no credentials, no query). */
  url: string;
  /** Where the same chart is now, pinned: oci://host/repo@sha256:… (oci-layout://… for layouts). */
  reference: string;
  /** The same, by tag: oci://host/repo:tag. */
  tagReference: string;
  digest: string;
  /** Signatures, SBOMs and attestations copied with it, where they are now. */
  referrers?: string[];
}

/**
 * Every mirrored chart version (pushed, or present with a known digest) with its old chart
 * URL and its new OCI reference, so users can rewrite what points at the old repository.
 */
export function mapEntries(result: RunResult): MapEntry[] {
  return sortItems(result.items).flatMap((i) => {
    if ((i.status !== 'pushed' && i.status !== 'present') || !i.digest || !i.url || !i.reference) return [];
    return [
      {
        source: i.source,
        chart: i.chart,
        version: i.version,
        target: i.target,
        url: publicUrl(i.url),
        reference: i.reference,
        tagReference: tagReference(i),
        digest: i.digest,
        ...(i.referrers?.length ? { referrers: i.referrers.map((r) => r.reference ?? r.digest) } : {}),
      },
    ];
  });
}

function tagReference(i: ItemResult): string {
  const at = i.reference!.lastIndexOf('@');
  const base = at > 0 ? i.reference!.slice(0, at) : i.reference!;
  if (!i.tag) return base;
  return i.tag.startsWith('sha256:') ? `${base}@${i.tag}` : `${base}:${i.tag}`;
}

/** `--map FILE`: JSON, or CSV when the file name ends in .csv. */
export function mapReport(result: RunResult, format: 'json' | 'csv'): string {
  const entries = mapEntries(result);
  if (format === 'json') return JSON.stringify({ schemaVersion: 1, generatedAt: result.finishedAt.toISOString(), entries }, null, 2) + '\n';
  const cols = ['source', 'chart', 'version', 'target', 'url', 'reference', 'tagReference', 'digest'] as const;
  const lines = [[...cols, 'referrers'].join(',')];
  for (const e of entries) lines.push([...cols.map((c) => csvField(e[c])), csvField((e.referrers ?? []).join(' '))].join(','));
  return lines.join('\r\n') + '\r\n';
}

/** RFC 4180: quote fields holding a comma, quote or line break; double the quotes. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function mapFormat(file: string): 'json' | 'csv' {
  return /\.csv$/i.test(file) ? 'csv' : 'json';
}
