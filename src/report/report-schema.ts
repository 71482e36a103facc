import { z } from 'zod';

/**
 * The JSON report (`--report FILE`), schemaVersion 1. This is the contract: the committed
 * schema/report.schema.json is generated from it (a test keeps the two equal) and every
 * report is built as this type. Within one schemaVersion fields are only ever added, never
 * removed or changed in meaning; readers should ignore fields they do not know.
 */

const count = z.number().int().nonnegative();
const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/);

export const ItemStatusSchema = z
  .enum(['pushed', 'present', 'failed', 'excluded', 'planned'])
  .describe(
    'pushed: uploaded by this run; present: the target already holds this tag (with the same manifest digest unless a dry run only saw the tag); failed: see reason and code; excluded: left out by the selection, see reason; planned: a dry run would push it.',
  );

export const ReportItemSchema = z
  .object({
    source: z.string().describe('Source name from the config.'),
    chart: z.string(),
    version: z.string().describe('The chart version as the index lists it (may contain +).'),
    target: z.string().describe('Target name from the config.'),
    status: ItemStatusSchema,
    digest: digest.nullable().describe('Manifest digest when known (pushed, present), else null.'),
    reason: z.string().nullable().describe('One human line: why it failed or was excluded, or a note; else null.'),
    code: z
      .string()
      .optional()
      .describe('Error code of a failure: INDEX, DOWNLOAD, DIGEST, CHART, PROVENANCE, REGISTRY, AUTH, TLS, NETWORK, CONFLICT, LAYOUT, MANIFEST, NOT_FOUND, ABORTED, INTERNAL.'),
    repository: z.string().optional().describe('Repository path in the target, e.g. mirror/nginx.'),
    tag: z.string().optional().describe('The tag: the version with + replaced by _.'),
    reference: z.string().optional().describe('Where it lives: oci://host/repo@sha256:… (or :tag when the digest is not known), oci-layout://… for layouts.'),
    url: z.string().optional().describe('Where the chart came from: the archive URL in the source without credentials or query, or oci://host/repo@sha256:… for an oci:// source.'),
    provenance: z.enum(['ignored', 'absent', 'checked', 'verified']).optional(),
    via: z.enum(['journal', 'target']).optional().describe('For present: whether the journal or the target said so.'),
    bytesUploaded: count.optional().describe('Bytes this run sent to the target for this item.'),
    archiveSize: count.optional().describe('Size of the source archive in bytes, when known.'),
    warnings: z.array(z.string()).optional(),
    referrers: z
      .array(
        z.object({
          digest,
          artifactType: z.string().optional().describe('What it is: the referrer\'s artifactType or config media type, or "cosign sig|att|sbom".'),
          tag: z.string().optional().describe('cosign-style referrers keep their tag, sha256-<hex>.sig.'),
          reference: z.string().optional().describe('Where it is now: oci://host/repo@sha256:…'),
        }),
      )
      .optional()
      .describe('Signatures, SBOMs and attestations of the chart copied with it (oci:// sources).'),
    kind: z.literal('image').optional().describe('"image" for a container image (source "images"; chart = its registry/repository; version = its tag or digest); absent for a chart.'),
    usedBy: z.array(z.string()).optional().describe('Images: the chart versions that use it, as source/chart@version.'),
    methods: z.array(z.string()).optional().describe('Images: how it was found (annotation …, lock, values, render, extra, journal).'),
    sourceDigest: digest.optional().describe('Images: the digest at the source, when a platform subset made a new index (digest is then the new one).'),
    images: z
      .array(
        z.object({
          image: z.string(),
          methods: z.array(z.string()),
          status: ItemStatusSchema.optional(),
          reason: z.string().optional(),
        }),
      )
      .optional()
      .describe('Charts: the images it uses and what became of each at this target.'),
  })
  .describe('One chart version (or container image) at one target.');

export const CountsSchema = z.object({
  pushed: count,
  present: count,
  failed: count,
  excluded: count,
  planned: count,
  bytesUploaded: count.describe('Bytes sent to targets by this run.'),
  bytesPlanned: count.describe('Archive bytes of planned items whose size is known (dry runs).'),
});

export const ShardSchema = z.object({ index: count.describe('0-based'), count: z.number().int().positive() });

export const ReportSchema = z
  .object({
    schemaVersion: z.literal(1),
    tool: z.object({ name: z.literal('chartmirror'), version: z.string() }),
    command: z.string().describe('The command that ran: sync, plan, …'),
    dryRun: z.boolean(),
    interrupted: z.boolean().describe('Stopped by SIGINT/SIGTERM; items not started are failed with code ABORTED.'),
    startedAt: z.string().describe('RFC 3339 time, UTC.'),
    finishedAt: z.string().describe('RFC 3339 time, UTC.'),
    durationMs: count,
    shard: ShardSchema.optional().describe('The part of the work this run did (--shard i/n); absent when not sharded.'),
    merged: z
      .object({
        reports: count.describe('How many reports were merged.'),
        shards: z.array(ShardSchema).describe('The shards of the merged reports, in order.'),
      })
      .optional()
      .describe('Set by chartmirror report merge: this report joins several (shard) reports.'),
    summary: CountsSchema.describe('Counts over all items.'),
    groups: z.array(CountsSchema.extend({ source: z.string(), target: z.string() })).describe('Counts per source and target.'),
    items: z.array(ReportItemSchema).describe('One entry per chart version and target, ordered by source, chart, version, target.'),
  })
  .describe('chartmirror run report (--report FILE)');

export type Report = z.infer<typeof ReportSchema>;
export type ReportItem = z.infer<typeof ReportItemSchema>;

/** The JSON Schema committed as schema/report.schema.json. */
export function reportJsonSchema(): unknown {
  const schema = z.toJSONSchema(ReportSchema, { io: 'output' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://chartmirror.dev/schema/report.schema.json',
    title: 'chartmirror report (--report FILE), schemaVersion 1',
  };
}
