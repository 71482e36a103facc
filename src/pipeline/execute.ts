/**
 * The one executor: sync, export and import all run a plan through here. Per job, with
 * bounded concurrency: check the journal (and, with --verify-remote, the target), turn the job
 * into content (materialize.ts), then per destination resolve the tag, refuse a conflict or
 * skip what is there, copy the graph, and journal the confirmation. One failing chart version
 * never stops the others; every result is emitted as it settles.
 */
import PQueue from 'p-queue';
import { ChartMirrorError, errorMessage, isChartMirrorError } from '../errors.js';
import { copy } from '../content/copy.js';
import { copyReferrers } from '../content/referrers.js';
import { isDigest } from '../oci/reference.js';
import type { EventSink, ItemResult } from './events.js';
import type { Journal, JournalEntry } from './journal.js';
import type { Materialized, Materializer } from './materialize.js';
import { emitPlan, journalStillValid, type Plan, type PlanDestination, type PlanJob } from './plan.js';
import { ImageScheduler, IMAGES_SOURCE, type ImageDestinations } from './image-jobs.js';
import { journalKey } from './planner.js';
import type { TargetBinding } from './targets.js';

export interface ExecuteOptions {
  targets: Map<string, TargetBinding>;
  journal: Journal;
  materialize: Materializer;
  /** Jobs in flight. */
  concurrency: number;
  /** Re-check journal-confirmed destinations with one HEAD each. */
  verifyRemote: boolean;
  emit: EventSink;
  /** Abort in-flight work (hard stop). */
  signal?: AbortSignal;
  /** Stop taking new work (graceful stop); in-flight jobs finish. */
  stopSignal?: AbortSignal;
  /** Images on: where an image lands at each of the given targets. */
  images?: ImageDestinations;
}

export interface Execution {
  items: ItemResult[];
  interrupted: boolean;
}

interface Pending {
  d: PlanDestination;
  binding: TargetBinding;
  key: string;
}

/** Run a plan: emit what it settled, then do its jobs (and the images its charts turn out to use). */
export async function execute(plan: Plan, x: ExecuteOptions): Promise<Execution> {
  const items: ItemResult[] = [];
  const emit: EventSink = (e) => {
    if (e.type === 'item') items.push(e.result);
    x.emit(e);
  };
  emitPlan(plan, emit);
  const record = (r: ItemResult) => emit({ type: 'item', result: r });
  const tags = new TagCache(x.signal);

  const queue = new PQueue({ concurrency: x.concurrency });
  let stopped = false;
  const notStarted = new Set<PlanJob>();
  const stop = () => {
    stopped = true;
    queue.clear();
  };
  const images = new ImageScheduler(x.images, (job) => schedule(job), record);
  const schedule = (job: PlanJob) => {
    if (stopped) return;
    notStarted.add(job);
    void queue.add(async () => {
      notStarted.delete(job);
      await runJob(job, x, tags, record, emit, images);
    });
  };
  x.stopSignal?.addEventListener('abort', stop, { once: true });
  x.signal?.addEventListener('abort', stop, { once: true });
  if (x.stopSignal?.aborted || x.signal?.aborted) stop();
  for (const job of plan.jobs) images.planned(job);
  for (const job of plan.jobs) schedule(job);
  // Charts the plan found confirmed: their images are as the journal recorded them (each checked on its own).
  if (x.images) {
    for (const r of plan.settled) {
      if (r.kind === 'image' || r.status !== 'present' || r.via !== 'journal' || !r.repository) continue;
      const binding = x.targets.get(r.target);
      const entry = binding && x.journal.get(journalKey(r.source, r.chart, r.version, binding.id, r.repository));
      if (entry?.images) images.found(r, entry.images.map((image) => ({ image, methods: ['journal'] })), [r.target]);
    }
  }
  await queue.onIdle();
  images.annotate(items);
  x.stopSignal?.removeEventListener('abort', stop);
  x.signal?.removeEventListener('abort', stop);
  for (const job of notStarted) {
    for (const d of job.destinations) {
      record({ ...base(job), target: d.target, status: 'failed', code: 'ABORTED', reason: 'interrupted before it started', repository: d.repository, tag: d.tag });
    }
  }
  return { items, interrupted: stopped };
}

