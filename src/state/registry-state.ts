/**
 * State kept in an OCI registry instead of a directory, for pods without a volume. Each shard's
 * state is one OCI artifact, tagged `state` (or `state-shard-0-of-3`): the journal and the
 * cached indexes as layers (an unchanged index is not uploaded again). Blobs go up first and
 * the manifest last, by tag: the tag moves in one PUT, so a crash at any moment leaves the
 * previous artifact whole. The lock is a small artifact of its own (`lock`, `lock-shard-…`)
 * whose annotation names the holder and its lease; the last writer wins, and each writer reads
 * the lock back after a pause to learn whether it did.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LIMITS } from '../defaults.js';
import { ChartMirrorError, errorMessage } from '../errors.js';
import { sleep } from '../http/host-gate.js';
import type { RegistryRepository } from '../content/registry.js';
import { bufferStream, readVerified, verified } from '../content/verify.js';
import type { Descriptor } from '../oci/descriptor.js';
import { ANNOTATION_CREATED, ANNOTATION_TITLE, OCI_MANIFEST_MEDIA_TYPE } from '../oci/media-types.js';
import { VERSION } from '../version.js';
import type { StateLock, LockOptions } from './dir-lock.js';
import { describeHolder, goneOnThisHost, lockedError, newHolder, parseHolder, type LockHolder } from './holder.js';

export const STATE_ARTIFACT_TYPE = 'application/vnd.chartmirror.state.v1';
export const LOCK_ARTIFACT_TYPE = 'application/vnd.chartmirror.lock.v1';
export const JOURNAL_MEDIA_TYPE = 'application/vnd.chartmirror.journal.v1+jsonl';
export const INDEX_CACHE_MEDIA_TYPE = 'application/vnd.chartmirror.index-cache.v1';
const LOCK_ANNOTATION = 'dev.chartmirror.lock';
const EMPTY: Descriptor = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};
const EMPTY_BYTES = Buffer.from('{}');

/** The only files a state artifact may hold, so a damaged or hostile one cannot write elsewhere. */
const STATE_FILE = /^(?:journal\.jsonl|index-cache\/[0-9a-f]{32}\.(?:json|index))$/;

export interface RegistryLockOptions extends LockOptions {
  settleMs: number;
}

interface LockRecord {
  holder?: LockHolder;
  expiresAt: number;
  released: boolean;
}

export class RegistryState {
  constructor(
    private readonly store: RegistryRepository,
    /** `state` or `state-shard-0-of-3`. */
    readonly stateTag: string,
    readonly lockTag: string,
  ) {}

  get display(): string {
    return `${this.store.display}:${this.stateTag}`;
  }

  /** Fetch the artifact's files into `dir`; false when there is none yet (a first run). */
  async pull(dir: string, signal?: AbortSignal): Promise<boolean> {
    const where = this.display;
    const desc = await this.store.resolve(this.stateTag, signal);
    if (!desc) return false;
    const bytes = await readVerified(await this.store.fetch(desc, signal), desc, LIMITS.manifestBytes, 'manifest');
    const layers = parseStateManifest(bytes, where);
    for (const layer of layers) {
      const file = layer.annotations![ANNOTATION_TITLE]!;
      const path = join(dir, ...file.split('/'));
      await mkdir(join(path, '..'), { recursive: true });
      await pipeline(Readable.from(verified(await this.store.fetch(layer, signal), layer, `${where} ${file}`)), createWriteStream(path, { flags: 'wx' }), { signal });
    }
    return true;
  }

