/**
 * The plan is a value: every job (a chart version, where its bytes come from, and per target
 * the repository and tag it lands at) and every result already settled (excluded, invalid,
 * confirmed by the journal). `chartmirror plan --output plan.json` writes it;
 * `chartmirror sync --plan plan.json` executes exactly that plan, refusing when the config it
 * was made from has changed since (the plan holds a hash of it).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../errors.js';
import type { MirrorConfig } from '../config/load.js';
import type { Descriptor } from '../oci/descriptor.js';
import { VERSION } from '../version.js';
import { publicUrl } from '../http/redact-url.js';
import { redact } from '../util/secrets.js';
import type { EventSink, ItemResult, PlanGroup } from './events.js';
import type { Shard } from './shard.js';

export const PLAN_SCHEMA_VERSION = 1;

/** A chart version listed in a classic repository's index.yaml. */
export interface IndexOrigin {
  kind: 'index';
  /** As the index lists them (relative or absolute). */
  urls: string[];
  /** The first URL, absolute: the one Helm uses. */
  url?: string;
  /** sha256 of the archive, from the index. */
  digest?: string;
  /** The index `created` value, as written. */
  created?: string;
  /** Archive size, when the plan looked it up. */
  size?: number;
  /** Why the archive seems to be missing (a HEAD 404), when the plan looked. */
  missing?: string;
}

/** A chart version in an OCI registry: a tag of `<path>/<chart>`, copied by digest. */
export interface OciOrigin {
  kind: 'oci';
  /** `host[:port]` as the source's URL writes it. */
  registry: string;
  /** The chart's repository in the registry. */
  repository: string;
  tag: string;
  /** `oci://registry/repository:tag`. */
  url: string;
  /** The manifest digest, when the plan looked (since/until, sizes); the copy then takes exactly it. */
  digest?: string;
  /** The chart layer's size, when the plan looked. */
  size?: number;
}

/** A container image a chart uses (or images.extra names), copied from its registry. */
export interface ImageOrigin {
  kind: 'image';
  /** The normalized reference: `docker.io/library/nginx:1.25` (the map's old reference). */
  url: string;
  registry: string;
  repository: string;
  tag?: string;
  /** The digest the reference pins, or the one the plan resolved. */
  digest?: string;
  /** Bytes of the image (selected platforms), when the plan looked. */
  size?: number;
  /** Chart versions that use it (`source/chart@version`), and how they were found to. */
  usedBy?: string[];
  methods?: string[];
}

/** A chart version already packed as an OCI manifest in a bundle. */
export interface BundleOrigin {
  kind: 'bundle';
  manifest: Descriptor;
  archiveDigest?: string;
  url?: string;
  provenance?: ItemResult['provenance'];
  archiveSize?: number;
  /** The chart's referrers in the bundle, copied after it. */
  referrers?: { descriptor: Descriptor; tag?: string; artifactType?: string }[];
}

export interface PlanDestination {
  target: string;
  repository: string;
  tag: string;
  /** The journal confirmed it (kept as work only with --verify-remote, which checks with one HEAD). */
  journaled?: { digest: string; archive?: string };
  /** Whether the target listed the tag when the plan was made (absent: not asked). */
  tagged?: boolean;
}

export interface PlanJob {
  source: string;
  chart: string;
  version: string;
  origin: JobOrigin;
  warnings?: string[];
  destinations: PlanDestination[];
}

export type JobOrigin = IndexOrigin | OciOrigin | ImageOrigin | BundleOrigin;

/**
 * Whether a journal entry still describes a job: a republished archive (another digest in the
 * index), a moved tag (another manifest digest, when known) or another bundle manifest is done again.
 */
export function journalStillValid(origin: JobOrigin, entry: { digest: string; archive?: string }): boolean {
  if (origin.kind === 'bundle') return entry.digest === origin.manifest.digest;
  if (origin.kind === 'oci' || origin.kind === 'image') return !origin.digest || entry.digest === origin.digest;
  return !origin.digest || !entry.archive || entry.archive === origin.digest;
}

export interface PlanSource {
  name: string;
  /** Versions in the index (problems included), selected, excluded. */
  versions: number;
  selected: number;
  excluded: number;
  notModified: boolean;
  /** Where the versions were listed (absent: an index). */
  listedIn?: 'index' | 'registry';
  /** How long reading the listing took, in the run that made the plan (not written to plan files). */
  seconds?: number;
  /** Things worth saying about the source (unknown index keys, include globs that match nothing). */
  warnings: string[];
}

