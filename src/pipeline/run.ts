import PQueue from 'p-queue';
import { ChartMirrorError, ConfigError, errorMessage, isChartMirrorError } from '../errors.js';
import type { MirrorConfig, SourceConfig } from '../config/load.js';
import { Journal, type JournalEntry } from './journal.js';
import { IndexCache } from './index-cache.js';
import { createContext, type RunContext, type TargetBinding } from './context.js';
import type { EventSink, ItemResult, PlanGroup } from './events.js';
import { parseIndex, type IndexEntry } from '../source/index-file.js';
import type { ArchiveSize, ChartRepository } from '../source/repository.js';
import { Selector, isSemver2 } from './selection.js';
import { prepareArtifact, type PreparedChart } from './prepare.js';
import { artifactContent } from '../oci/content.js';
import { tagForVersion } from '../oci/artifact.js';

export interface RunOptions {
  /** Plan only: read sources and targets, write nothing anywhere. */
  dryRun?: boolean;
  /** Chart versions in flight; overrides the config. */
  concurrency?: number;
  /** Abort in-flight work (hard stop). */
  signal?: AbortSignal;
  /** Stop taking new work (graceful stop); in-flight items finish. */
  stopSignal?: AbortSignal;
  onEvent?: EventSink;
  /** State directory; overrides the config. */
  stateDir?: string;
  /** Re-check journal-confirmed items with one HEAD each. */
  verifyRemote?: boolean;
}

export interface RunResult {
  items: ItemResult[];
  startedAt: Date;
  finishedAt: Date;
  interrupted: boolean;
  dryRun: boolean;
}

interface Destination {
  binding: TargetBinding;
  repository: string;
  tag: string;
  key: string;
  journaled?: JournalEntry;
}

interface WorkItem {
  source: SourceConfig;
  repo: ChartRepository;
  entry: IndexEntry;
  destinations: Destination[];
  warnings: string[];
}

/**
 * The whole mirror: index every source, decide what each target lacks, then fetch, verify,
 * build and push with bounded concurrency. One failing chart never stops the others; results
 * come back per chart version per target, and every one of them is also emitted as an event.
 */
export async function runMirror(cfg: MirrorConfig, opts: RunOptions = {}): Promise<RunResult> {
  const startedAt = new Date();
  const dryRun = opts.dryRun ?? false;
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const items: ItemResult[] = [];
  const record = (r: ItemResult) => {
    items.push(r);
    emit({ type: 'item', result: r });
  };
  const stateDir = opts.stateDir ?? cfg.stateDir;

  // Nothing is written (state directory, index cache, layouts) until every index has been read
  // and the plan stands: an unreachable source or a config error found while planning stops the
  // run with nothing on disk. Layouts are created by their first push.
  const ctx = await createContext(cfg, { dryRun, emit, deferTargets: true });
  let journal: Journal | undefined;
  let interrupted = false;
  try {
    journal = await Journal.open(stateDir, { readOnly: true });
    const cache = new IndexCache(stateDir);
    const indexes = await Promise.all(cfg.sources.map((s) => loadIndex(s, ctx, cache, emit, opts.signal)));
    await ctx.openTargets();
    const work = plan(cfg, ctx, indexes, journal, record, emit, opts.verifyRemote ?? false);
    if (!dryRun) await journal.openForWriting();
    for (const i of indexes) {
      if (!dryRun) await i.remember?.();
      i.remember = undefined; // it holds the index body, which the run no longer needs
    }

    const tags = new TagCache(opts.signal);
    if (dryRun) {
      await dryRunWork(work, tags, record, opts.concurrency ?? cfg.concurrency, opts.signal);
    } else {
      interrupted = await execute(work, { ctx, journal, tags, record, emit, signal: opts.signal, stopSignal: opts.stopSignal, concurrency: opts.concurrency ?? cfg.concurrency, verifyRemote: opts.verifyRemote ?? false });
    }
  } finally {
    await journal?.close();
    await ctx.close();
  }
  return { items, startedAt, finishedAt: new Date(), interrupted, dryRun };
}

