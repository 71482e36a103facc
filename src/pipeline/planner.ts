/**
 * Planning a sync (or an export): read every source's index, select versions, decide per
 * target what is excluded, invalid, already confirmed by the journal, or still to do. Pure
 * data comes out (plan.ts); nothing is written anywhere.
 */
import PQueue from 'p-queue';
import { ConfigError } from '../errors.js';
import type { MirrorConfig, TargetConfig } from '../config/load.js';
import { isValidTag, NAME_COMPONENT, tagForVersion } from '../oci/reference.js';
import type { RunContext } from './context.js';
import { loadIndex, loadOciSource, type ListedVersion, type LoadedSource } from './discover.js';
import type { ItemResult, PlanGroup } from './events.js';
import { IndexCache } from './index-cache.js';
import { Journal } from './journal.js';
import { configHash, journalStillValid, newPlan, type Plan, type PlanDestination, type PlanJob } from './plan.js';
import { describeOciChart } from './oci-chart.js';
import { ImageScheduler, IMAGES_SOURCE, type ImageDestinations } from './image-jobs.js';
import type { Materializer } from './materialize.js';
import { imageSize } from '../images/size.js';
import { RegistryRepository } from '../content/registry.js';
import type { RegistryClient } from '../registry/client.js';
import type { RetryPolicy } from '../http/retry.js';
import { errorMessage } from '../errors.js';
import { isSemver2, Selector } from './selection.js';
import { ownsChart, ownsExtraImage, type Shard } from './shard.js';

export interface PlanOptions {
  /** State directory (journal, index cache). Default: the config's. */
  stateDir?: string;
  /** Keep journal-confirmed versions as work, to be checked with one HEAD each. */
  verifyRemote?: boolean;
  /** List every destination repository's tags, so the plan can say what is there already. */
  inspectTargets?: boolean;
  /** Look up archive sizes (a HEAD each, or stat) for what is to be pushed. */
  sizes?: boolean;
  /** Look-ups in flight. Default: the config's concurrency. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Replace the config's targets (export: one staging layout); every source then goes to them all. */
  targets?: TargetConfig[];
  /** Journal to read instead of the state directory's (export reads none). */
  journal?: Journal;
  /**
   * Images on: where they land; and, to show them in a plan before anything runs, how to read
   * each chart to find them (`discover`: charts are then downloaded and verified while planning).
   */
  imageJobs?: { destinations: ImageDestinations; extra: readonly string[]; discover?: Materializer };
  /** Sizes of image jobs: how to reach their registries. */
  imageSizes?: { client: (registry: string) => RegistryClient; platforms: 'all' | readonly string[]; retry: RetryPolicy };
  /** Plan only this shard's part: the charts whose (source, chart) hash falls in it. */
  shard?: Shard;
}

export interface PlannedRun {
  plan: Plan;
  /** Keep the indexes just read for the next run's conditional fetch (runs that write only). */
  rememberIndexes(): Promise<void>;
}

function repositoryFor(template: string, source: string, chart: string): string {
  return template.replaceAll('{source}', source).replaceAll('{chart}', chart);
}

/** The journal key of one chart version at one destination (unchanged since the first release). */
export function journalKey(source: string, chart: string, version: string, targetId: string, repository: string): string {
  return Journal.key({ source, chart, version, destination: `${targetId}/${repository}` });
}

/**
 * Read the indexes and make the plan. `ctx` must hold the sources' repositories; the targets
 * are opened here, after every index has been read (nothing is created before the plan stands).
 */
export async function planSync(cfg: MirrorConfig, ctx: RunContext, opts: PlanOptions = {}): Promise<PlannedRun> {
  const targets = opts.targets ?? cfg.targets;
  const sources = opts.targets ? cfg.sources.map((s) => ({ ...s, targets: targets.map((t) => t.name) })) : cfg.sources;
  const stateDir = opts.stateDir ?? cfg.stateDir;
  const journal = opts.journal ?? (await Journal.open(stateDir, { readOnly: true }));
  try {
    const cache = new IndexCache(stateDir);
    const indexes = await Promise.all(
      sources.map((s) =>
        s.kind === 'oci'
          ? loadOciSource(s, ctx.ociSources.get(s.name)!, selectorFor(cfg, s.name, s.selection), opts.signal, (chart) => ownsChart(opts.shard, s.name, chart))
          : loadIndex(s, ctx.repositories.get(s.name)!, cache, opts.signal),
      ),
    );
    await ctx.openTargets(targets);
    const plan = buildPlan(cfg, targets, indexes, ctx, journal, opts.verifyRemote ?? false, opts.shard);
    const concurrency = opts.concurrency ?? cfg.concurrency;
    if (opts.imageJobs) await planImages(plan, opts.imageJobs, targets.map((t) => t.name), ctx, journal, opts.verifyRemote ?? false, concurrency, opts.signal, opts.shard);
    if (opts.inspectTargets) await inspectTargets(plan, ctx, concurrency, opts.signal);
    if (opts.sizes) await lookUpSizes(plan, ctx, concurrency, opts.signal, opts.imageSizes);
    return {
      plan,
      async rememberIndexes() {
        for (const i of indexes) {
          await i.remember?.();
          i.remember = undefined; // it holds the index body
        }
      },
    };
  } finally {
    if (!opts.journal) await journal.close();
  }
}