function base(job: PlanJob): Pick<ItemResult, 'source' | 'chart' | 'version' | 'kind' | 'usedBy' | 'methods'> {
  const o = job.origin;
  if (o.kind === 'image') return { source: job.source, chart: job.chart, version: job.version, kind: 'image', ...(o.usedBy?.length ? { usedBy: o.usedBy } : {}), ...(o.methods?.length ? { methods: o.methods } : {}) };
  // An image carried in a bundle.
  if (job.source === IMAGES_SOURCE) return { source: job.source, chart: job.chart, version: job.version, kind: 'image' };
  return { source: job.source, chart: job.chart, version: job.version };
}




async function runJob(job: PlanJob, x: ExecuteOptions, tags: TagCache, record: (r: ItemResult) => void, emit: EventSink, images: ImageScheduler): Promise<void> {
  emit({ type: 'item-start', ...base(job) });
  const url = job.origin.url;
  const pending: Pending[] = [];
  let knownImages: string[] | undefined;
  for (const d of job.destinations) {
    const binding = x.targets.get(d.target)!;
    const key = journalKey(job.source, job.chart, job.version, binding.id, d.repository);
    const entry = x.journal.get(key);
    if (entry?.images) knownImages = entry.images;
    if (entry && journalStillValid(job.origin, entry)) {
      if (!x.verifyRemote) {
        // Confirmed since the plan was made (another run, or a plan executed twice).
        const tag = entry.tag ?? d.tag;
        record({ ...base(job), target: d.target, status: 'present', via: 'journal', digest: entry.digest, repository: d.repository, tag, reference: binding.reference(d.repository, tag, entry.digest), url });
        continue;
      }
      // --verify-remote: one HEAD, not a download.
      const tag = entry.tag ?? d.tag;
      const remote = await binding.store(d.repository).resolve(tag, x.signal).catch(() => undefined);
      if (remote?.digest === entry.digest) {
        record({ ...base(job), target: d.target, status: 'present', via: 'target', digest: remote.digest, repository: d.repository, tag, reference: binding.reference(d.repository, tag, remote.digest), url });
        continue;
      }
    }
    pending.push({ d, binding, key });
  }
  if (pending.length === 0) {
    // Confirmed before: its images are as the journal recorded them (each checked on its own).
    if (knownImages && job.origin.kind !== 'image') images.found(job, knownImages.map((image) => ({ image, methods: ['journal'] })), job.destinations.map((d) => d.target));
    return;
  }

  let content: Materialized;
  try {
    content = await x.materialize(job, x.signal);
  } catch (e) {
    for (const p of pending) record(failure(job, p, e));
    return;
  }
  if (content.images) images.found(job, content.images, job.destinations.map((d) => d.target));
  const warnings = [...(job.warnings ?? []), ...content.warnings];
  // A chart whose Chart.yaml version Helm reads differently from the index goes where helm push puts it.
  const retagged = content.tag ? pending.map((p) => ({ ...p, d: { ...p.d, tag: content.tag! } })) : pending;
  await Promise.all(
    retagged.map(async (p) => {
      try {
        const r = await deliver(content, p, x, tags);
        record({
          ...base(job),
          target: p.d.target,
          ...r,
          repository: p.d.repository,
          tag: p.d.tag,
          ...(content.url ? { url: content.url } : {}),
          ...(content.provenance ? { provenance: content.provenance } : {}),
          ...(content.archiveSize !== undefined ? { archiveSize: content.archiveSize } : {}),
          ...(content.sourceDigest && content.sourceDigest !== r.digest ? { sourceDigest: content.sourceDigest } : {}),
          warnings: warnings.length ? warnings : undefined,
        });
      } catch (e) {
        record({ ...failure(job, p, e), ...(content.url ? { url: content.url } : {}), warnings: warnings.length ? warnings : undefined });
      }
    }),
  ).finally(() => content.release?.());
}

