/**
 * The one graph copy (oras-go `oras.Copy` / `CopyGraph`): from a root manifest or index, walk
 * index -> manifests -> config and layers, copy children before their parent (so a tag never
 * points at content the destination lacks), skip what the destination already has, mount
 * across repositories of one registry when it can, and check the size and digest of every
 * byte that streams through. Blobs stream; only manifests (capped) are held whole.
 */
import { ChartMirrorError } from '../errors.js';
import { DEFAULTS, LIMITS } from '../defaults.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isDigest } from '../oci/reference.js';
import { isManifest, parseManifest, successors } from './graph.js';
import { bufferStream, readVerified, verifiedOpener } from './verify.js';
import { canMount, canPushReference, type PushResult, type ReadOnlyStore, type Store } from './store.js';

export interface CopyOptions {
  /** Tag the root at the destination (a registry PUTs the manifest under it in one request). */
  tag?: string;
  signal?: AbortSignal;
  /** Blobs in flight within this copy. Default DEFAULTS.copyConcurrency (4). */
  concurrency?: number;
  /** A repository of the destination registry to mount a blob from, before uploading it. */
  mountFrom?: (desc: Descriptor) => string | undefined;
  /** Called once per node when it is at the destination. */
  onCopied?: (desc: Descriptor, how: PushResult['how'] | 'skipped') => void;
  /**
   * The caller has just looked (the tag is absent from the destination's tag list): do not ask
   * again whether the root is there. Default false: manifests are always looked up, and a
   * manifest that is there is skipped with everything under it.
   */
  skipRootCheck?: boolean;
}

export interface CopyResult {
  /** The root as copied. */
  root: Descriptor;
  /** Bytes sent or written to the destination. */
  bytes: number;
  /** Nodes uploaded, mounted, or skipped because the destination had them. */
  uploaded: number;
  mounted: number;
  skipped: number;
}

/** A counting semaphore for blob transfers (manifests wait on their children, never on a slot). */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

async function allOrFirstError(tasks: Promise<unknown>[]): Promise<void> {
  // Every task settles before we return: nothing keeps writing after a failed copy is reported.
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The root named by a tag or digest in `src`, or a NOT_FOUND error. */
export async function resolveRoot(src: ReadOnlyStore, reference: string, signal?: AbortSignal): Promise<Descriptor> {
  const d = await src.resolve(reference, signal);
  if (!d) throw new ChartMirrorError('NOT_FOUND', `${src.display}: no manifest ${isDigest(reference) ? `@${reference}` : `:${reference}`}`);
  return d;
}

/**
 * Copy the graph under `root` from `src` to `dst`. `root` may be a descriptor, a tag or a
 * digest in `src`; without one, the reference `src` was opened with (openStore) is used.
 */
export function copy(src: ReadOnlyStore, dst: Store, opts?: CopyOptions): Promise<CopyResult>;
export function copy(src: ReadOnlyStore, dst: Store, root: Descriptor | string | undefined, opts?: CopyOptions): Promise<CopyResult>;
export async function copy(src: ReadOnlyStore, dst: Store, rootOrOpts?: Descriptor | string | CopyOptions, maybeOpts?: CopyOptions): Promise<CopyResult> {
  const isRoot = typeof rootOrOpts === 'string' || (rootOrOpts !== undefined && 'digest' in rootOrOpts);
  const root = isRoot ? (rootOrOpts as Descriptor | string) : undefined;
  const opts: CopyOptions = (isRoot ? maybeOpts : (rootOrOpts as CopyOptions | undefined)) ?? {};
  const { signal } = opts;
  const start = root ?? (src as { reference?: string }).reference;
  if (start === undefined) throw new ChartMirrorError('USAGE', `copy: name the root (a tag or digest in ${src.display})`);
  const rootDesc = typeof start === 'string' ? await resolveRoot(src, start, signal) : start;
  const result: CopyResult = { root: rootDesc, bytes: 0, uploaded: 0, mounted: 0, skipped: 0 };
  const slot = limiter(opts.concurrency ?? DEFAULTS.copyConcurrency);
  const seen = new Map<string, Promise<void>>();
  const threshold = dst.existsCheckMinBytes ?? 0;

  const count = (desc: Descriptor, r: PushResult | 'skipped') => {
    const how = r === 'skipped' ? 'skipped' : r.how === 'exists' ? 'skipped' : r.how;
    if (r !== 'skipped') result.bytes += r.bytes;
    if (how === 'skipped') result.skipped++;
    else if (how === 'mounted') result.mounted++;
    else result.uploaded++;
    opts.onCopied?.(desc, r === 'skipped' ? 'skipped' : r.how);
  };

  const checkAborted = () => {
    if (signal?.aborted) throw new ChartMirrorError('ABORTED', `copy to ${dst.display}: aborted`);
  };

  const readManifest = async (desc: Descriptor): Promise<Buffer> =>
    readVerified(await src.fetch(desc, signal), desc, LIMITS.manifestBytes, 'manifest');

  const transferBlob = (desc: Descriptor): Promise<void> =>
    slot(async () => {
      checkAborted();
      const content = verifiedOpener((s) => src.fetch(desc, s ?? signal), desc);
      const from = canMount(dst) ? (opts.mountFrom?.(desc) ?? dst.mountSourceFor(src)) : undefined;
      const r = from !== undefined && canMount(dst) ? await dst.mount(desc, from, content, signal) : await dst.push(desc, content, { signal });
      count(desc, r);
    });

  const copyNode = (desc: Descriptor, isRoot: boolean, known?: Buffer): Promise<void> => {
    if (!isRoot) {
      const prior = seen.get(desc.digest);
      if (prior) return prior;
    }
    const work = (async () => {
      checkAborted();
      // Manifests are always looked up (one that is there is skipped with its whole graph);
      // blobs only where asking costs less than sending (a small blob is sent again, deduplicated).
      const ask = isManifest(desc) ? !(isRoot && opts.skipRootCheck) : desc.size >= threshold;
      if (ask && (await dst.exists(desc, signal))) {
        // The destination holds it, and so (registries and layouts only accept a manifest
        // whose children they hold) everything under it.
        const tagged = isRoot && opts.tag ? await tagRoot(desc, known) : undefined;
        count(desc, tagged ?? 'skipped');
        return;
      }
      if (!isManifest(desc)) return transferBlob(desc);
      const bytes = known ?? (await readManifest(desc));
      const children = successors(parseManifest(bytes, desc.mediaType, `manifest ${desc.digest}`));
      await allOrFirstError(children.map((c) => copyNode(c, false)));
      checkAborted();
      if (isRoot && opts.tag && canPushReference(dst)) {
        count(desc, await dst.pushReference(desc, bytes, opts.tag, signal));
        return;
      }
      count(desc, await dst.push(desc, async () => bufferStream(bytes), { signal }));
      if (isRoot && opts.tag) await dst.tag(desc, opts.tag, signal);
    })();
    if (!isRoot) seen.set(desc.digest, work);
    return work;
  };

  /** Point the tag at a root the destination already holds; what it cost, if anything was sent. */
  const tagRoot = async (desc: Descriptor, known?: Buffer): Promise<PushResult | undefined> => {
    if (canPushReference(dst) && isManifest(desc)) {
      const bytes = known ?? (await readManifest(desc));
      return dst.pushReference(desc, bytes, opts.tag!, signal);
    }
    await dst.tag(desc, opts.tag!, signal);
    return undefined;
  };

  const rootBytes = isManifest(rootDesc) ? await readManifest(rootDesc) : undefined;
  await copyNode(rootDesc, true, rootBytes);
  return result;
}