function selectorFor(cfg: MirrorConfig, name: string, selection: MirrorConfig['sources'][number]['selection']): Selector {
  return new Selector(selection, `sources[${cfg.sources.findIndex((s) => s.name === name)}]`);
}

function buildPlan(cfg: MirrorConfig, targets: TargetConfig[], indexes: LoadedSource[], ctx: RunContext, journal: Journal, verifyRemote: boolean, shard?: Shard): Plan {
  const plan = newPlan({ configHash: configHash(cfg), config: cfg.file, targets: targets.map((t) => t.name) });
  if (shard) plan.shard = shard;
  const targetByName = new Map(targets.map((t) => [t.name, t]));
  const claims = new Map<string, string>();
  const groups = new Map<string, PlanGroup>();
  const group = (source: string, target: string) => groups.get(`${source}\u0000${target}`)!;

  for (const idx of indexes) {
    const { source } = idx;
    const bound = source.targets.map((n) => ({ config: targetByName.get(n)!, binding: ctx.targets.get(n)! }));
    const selector = selectorFor(cfg, source.name, source.selection);
    const base = (chart: string, version: string) => ({ source: source.name, chart, version });
    const settle = (r: ItemResult) => plan.settled.push(r);
    for (const b of bound) {
      groups.set(`${source.name}\u0000${b.config.name}`, { source: source.name, target: b.config.name, pending: 0, present: 0, failed: 0, excluded: 0 });
    }
    const warnings = [...idx.warnings];
    // Another shard's charts are not this run's business: not counted, not reported.
    const mine = (chart: string) => ownsChart(shard, source.name, chart);
    let others = 0;

    for (const p of idx.problems) {
      if (!mine(p.chart)) {
        others++;
        continue;
      }
      for (const b of bound) {
        group(source.name, b.config.name).failed++;
        settle({ ...base(p.chart, p.version), target: b.config.name, status: 'failed', code: 'INDEX', reason: p.reason });
      }
    }

    for (const x of idx.excluded) {
      if (!mine(x.chart)) {
        others++;
        continue;
      }
      for (const b of bound) {
        group(source.name, b.config.name).excluded++;
        settle({ ...base(x.chart, x.version), target: b.config.name, status: 'excluded', reason: x.reason });
      }
    }

    const byChart = new Map<string, ListedVersion[]>();
    for (const e of idx.versions) {
      if (!mine(e.chart)) {
        others++;
        continue;
      }
      const list = byChart.get(e.chart) ?? [];
      list.push(e);
      byChart.set(e.chart, list);
    }
    warnings.push(...selector.unmatched(idx.charts, `source ${source.name}`, idx.inWhat));

    let selectedCount = 0;
    let excludedCount = 0;
    for (const [chart, entries] of byChart) {
      const decisions = selector.versionDecisions(chart, entries, idx.createdIn);
      // `+` becomes `_` in tags: two versions landing on one tag would overwrite each other.
      const tagOwners = new Map<string, string[]>();
      for (const e of entries) {
        const t = tagForVersion(e.version);
        tagOwners.set(t, [...(tagOwners.get(t) ?? []), e.version]);
      }
      entries.forEach((entry, i) => {
        const d = decisions[i]!;
        if (!d.selected) {
          excludedCount++;
          for (const b of bound) {
            group(source.name, b.config.name).excluded++;
            settle({ ...base(chart, entry.version), target: b.config.name, status: 'excluded', reason: d.reason });
          }
          return;
        }
        selectedCount++;
        const tag = tagForVersion(entry.version);
        let invalid: string | undefined;
        if (!NAME_COMPONENT.test(chart)) {
          invalid = `chart name "${chart}" is not a valid OCI repository name (lowercase letters, digits, . _ -); Helm cannot push it either`;
        } else if (!isValidTag(tag)) {
          invalid = `version "${entry.version}" cannot be an OCI tag`;
        } else if ((tagOwners.get(tag)?.length ?? 0) > 1) {
          invalid = `tag conflict: versions ${tagOwners.get(tag)!.join(' and ')} both map to tag ${tag}`;
        }
        const jobWarnings: string[] = [];
        if (!invalid && !isSemver2(entry.version)) {
          jobWarnings.push(`version "${entry.version}" is not SemVer 2: helm pull must name it exactly (ranges cannot see it)`);
        }
        const url = entry.origin.url;
        const destinations: PlanDestination[] = [];
        for (const b of bound) {
          const repository = repositoryFor(b.config.repository, source.name, chart);
          if (invalid) {
            group(source.name, b.config.name).failed++;
            settle({ ...base(chart, entry.version), target: b.config.name, status: 'failed', code: 'CHART', reason: invalid });
            continue;
          }
          const claimKey = `${b.binding.id}\u0000${repository}`;
          const owner = claims.get(claimKey);
          if (owner && owner !== source.name) {
            throw new ConfigError(
              `targets.${b.config.name}: sources "${owner}" and "${source.name}" both map chart "${chart}" to ${repository}; add {source} to targets[].repository or use sources[].targets`,
            );
          }
          claims.set(claimKey, source.name);
          const journaled = journal.get(journalKey(source.name, chart, entry.version, b.binding.id, repository));
          const trusted = journaled && journalStillValid(entry.origin, journaled);
          if (trusted && !verifyRemote) {
            group(source.name, b.config.name).present++;
            settle({
              ...base(chart, entry.version),
              target: b.config.name,
              status: 'present',
              via: 'journal',
              digest: journaled.digest,
              repository,
              tag: journaled.tag ?? tag,
              reference: b.binding.reference(repository, journaled.tag ?? tag, journaled.digest),
              url,
            });
            continue;
          }
          group(source.name, b.config.name).pending++;
          destinations.push({
            target: b.config.name,
            repository,
            tag,
            ...(trusted ? { journaled: { digest: journaled.digest, ...(journaled.archive ? { archive: journaled.archive } : {}) } } : {}),
          });
        }
        if (destinations.length) {
          const job: PlanJob = { source: source.name, chart, version: entry.version, origin: entry.origin, destinations };
          if (jobWarnings.length) job.warnings = jobWarnings;
          plan.jobs.push(job);
        }
      });
    }
    plan.sources.push({
      name: source.name,
      versions: idx.versions.length + idx.problems.length + idx.excluded.length - others,
      selected: selectedCount,
      excluded: excludedCount,
      notModified: idx.notModified,
      seconds: idx.seconds,
      ...(source.kind === 'oci' ? { listedIn: 'registry' as const } : {}),
      warnings,
    });
  }
  plan.groups = [...groups.values()];
  return plan;
}