export interface Plan {
  schemaVersion: typeof PLAN_SCHEMA_VERSION;
  kind: 'chartmirror-plan';
  tool: { name: 'chartmirror'; version: string };
  createdAt: string;
  /** sha256 of the config the plan was made from, secrets left out; absent for imports. */
  configHash?: string;
  /** The config file, for messages. */
  config?: string;
  /** The part of the work this plan covers, when the run is sharded (--shard i/n). */
  shard?: Shard;
  sources: PlanSource[];
  targets: string[];
  /** Counts per source and target, in config order. */
  groups: PlanGroup[];
  /** Results known without doing anything: excluded, invalid, journal-confirmed. */
  settled: ItemResult[];
  jobs: PlanJob[];
}

/** The config as the plan's fingerprint: everything that decides what goes where, no secrets. */
export function configHash(cfg: MirrorConfig): string {
  const SECRET = new Set(['password', 'token', 'identityToken']);
  // How hosts are reached (proxies) decides nothing about what goes where.
  const text = JSON.stringify({ ...cfg, file: undefined, dir: undefined }, (k, v) => (k === 'proxy' ? undefined : SECRET.has(k) && typeof v === 'string' ? '(secret)' : v));
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** Destinations still to decide or push, over all jobs. */
export function pendingCount(plan: Plan): number {
  return plan.jobs.reduce((n, j) => n + j.destinations.length, 0);
}

/** What a plan says before anything runs: warnings, settled items and counts, as events. */
export function emitPlan(plan: Plan, emit: EventSink): void {
  for (const s of plan.sources) {
    for (const message of s.warnings) emit({ type: 'warning', message });
    for (const r of plan.settled) if (r.source === s.name) emit({ type: 'item', result: r });
    emit({
      type: 'source-indexed',
      source: s.name,
      versions: s.versions,
      selected: s.selected,
      excluded: s.excluded,
      notModified: s.notModified,
      ...(s.listedIn ? { listedIn: s.listedIn } : {}),
      ...(s.seconds !== undefined ? { seconds: s.seconds } : {}),
    });
  }
  const known = new Set(plan.sources.map((s) => s.name));
  for (const r of plan.settled) if (!known.has(r.source)) emit({ type: 'item', result: r });
  const count = (status: ItemResult['status']) => plan.settled.filter((r) => r.status === status).length;
  emit({
    type: 'plan',
    total: plan.settled.length + pendingCount(plan),
    pending: pendingCount(plan),
    present: count('present'),
    failed: count('failed'),
    excluded: count('excluded'),
    targets: plan.targets,
    groups: plan.groups,
    ...(plan.shard ? { shard: plan.shard } : {}),
  });
}

/**
 * The results a dry run reports: the settled ones, and per destination still to do either
 * "present" (the target lists the tag; digests are not compared without fetching) or "planned".
 */
export function planItems(plan: Plan, reference: (target: string, repository: string, tag: string) => string | undefined): ItemResult[] {
  const out = [...plan.settled];
  for (const j of plan.jobs) {
    const o = j.origin;
    const url = o.url;
    const image = o.kind === 'image' ? { kind: 'image' as const, ...(o.usedBy?.length ? { usedBy: o.usedBy } : {}), ...(o.methods?.length ? { methods: o.methods } : {}) } : {};
    for (const d of j.destinations) {
      const base = { source: j.source, chart: j.chart, version: j.version, target: d.target, repository: d.repository, tag: d.tag, url, ...image };
      if (d.tagged) {
        out.push({ ...base, status: 'present', via: 'target', reason: 'tag exists; digest not compared in a dry run', reference: reference(d.target, d.repository, d.tag) });
        continue;
      }
      const warnings = [...(j.warnings ?? [])];
      const size = j.origin.kind === 'bundle' ? j.origin.archiveSize : j.origin.size;
      if (j.origin.kind === 'index' && j.origin.missing) warnings.push(`the archive is not there (${j.origin.missing}): pushing it will fail`);
      out.push({ ...base, status: 'planned', archiveSize: size, warnings: warnings.length ? warnings : undefined });
    }
  }
  return out;
}

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/);
const descriptor = z.object({ mediaType: z.string(), digest, size: z.number().int().nonnegative() }).passthrough();
const provenance = z.enum(['ignored', 'absent', 'checked', 'verified']);
const item = z
  .object({
    source: z.string(),
    chart: z.string(),
    version: z.string(),
    target: z.string(),
    status: z.enum(['pushed', 'present', 'failed', 'planned', 'excluded']),
  })
  .passthrough();