function failure(job: PlanJob, p: Pending, e: unknown): ItemResult {
  const aborted = isChartMirrorError(e) && e.code === 'ABORTED';
  return {
    ...base(job),
    target: p.d.target,
    status: 'failed',
    code: isChartMirrorError(e) ? e.code : 'INTERNAL',
    reason: aborted ? 'interrupted' : errorMessage(e),
    repository: p.d.repository,
    tag: p.d.tag,
  };
}

/** Resolve -> conflict -> copy -> journal, for one destination. */
async function deliver(
  content: Materialized,
  p: Pending,
  x: ExecuteOptions,
  tags: TagCache,
): Promise<Pick<ItemResult, 'status' | 'digest' | 'reference' | 'bytesUploaded' | 'via' | 'referrers'>> {
  const { binding, d } = p;
  const root = content.root(binding.spec.manifestMediaType);
  const digest = root.digest;
  const store = binding.store(d.repository);
  // Source and target on one registry: blobs are mounted, not uploaded again.
  const from = content.origin && binding.host === content.origin.host ? content.origin.repository : undefined;
  const mountFrom = from ? () => from : undefined;
  const referrers = async () => {
    if (!content.referrers) return {};
    const copied = await copyReferrers(content.referrers.store, store, root, content.referrers.items, { signal: x.signal, mountFrom });
    return { referrers: copied.map((r) => ({ ...r, reference: binding.reference(d.repository, r.tag ?? d.tag, r.digest) })) };
  };
  const listed = await tags.get(binding, d.repository);
  // A digest in place of a tag (an image named by digest) is looked up directly.
  const mayExist = isDigest(d.tag) || listed === undefined || listed.has(d.tag);
  if (mayExist) {
    const remote = await store.resolve(d.tag, x.signal);
    if (remote?.digest === digest) {
      const carried = await referrers();
      await x.journal.record(p.key, journalEntry(content, digest));
      return { status: 'present', via: 'target', digest, reference: binding.reference(d.repository, d.tag, digest), ...carried };
    }
    if (remote !== undefined && binding.spec.onConflict !== 'overwrite') {
      throw new ChartMirrorError('CONFLICT', `tag ${d.repository}:${d.tag} already holds ${remote.digest}, not ${digest}; ${binding.conflictHint}`);
    }
  }
  // A tag that is not there: the root is pushed without asking again (one request less per version).
  const copied = await copy(content.store, store, root, { tag: d.tag, signal: x.signal, skipRootCheck: true, mountFrom });
  // Referrers after their subject, and the journal only once both are there.
  const carried = await referrers();
  await x.journal.record(p.key, journalEntry(content, digest));
  await tags.add(binding, d.repository, d.tag);
  return { status: 'pushed', digest, reference: binding.reference(d.repository, d.tag, digest), bytesUploaded: copied.bytes, ...carried };
}

/** What the journal keeps of a confirmation: the digest, the archive's, and a chart's images. */
function journalEntry(content: Materialized, digest: string): Omit<JournalEntry, 'at'> {
  return {
    digest,
    ...(content.tag ? { tag: content.tag } : {}),
    ...(content.archiveDigest ? { archive: content.archiveDigest } : {}),
    ...(content.images ? { images: content.images.map((i) => i.image) } : {}),
  };
}

/** One tag listing per repository and target, shared by every version of a chart. */
class TagCache {
  private readonly lists = new Map<string, Promise<Set<string> | undefined>>();
  constructor(private readonly signal?: AbortSignal) {}

  /** Tags of a repository, or undefined when listing failed (callers then ask per tag). */
  get(binding: TargetBinding, repository: string): Promise<Set<string> | undefined> {
    const k = `${binding.id}\u0000${repository}`;
    let p = this.lists.get(k);
    if (!p) {
      p = binding
        .store(repository)
        .tags(this.signal)
        .then((t) => new Set(t))
        .catch(() => undefined);
      this.lists.set(k, p);
    }
    return p;
  }

  async add(binding: TargetBinding, repository: string, tag: string): Promise<void> {
    (await this.get(binding, repository))?.add(tag);
  }
}