  /**
   * Push the journal (as given: a consistent snapshot) and the cached indexes found in `dir`,
   * then move the tag. Blobs the registry holds are not sent again.
   */
  async push(dir: string, journal: Buffer, signal?: AbortSignal): Promise<void> {
    const layers: Descriptor[] = [];
    const journalDesc: Descriptor = { mediaType: JOURNAL_MEDIA_TYPE, digest: digestOf(journal), size: journal.length, annotations: { [ANNOTATION_TITLE]: 'journal.jsonl' } };
    await this.store.push(journalDesc, async () => bufferStream(journal), { signal });
    layers.push(journalDesc);
    const cacheDir = join(dir, 'index-cache');
    const names = (await readdir(cacheDir).catch(() => [] as string[])).filter((n) => STATE_FILE.test(`index-cache/${n}`)).sort();
    for (const name of names) {
      const path = join(cacheDir, name);
      const desc: Descriptor = { mediaType: INDEX_CACHE_MEDIA_TYPE, ...(await fileDigest(path)), annotations: { [ANNOTATION_TITLE]: `index-cache/${name}` } };
      await this.store.push(desc, async () => createReadStream(path), { signal });
      layers.push(desc);
    }
    await this.store.push(EMPTY, async () => bufferStream(EMPTY_BYTES), { signal });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        artifactType: STATE_ARTIFACT_TYPE,
        config: EMPTY,
        layers,
        annotations: { [ANNOTATION_CREATED]: new Date().toISOString(), 'dev.chartmirror.version': VERSION },
      }),
    );
    await this.store.pushReference({ mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: digestOf(manifest), size: manifest.length }, manifest, this.stateTag, signal);
  }

  /** Take the lock: refused (exit 2) while another run's lease lasts; an expired one is taken over. */
  async lock(opts: RegistryLockOptions): Promise<StateLock> {
    const where = `state ${this.display}`;
    const lockRef = `${this.store.display}:${this.lockTag}`;
    const holder = newHolder(opts.command);
    await this.store.push(EMPTY, async () => bufferStream(EMPTY_BYTES));
    for (let attempt = 0; ; attempt++) {
      const seen = await this.readLock();
      if (seen && !seen.released && seen.holder?.token !== holder.token) {
        const gone = goneOnThisHost(seen.holder);
        if (!gone && Date.now() < seen.expiresAt) throw lockedError(where, seen.holder, lockRef, opts.leaseMs);
        const why = gone ?? `its lease ended ${new Date(seen.expiresAt).toISOString()}`;
        opts.onWarning?.(`${where}: took over the lock of ${seen.holder ? describeHolder(seen.holder) : 'a run whose lock could not be read'}: ${why}`);
      }
      await this.writeLock(holder, Date.now() + opts.leaseMs, false);
      // Another run that read the lock before our write may write after it: wait, then see who won.
      await sleep(opts.settleMs);
      const after = await this.readLock();
      if (after?.holder?.token === holder.token) break;
      if (after && !after.released && Date.now() < after.expiresAt) throw lockedError(where, after.holder, lockRef, opts.leaseMs);
      if (attempt >= 3) throw lockedError(where, after?.holder, lockRef, opts.leaseMs);
    }

    const lost = new AbortController();
    let renewing: Promise<void> = Promise.resolve();
    const renew = setInterval(() => {
      renewing = (async () => {
        try {
          const now = await this.readLock();
          if (now?.holder?.token !== holder.token) {
            clearInterval(renew);
            opts.onWarning?.(`${where}: another run took this run's lock over${now?.holder ? ` (${describeHolder(now.holder)})` : ''}; stopping`);
            lost.abort();
            return;
          }
          await this.writeLock(holder, Date.now() + opts.leaseMs, false);
        } catch (e) {
          opts.onWarning?.(`${where}: cannot renew the lock (${errorMessage(e)}); will try again`);
        }
      })();
    }, opts.renewMs);
    renew.unref();

    return {
      lost: lost.signal,
      holder,
      release: async () => {
        clearInterval(renew);
        await renewing;
        const now = await this.readLock().catch(() => undefined);
        if (now?.holder?.token === holder.token) await this.writeLock(holder, Date.now(), true);
      },
    };
  }

  private async readLock(): Promise<LockRecord | undefined> {
    const desc = await this.store.resolve(this.lockTag);
    if (!desc) return undefined;
    const bytes = await readVerified(await this.store.fetch(desc), desc, LIMITS.manifestBytes, 'manifest');
    let record: unknown;
    try {
      record = JSON.parse(String((JSON.parse(bytes.toString('utf8')) as { annotations?: Record<string, unknown> }).annotations?.[LOCK_ANNOTATION]));
    } catch {
      record = undefined;
    }
    const r = (record ?? {}) as { expiresAt?: unknown; released?: unknown };
    const expiresAt = typeof r.expiresAt === 'string' ? Date.parse(r.expiresAt) : NaN;
    // A lock we cannot read has no lease: it is taken over.
    return { holder: parseHolder(record), expiresAt: Number.isNaN(expiresAt) ? 0 : expiresAt, released: r.released === true };
  }

  private async writeLock(holder: LockHolder, expiresAt: number, released: boolean): Promise<void> {
    const record = { ...holder, expiresAt: new Date(expiresAt).toISOString(), ...(released ? { released: true } : {}) };
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        artifactType: LOCK_ARTIFACT_TYPE,
        config: EMPTY,
        layers: [EMPTY],
        annotations: { [ANNOTATION_CREATED]: new Date().toISOString(), [LOCK_ANNOTATION]: JSON.stringify(record) },
      }),
    );
    await this.store.pushReference({ mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: digestOf(manifest), size: manifest.length }, manifest, this.lockTag);
  }
}

/** The layers of a state artifact, each checked: known file name, bounded size, at most once. */
export function parseStateManifest(bytes: Buffer, where: string): Descriptor[] {
  const bad = (why: string) => new ChartMirrorError('MANIFEST', `${where}: not a chartmirror state (${why}); point state at another repository, or delete that tag`);
  let m: { artifactType?: unknown; layers?: unknown };
  try {
    m = JSON.parse(bytes.toString('utf8')) as typeof m;
  } catch {
    throw bad('its manifest is not JSON');
  }
  if (m.artifactType !== STATE_ARTIFACT_TYPE) throw bad(`artifactType is ${JSON.stringify(m.artifactType) ?? 'missing'}`);
  if (!Array.isArray(m.layers) || m.layers.length > LIMITS.stateFiles) throw bad('layers missing or too many');
  const seen = new Set<string>();
  return m.layers.map((l: unknown) => {
    const d = l as Partial<Descriptor>;
    const file = d?.annotations?.[ANNOTATION_TITLE];
    if (typeof file !== 'string' || !STATE_FILE.test(file) || seen.has(file)) throw bad(`unexpected file ${JSON.stringify(file)}`);
    seen.add(file);
    if (typeof d.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d.digest) || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw bad(`bad descriptor for ${file}`);
    const max = file === 'journal.jsonl' ? LIMITS.stateJournalBytes : LIMITS.indexBytes;
    if (d.size > max) throw bad(`${file} is ${d.size} bytes, more than the ${max} allowed`);
    return { mediaType: String(d.mediaType), digest: d.digest, size: d.size, annotations: { [ANNOTATION_TITLE]: file } };
  });
}

function digestOf(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

async function fileDigest(path: string): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const st = await stat(path);
  if (st.size !== size) throw new ChartMirrorError('INTERNAL', `${path} changed while it was read`);
  return { digest: `sha256:${h.digest('hex')}`, size };
}