const PlanSchema = z.object({
  schemaVersion: z.literal(PLAN_SCHEMA_VERSION),
  kind: z.literal('chartmirror-plan'),
  tool: z.object({ name: z.literal('chartmirror'), version: z.string() }),
  createdAt: z.string(),
  configHash: z.string().optional(),
  config: z.string().optional(),
  shard: z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive() }).optional(),
  sources: z.array(
    z.object({
      name: z.string(),
      versions: z.number().int(),
      selected: z.number().int(),
      excluded: z.number().int(),
      notModified: z.boolean(),
      listedIn: z.enum(['index', 'registry']).optional(),
      warnings: z.array(z.string()),
    }),
  ),
  targets: z.array(z.string()),
  groups: z.array(
    z.object({ source: z.string(), target: z.string(), pending: z.number(), present: z.number(), failed: z.number(), excluded: z.number() }),
  ),
  settled: z.array(item),
  jobs: z.array(
    z.object({
      source: z.string(),
      chart: z.string(),
      version: z.string(),
      origin: z.discriminatedUnion('kind', [
        z.object({
          kind: z.literal('index'),
          urls: z.array(z.string()),
          url: z.string().optional(),
          digest: digest.optional(),
          created: z.string().optional(),
          size: z.number().int().nonnegative().optional(),
          missing: z.string().optional(),
        }),
        z.object({
          kind: z.literal('oci'),
          registry: z.string(),
          repository: z.string(),
          tag: z.string(),
          url: z.string(),
          digest: digest.optional(),
          size: z.number().int().nonnegative().optional(),
        }),
        z.object({
          kind: z.literal('image'),
          url: z.string(),
          registry: z.string(),
          repository: z.string(),
          tag: z.string().optional(),
          digest: digest.optional(),
          size: z.number().int().nonnegative().optional(),
          usedBy: z.array(z.string()).optional(),
          methods: z.array(z.string()).optional(),
        }),
        z.object({
          kind: z.literal('bundle'),
          manifest: descriptor,
          archiveDigest: digest.optional(),
          url: z.string().optional(),
          provenance: provenance.optional(),
          archiveSize: z.number().int().nonnegative().optional(),
          referrers: z.array(z.object({ descriptor, tag: z.string().optional(), artifactType: z.string().optional() })).optional(),
        }),
      ]),
      warnings: z.array(z.string()).optional(),
      destinations: z.array(
        z.object({
          target: z.string(),
          repository: z.string(),
          tag: z.string(),
          journaled: z.object({ digest, archive: digest.optional() }).optional(),
          tagged: z.boolean().optional(),
        }),
      ),
    }),
  ),
});

/**
 * The plan as a file: JSON, with URLs stripped of credentials and query strings (the executor
 * resolves chart URLs again from `urls` and the source's config) and every known secret
 * scrubbed, like any state or report file.
 */
export function serializePlan(plan: Plan): string {
  const out: Plan = {
    ...plan,
    // How long this process took to read each listing says nothing about a later sync --plan.
    sources: plan.sources.map(({ seconds: _, ...s }) => s),
    settled: plan.settled.map((r) => (r.url ? { ...r, url: publicUrl(r.url) } : r)),
    jobs: plan.jobs.map((j) => (j.origin.url ? { ...j, origin: { ...j.origin, url: publicUrl(j.origin.url) } } : j)),
  };
  return redact(JSON.stringify(out, null, 2)) + '\n';
}

/** Read a plan file written by `plan --output`; a ConfigError (exit 2) when it is not one. */
export function parsePlan(text: string, where: string): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${where}: not a plan file (not JSON: ${errorMessage(e)})`);
  }
  const parsed = PlanSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${where}: not a chartmirror plan (${issue.path.join('.') || '(top)'}: ${issue.message}); write one with chartmirror plan --output`);
  }
  return parsed.data as Plan;
}

/** A plan may only run against the config it was made from. */
export function checkPlanConfig(plan: Plan, cfg: MirrorConfig, where: string): void {
  const now = configHash(cfg);
  if (plan.configHash !== now) {
    throw new ConfigError(
      `${where} was made from a different config than ${cfg.file} is now (config hash ${plan.configHash ?? 'none'}, now ${now}); make a new plan with chartmirror plan --output`,
    );
  }
}

/** A fresh, empty plan. */
export function newPlan(fields: Pick<Plan, 'configHash' | 'config' | 'targets'>): Plan {
  return {
    schemaVersion: PLAN_SCHEMA_VERSION,
    kind: 'chartmirror-plan',
    tool: { name: 'chartmirror', version: VERSION },
    createdAt: new Date().toISOString(),
    ...fields,
    sources: [],
    groups: [],
    settled: [],
    jobs: [],
  };
}