interface LoadedIndex {
  source: SourceConfig;
  repo: ChartRepository;
  entries: IndexEntry[];
  problems: { chart: string; version: string; reason: string }[];
  notModified: boolean;
  /** Keep this index and its validators for the next run's conditional fetch. */
  remember?: () => Promise<void>;
}

/** Fetch (conditionally) and parse one source's index. Any failure is fatal before work starts. */
async function loadIndex(
  source: SourceConfig,
  ctx: RunContext,
  cache: IndexCache,
  emit: EventSink,
  signal?: AbortSignal,
): Promise<LoadedIndex> {
  const repo = ctx.repositories.get(source.name)!;
  const cached = repo.isLocal ? undefined : await cache.get(repo.indexUrl());
  let bytes: Buffer;
  let notModified = false;
  let remember: LoadedIndex['remember'];
  try {
    const fetched = await repo.fetchIndex(cached, signal);
    if (fetched.bytes) {
      const body = fetched.bytes;
      bytes = body;
      if (!repo.isLocal) remember = () => cache.put(fetched.url, fetched, body).catch(() => undefined);
    } else {
      bytes = cached!.bytes;
      notModified = true;
    }
  } catch (e) {
    throw new ConfigError(`sources.${source.name}: cannot read the index: ${errorMessage(e)}`, { cause: e });
  }
  let parsed;
  try {
    parsed = parseIndex(bytes, `source ${source.name}`);
  } catch (e) {
    throw new ConfigError(`sources.${source.name}: ${errorMessage(e)}`, { cause: e });
  }
  for (const w of parsed.warnings) emit({ type: 'warning', message: `source ${source.name}: ${w}` });
  return { source, repo, entries: parsed.entries, problems: parsed.problems, notModified, remember };
}

function repositoryFor(template: string, source: string, chart: string): string {
  return template.replaceAll('{source}', source).replaceAll('{chart}', chart);
}

const OCI_NAME_COMPONENT = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$/;
const OCI_TAG = /^[\w][\w.-]{0,127}$/;

/**
 * Decide per chart version and target: excluded, already confirmed (journal), invalid, or work.
 * Settled results are recorded at once; the rest is returned.
 */