/**
 * Image jobs in the plan: images.extra always; with `discover`, also every image the charts use
 * (pending charts are read; confirmed ones say what the journal recorded). Journal-confirmed
 * image destinations are settled like charts'.
 */
async function planImages(
  plan: Plan,
  images: NonNullable<PlanOptions['imageJobs']>,
  targets: string[],
  ctx: RunContext,
  journal: Journal,
  verifyRemote: boolean,
  concurrency: number,
  signal: AbortSignal | undefined,
  shard: Shard | undefined,
): Promise<void> {
  const jobs: PlanJob[] = [];
  const scheduler = new ImageScheduler(images.destinations, (job) => jobs.push(job), (r) => plan.settled.push(r));
  scheduler.extra(images.extra.filter((ref) => ownsExtraImage(shard, ref)), targets);
  if (images.discover) {
    const discover = images.discover;
    const queue = new PQueue({ concurrency });
    await Promise.all(
      plan.jobs.map((job) =>
        queue.add(async () => {
          const content = await discover(job, signal).catch((e: unknown) => {
            (job.warnings ??= []).push(`images: cannot read the chart to find them (${errorMessage(e)})`);
            return undefined;
          });
          content?.release?.();
          if (content?.images) scheduler.found(job, content.images, job.destinations.map((d) => d.target));
        }),
      ),
    );
    for (const r of plan.settled) {
      if (r.kind === 'image' || r.status !== 'present' || r.via !== 'journal' || !r.repository) continue;
      const binding = ctx.targets.get(r.target);
      const entry = binding && journal.get(journalKey(r.source, r.chart, r.version, binding.id, r.repository));
      if (entry?.images) scheduler.found(r, entry.images.map((image) => ({ image, methods: ['journal'] })), [r.target]);
    }
  }
  for (const job of jobs) {
    const left: PlanDestination[] = [];
    for (const d of job.destinations) {
      const binding = ctx.targets.get(d.target)!;
      const entry = journal.get(journalKey(job.source, job.chart, job.version, binding.id, d.repository));
      if (entry && journalStillValid(job.origin, entry) && !verifyRemote) {
        plan.settled.push({ source: job.source, chart: job.chart, version: job.version, target: d.target, status: 'present', via: 'journal', digest: entry.digest, repository: d.repository, tag: d.tag, reference: binding.reference(d.repository, d.tag, entry.digest), url: job.origin.url, kind: 'image' });
        continue;
      }
      left.push(d);
    }
    if (left.length) plan.jobs.push({ ...job, destinations: left });
  }
  const byTarget = new Map<string, PlanGroup>();
  for (const target of targets) byTarget.set(target, { source: IMAGES_SOURCE, target, pending: 0, present: 0, failed: 0, excluded: 0 });
  for (const r of plan.settled) if (r.source === IMAGES_SOURCE) byTarget.get(r.target)![r.status === 'present' ? 'present' : 'failed']++;
  for (const j of plan.jobs) if (j.source === IMAGES_SOURCE) for (const d of j.destinations) byTarget.get(d.target)!.pending++;
  if ([...byTarget.values()].some((g) => g.pending + g.present + g.failed)) {
    plan.groups.push(...byTarget.values());
    plan.sources.push({ name: IMAGES_SOURCE, versions: 0, selected: 0, excluded: 0, notModified: false, warnings: [] });
  }
}

