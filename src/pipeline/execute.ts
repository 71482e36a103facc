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
import type { EventSink, ItemResult } from './events.js';
import type { Journal } from './journal.js';
import type { Materialized, Materializer } from './materialize.js';
import { emitPlan, journalStillValid, type Plan, type PlanDestination, type PlanJob } from './plan.js';
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

/** Run a plan: emit what it settled, then do its jobs. */
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
  const notStarted = new Set(plan.jobs);
  const stop = () => {
    stopped = true;
    queue.clear();
  };
  x.stopSignal?.addEventListener('abort', stop, { once: true });
  x.signal?.addEventListener('abort', stop, { once: true });
  if (x.stopSignal?.aborted || x.signal?.aborted) stop();
  for (const job of plan.jobs) {
    void queue.add(async () => {
      notStarted.delete(job);
      await runJob(job, x, tags, record, emit);
    });
  }
  await queue.onIdle();
  x.stopSignal?.removeEventListener('abort', stop);
  x.signal?.removeEventListener('abort', stop);
  for (const job of notStarted) {
    for (const d of job.destinations) {
      record({ ...base(job), target: d.target, status: 'failed', code: 'ABORTED', reason: 'interrupted before it started', repository: d.repository, tag: d.tag });
    }
  }
  return { items, interrupted: stopped };
}

function base(job: PlanJob): Pick<ItemResult, 'source' | 'chart' | 'version'> {
  return { source: job.source, chart: job.chart, version: job.version };
}


async function runJob(job: PlanJob, x: ExecuteOptions, tags: TagCache, record: (r: ItemResult) => void, emit: EventSink): Promise<void> {
  emit({ type: 'item-start', ...base(job) });
  const url = job.origin.url;
  const pending: Pending[] = [];
  for (const d of job.destinations) {
    const binding = x.targets.get(d.target)!;
    const key = journalKey(job.source, job.chart, job.version, binding.id, d.repository);
    const entry = x.journal.get(key);
    if (entry && journalStillValid(job.origin, entry)) {
      if (!x.verifyRemote) {
        // Confirmed since the plan was made (another run, or a plan executed twice).
        record({ ...base(job), target: d.target, status: 'present', via: 'journal', digest: entry.digest, repository: d.repository, tag: d.tag, reference: binding.reference(d.repository, d.tag, entry.digest), url });
        continue;
      }
      // --verify-remote: one HEAD, not a download.
      const remote = await binding.store(d.repository).resolve(d.tag, x.signal).catch(() => undefined);
      if (remote?.digest === entry.digest) {
        record({ ...base(job), target: d.target, status: 'present', via: 'target', digest: remote.digest, repository: d.repository, tag: d.tag, reference: binding.reference(d.repository, d.tag, remote.digest), url });
        continue;
      }
    }
    pending.push({ d, binding, key });
  }
  if (pending.length === 0) return;

  let content: Materialized;
  try {
    content = await x.materialize(job, x.signal);
  } catch (e) {
    for (const p of pending) record(failure(job, p, e));
    return;
  }
  const warnings = [...(job.warnings ?? []), ...content.warnings];
  await Promise.all(
    pending.map(async (p) => {
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
          warnings: warnings.length ? warnings : undefined,
        });
      } catch (e) {
        record({ ...failure(job, p, e), ...(content.url ? { url: content.url } : {}), warnings: warnings.length ? warnings : undefined });
      }
    }),
  );
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
  const mayExist = listed === undefined || listed.has(d.tag);
  if (mayExist) {
    const remote = await store.resolve(d.tag, x.signal);
    if (remote?.digest === digest) {
      const carried = await referrers();
      await x.journal.record(p.key, { digest, archive: content.archiveDigest });
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
  await x.journal.record(p.key, { digest, archive: content.archiveDigest });
  await tags.add(binding, d.repository, d.tag);
  return { status: 'pushed', digest, reference: binding.reference(d.repository, d.tag, digest), bytesUploaded: copied.bytes, ...carried };
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