function plan(
  cfg: MirrorConfig,
  ctx: RunContext,
  indexes: LoadedIndex[],
  journal: Journal,
  recordNow: (r: ItemResult) => void,
  emitNow: EventSink,
  verifyRemote: boolean,
): WorkItem[] {
  // Held back until the whole plan stands: a config error found half-way (two sources, one
  // repository) is then the only thing the user sees.
  const held: (() => void)[] = [];
  const record = (r: ItemResult) => held.push(() => recordNow(r));
  const emit: EventSink = (e) => held.push(() => emitNow(e));
  const work: WorkItem[] = [];
  const claims = new Map<string, string>();
  const groups = new Map<string, PlanGroup>();
  const group = (source: string, target: string) => groups.get(`${source}\u0000${target}`)!;
  let excluded = 0;
  let present = 0;
  let failed = 0;
  let total = 0;

  for (const idx of indexes) {
    const { source } = idx;
    const bindings = source.targets.map((n) => ctx.targets.get(n)!);
    const selector = new Selector(source.selection, `sources[${cfg.sources.indexOf(source)}]`);
    const base = (chart: string, version: string) => ({ source: source.name, chart, version });
    for (const b of bindings) {
      groups.set(`${source.name}\u0000${b.config.name}`, { source: source.name, target: b.config.name, pending: 0, present: 0, failed: 0, excluded: 0 });
    }

    for (const p of idx.problems) {
      for (const b of bindings) {
        total++;
        failed++;
        group(source.name, b.config.name).failed++;
        record({ ...base(p.chart, p.version), target: b.config.name, status: 'failed', code: 'INDEX', reason: p.reason });
      }
    }

    const byChart = new Map<string, IndexEntry[]>();
    for (const e of idx.entries) {
      const list = byChart.get(e.name) ?? [];
      list.push(e);
      byChart.set(e.name, list);
    }
    for (const message of selector.unmatched(byChart.keys(), `source ${source.name}`)) emit({ type: 'warning', message });

    let selectedCount = 0;
    let excludedCount = 0;
    for (const [chart, entries] of byChart) {
      const decisions = selector.versionDecisions(chart, entries);
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
          for (const b of bindings) {
            total++;
            excluded++;
            group(source.name, b.config.name).excluded++;
            record({ ...base(chart, entry.version), target: b.config.name, status: 'excluded', reason: d.reason });
          }
          return;
        }
        selectedCount++;
        const tag = tagForVersion(entry.version);
        let invalid: string | undefined;
        if (!OCI_NAME_COMPONENT.test(chart)) {
          invalid = `chart name "${chart}" is not a valid OCI repository name (lowercase letters, digits, . _ -); Helm cannot push it either`;
        } else if (!OCI_TAG.test(tag)) {
          invalid = `version "${entry.version}" cannot be an OCI tag`;
        } else if ((tagOwners.get(tag)?.length ?? 0) > 1) {
          invalid = `tag conflict: versions ${tagOwners.get(tag)!.join(' and ')} both map to tag ${tag}`;
        }
        const warnings: string[] = [];
        if (!invalid && !isSemver2(entry.version)) {
          warnings.push(`version "${entry.version}" is not SemVer 2: helm pull must name it exactly (ranges cannot see it)`);
        }
        const destinations: Destination[] = [];
        for (const b of bindings) {
          total++;
          const repository = repositoryFor(b.config.repository, source.name, chart);
          if (invalid) {
            failed++;
            group(source.name, b.config.name).failed++;
            record({ ...base(chart, entry.version), target: b.config.name, status: 'failed', code: 'CHART', reason: invalid });
            continue;
          }
          const claimKey = `${b.target.id}\u0000${repository}`;
          const owner = claims.get(claimKey);
          if (owner && owner !== source.name) {
            throw new ConfigError(
              `targets.${b.config.name}: sources "${owner}" and "${source.name}" both map chart "${chart}" to ${repository}; add {source} to targets[].repository or use sources[].targets`,
            );
          }
          claims.set(claimKey, source.name);
          const key = Journal.key({ source: source.name, chart, version: entry.version, destination: `${b.target.id}/${repository}` });
          const journaled = journal.get(key);
          const trusted = journaled && (!entry.digest || !journaled.archive || journaled.archive === entry.digest);
          if (trusted && !verifyRemote) {
            present++;
            group(source.name, b.config.name).present++;
            record({
              ...base(chart, entry.version),
              target: b.config.name,
              status: 'present',
              via: 'journal',
              digest: journaled.digest,
              repository,
              tag,
              reference: b.target.reference(repository, tag, journaled.digest),
              url: archiveUrl(idx.repo, entry),
            });
            continue;
          }
          group(source.name, b.config.name).pending++;
          destinations.push({ binding: b, repository, tag, key, journaled: trusted ? journaled : undefined });
        }
        if (destinations.length) work.push({ source, repo: idx.repo, entry, destinations, warnings });
      });
    }
    emit({
      type: 'source-indexed',
      source: source.name,
      versions: idx.entries.length + idx.problems.length,
      selected: selectedCount,
      excluded: excludedCount,
      notModified: idx.notModified,
    });
  }
  const pending = work.reduce((n, w) => n + w.destinations.length, 0);
  for (const f of held) f();
  emitNow({ type: 'plan', total, pending, present, failed, excluded, targets: [...ctx.targets.keys()], groups: [...groups.values()] });
  return work;
}

/** One tag listing per repository and target, shared by every version of a chart. */
class TagCache {
  private readonly lists = new Map<string, Promise<Set<string> | undefined>>();
  constructor(private readonly signal?: AbortSignal) {}

