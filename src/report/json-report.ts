import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunResult } from '../pipeline/run.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import { redact } from '../util/secrets.js';
import { publicUrl } from '../http/redact-url.js';
import { VERSION } from '../version.js';
import type { Report } from './report-schema.js';
import { groupSummaries, sortItems, summarise } from './summary.js';

/** Version of the report format; bumped only on incompatible changes (schema/report.schema.json). */
export const REPORT_SCHEMA_VERSION = 1;

export function jsonReport(command: string, result: RunResult): Report {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'chartmirror', version: VERSION },
    command,
    dryRun: result.dryRun,
    interrupted: result.interrupted,
    startedAt: result.startedAt.toISOString(),
    finishedAt: result.finishedAt.toISOString(),
    durationMs: result.finishedAt.getTime() - result.startedAt.getTime(),
    ...(result.shard ? { shard: result.shard } : {}),
    ...(result.merged ? { merged: result.merged } : {}),
    summary: summarise(result.items),
    groups: groupSummaries(result.items),
    items: sortItems(result.items).map((i) => ({
      source: i.source,
      chart: i.chart,
      version: i.version,
      target: i.target,
      status: i.status,
      digest: i.digest ?? null,
      reason: i.reason ?? null,
      ...(i.code ? { code: i.code } : {}),
      ...(i.repository ? { repository: i.repository } : {}),
      ...(i.tag ? { tag: i.tag } : {}),
      ...(i.reference ? { reference: i.reference } : {}),
      ...(i.url ? { url: publicUrl(i.url) } : {}),
      ...(i.provenance ? { provenance: i.provenance } : {}),
      ...(i.via ? { via: i.via } : {}),
      ...(i.bytesUploaded !== undefined ? { bytesUploaded: i.bytesUploaded } : {}),
      ...(i.archiveSize !== undefined ? { archiveSize: i.archiveSize } : {}),
      ...(i.warnings?.length ? { warnings: i.warnings } : {}),
      ...(i.referrers?.length ? { referrers: i.referrers } : {}),
      ...(i.kind ? { kind: i.kind } : {}),
      ...(i.usedBy?.length ? { usedBy: i.usedBy } : {}),
      ...(i.methods?.length ? { methods: i.methods } : {}),
      ...(i.sourceDigest ? { sourceDigest: i.sourceDigest } : {}),
      ...(i.images?.length ? { images: i.images } : {}),
    })),
  };
}

/**
 * Write a report file atomically (a temp file renamed into place, so readers never see half
 * a report); secrets are scrubbed from the whole text on the way out.
 */
export async function writeReportFile(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, redact(content), { fsync: false });
}