/** One tag listing per destination repository; a failed listing says nothing. */
async function inspectTargets(plan: Plan, ctx: RunContext, concurrency: number, signal?: AbortSignal): Promise<void> {
  const lists = new Map<string, Promise<Set<string> | undefined>>();
  const queue = new PQueue({ concurrency });
  const tasks: Promise<void>[] = [];
  for (const j of plan.jobs) {
    for (const d of j.destinations) {
      const binding = ctx.targets.get(d.target)!;
      const k = `${binding.id}\u0000${d.repository}`;
      let list = lists.get(k);
      if (!list) {
        list = queue.add(async () => new Set(await binding.store(d.repository).tags(signal)), { throwOnTimeout: true }).catch(() => undefined);
        lists.set(k, list);
      }
      tasks.push(list.then((tags) => {
        if (tags) d.tagged = tags.has(d.tag);
      }));
    }
  }
  await Promise.all(tasks);
}

/**
 * One size look-up per chart version, shared by its targets: a HEAD (or stat for file://) for a
 * classic archive; the manifest for an oci:// chart (its chart layer's size, and its digest).
 */
async function lookUpSizes(
  plan: Plan,
  ctx: RunContext,
  concurrency: number,
  signal?: AbortSignal,
  images?: { client: (registry: string) => RegistryClient; platforms: 'all' | readonly string[]; retry: RetryPolicy },
): Promise<void> {
  const queue = new PQueue({ concurrency });
  await Promise.all(
    plan.jobs.map((j) =>
      queue.add(async () => {
        const o = j.origin;
        // Only what the plan would push: a tag already there needs no archive.
        if (j.destinations.every((d) => d.tagged)) return;
        if (o.kind === 'index' && o.url) {
          const size = await ctx.repositories.get(j.source)!.archiveSize(o.url, signal).catch(() => ({ bytes: undefined, missing: undefined }));
          if (size.bytes !== undefined) o.size = size.bytes;
          if (size.missing) o.missing = size.missing;
        } else if (o.kind === 'image' && images) {
          const client = images.client(o.registry);
          const store = new RegistryRepository(client, o.repository, { retry: images.retry, mount: false });
          const s = await imageSize(store, o.digest ?? o.tag ?? 'latest', images.platforms, signal).catch(() => undefined);
          if (s) o.size = s.bytes;
        } else if (o.kind === 'oci' && o.size === undefined) {
          const d = await describeOciChart(ctx.ociSources.get(j.source)!.store(j.chart), o.tag, { signal }).catch(() => undefined);
          if (d) o.digest = d.digest; // the plan names exactly what it saw
          if (d?.chartSize !== undefined) o.size = d.chartSize;
        }
      }),
    ),
  );
}