  /** Tags of a repository, or undefined when listing failed (callers then ask per tag). */
  get(d: Destination): Promise<Set<string> | undefined> {
    const k = `${d.binding.target.id}\u0000${d.repository}`;
    let p = this.lists.get(k);
    if (!p) {
      p = d.binding.target.listTags(d.repository, this.signal).catch(() => undefined);
      this.lists.set(k, p);
    }
    return p;
  }

  async add(d: Destination): Promise<void> {
    (await this.get(d))?.add(d.tag);
  }
}

async function dryRunWork(
  work: WorkItem[],
  tags: TagCache,
  record: (r: ItemResult) => void,
  concurrency: number,
  signal?: AbortSignal,
): Promise<void> {
  const queue = new PQueue({ concurrency });
  // One size look-up per chart version (HEAD, or stat for file://), shared by its targets.
  const sizes = new Map<WorkItem, Promise<ArchiveSize>>();
  const sizeOf = (w: WorkItem, url: string | undefined) => {
    let p = sizes.get(w);
    if (!p) {
      p = url ? w.repo.archiveSize(url, signal).catch(() => ({})) : Promise.resolve({});
      sizes.set(w, p);
    }
    return p;
  };
  for (const w of work) {
    const url = archiveUrl(w.repo, w.entry);
    for (const d of w.destinations) {
      void queue.add(async () => {
        const base = { source: w.source.name, chart: w.entry.name, version: w.entry.version, target: d.binding.config.name, repository: d.repository, tag: d.tag, url };
        let listed: Set<string> | undefined;
        try {
          listed = await tags.get(d);
        } catch {
          listed = undefined;
        }
        if (listed?.has(d.tag)) {
          record({ ...base, status: 'present', via: 'target', reason: 'tag exists; digest not compared in a dry run', reference: d.binding.target.reference(d.repository, d.tag) });
        } else {
          const size = await sizeOf(w, url);
          const warnings = [...w.warnings];
          if (size.missing) warnings.push(`the archive is not there (${size.missing}): pushing it will fail`);
          record({ ...base, status: 'planned', archiveSize: size.bytes, warnings: warnings.length ? warnings : undefined });
        }
      });
    }
  }
  await queue.onIdle();
}

/** The absolute URL of a version's first archive URL (the one Helm uses), when it is one. */
function archiveUrl(repo: ChartRepository, entry: IndexEntry): string | undefined {
  const ref = entry.urls[0];
  if (ref === undefined) return undefined;
  try {
    return repo.chartUrl(ref);
  } catch {
    return undefined;
  }
}

interface ExecuteContext {
  ctx: RunContext;
  journal: Journal;
  tags: TagCache;
  record: (r: ItemResult) => void;
  emit: EventSink;
  signal?: AbortSignal;
  stopSignal?: AbortSignal;
  concurrency: number;
  verifyRemote: boolean;
}

/** Returns whether the run was interrupted. */
async function execute(work: WorkItem[], x: ExecuteContext): Promise<boolean> {
  const queue = new PQueue({ concurrency: x.concurrency });
  let stopped = false;
  const notStarted = new Set(work);
  const stop = () => {
    stopped = true;
    queue.clear();
  };
  x.stopSignal?.addEventListener('abort', stop, { once: true });
  x.signal?.addEventListener('abort', stop, { once: true });
  if (x.stopSignal?.aborted || x.signal?.aborted) stop();

  for (const w of work) {
    void queue.add(async () => {
      notStarted.delete(w);
      await processItem(w, x);
    });
  }
  await queue.onIdle();
  x.stopSignal?.removeEventListener('abort', stop);
  x.signal?.removeEventListener('abort', stop);
  for (const w of notStarted) {
    for (const d of w.destinations) {
      x.record({
        source: w.source.name,
        chart: w.entry.name,
        version: w.entry.version,
        target: d.binding.config.name,
        status: 'failed',
        code: 'ABORTED',
        reason: 'interrupted before it started',
        repository: d.repository,
        tag: d.tag,
      });
    }
  }
  return stopped;
}

async function processItem(w: WorkItem, x: ExecuteContext): Promise<void> {
  const base = { source: w.source.name, chart: w.entry.name, version: w.entry.version };
  x.emit({ type: 'item-start', ...base });
  const pending = [...w.destinations];

  // --verify-remote: journal-confirmed items need one HEAD, not a download.
  if (x.verifyRemote) {
    for (const d of [...pending]) {
      if (!d.journaled) continue;
      const remote = await d.binding.target.resolve(d.repository, d.tag, x.signal).catch(() => undefined);
      if (remote === d.journaled.digest) {
        pending.splice(pending.indexOf(d), 1);
        x.record({ ...base, target: d.binding.config.name, status: 'present', via: 'target', digest: remote, repository: d.repository, tag: d.tag, reference: d.binding.target.reference(d.repository, d.tag, remote), url: archiveUrl(w.repo, w.entry) });
      }
    }
    if (pending.length === 0) return;
  }

  let prepared: PreparedChart;
  try {
    prepared = await prepareArtifact(w.source, w.repo, w.entry, x.ctx.keyrings, x.signal);
  } catch (e) {
    for (const d of pending) x.record(failure(base, d, e));
    return;
  }
  const warnings = [...w.warnings, ...prepared.warnings];
  await Promise.all(
    pending.map(async (d) => {
      try {
        const r = await deliver(prepared, d, x);
        x.record({
          ...base,
          target: d.binding.config.name,
          ...r,
          repository: d.repository,
          tag: d.tag,
          url: prepared.url,
          provenance: prepared.provenance,
          archiveSize: prepared.archive.length,
          warnings: warnings.length ? warnings : undefined,
        });
      } catch (e) {
        x.record({ ...failure(base, d, e), url: prepared.url, warnings: warnings.length ? warnings : undefined });
      }
    }),
  );
}

function failure(base: { source: string; chart: string; version: string }, d: Destination, e: unknown): ItemResult {
  const aborted = isChartMirrorError(e) && e.code === 'ABORTED';
  return {
    ...base,
    target: d.binding.config.name,
    status: 'failed',
    code: isChartMirrorError(e) ? e.code : 'INTERNAL',
    reason: aborted ? 'interrupted' : errorMessage(e),
    repository: d.repository,
    tag: d.tag,
  };
}

async function deliver(
  prepared: PreparedChart,
  d: Destination,
  x: ExecuteContext,
): Promise<Pick<ItemResult, 'status' | 'digest' | 'reference' | 'bytesUploaded' | 'via'>> {
  const { target, config } = d.binding;
  const artifact = prepared.artifact(config.manifestMediaType);
  const digest = artifact.manifest.descriptor.digest;
  const listed = await x.tags.get(d);
  const mayExist = listed === undefined || listed.has(d.tag);
  if (mayExist) {
    const remote = await target.resolve(d.repository, d.tag, x.signal);
    if (remote === digest) {
      await x.journal.record(d.key, { digest, archive: prepared.archiveDigest });
      return { status: 'present', via: 'target', digest, reference: target.reference(d.repository, d.tag, digest) };
    }
    if (remote !== undefined && config.onConflict !== 'overwrite') {
      throw new ChartMirrorError(
        'CONFLICT',
        `tag ${d.repository}:${d.tag} already holds ${remote}, not ${digest}; set onConflict: overwrite on target ${config.name} to replace it`,
      );
    }
  }
  const outcome = await target.push(d.repository, d.tag, artifactContent(artifact), x.signal);
  await x.journal.record(d.key, { digest, archive: prepared.archiveDigest });
  await x.tags.add(d);
  return { status: 'pushed', digest, reference: target.reference(d.repository, d.tag, digest), bytesUploaded: outcome.bytesUploaded };
}
