/**
 * An OCI image layout (image-spec image-layout.md) as stores: `oci-layout`, `index.json` with
 * one descriptor per tagged manifest, annotated `org.opencontainers.image.ref.name` =
 * `<repository>:<tag>`, and content under `blobs/sha256/`. The same reader serves layout
 * directories and bundles (a tar of a layout, whole or in parts, read-only).
 *
 * Writes are crash-safe: blobs are verified into temp files and renamed into place; index.json
 * is rewritten atomically in group commits, so a crash never leaves a half-written file under a
 * final name, and re-runs add, never duplicate.
 *
 * Several processes may write one layout at once (two runs with different configs, a run and a
 * library caller): blobs are content-addressed, so two writers of one blob write the same bytes
 * and the last rename wins harmlessly; index.json is only ever changed under `index.json.lock`
 * (util/file-lock.ts), by re-reading it there and applying this process's own changes (refs set
 * or removed since its last write) to what is on disk, so a ref another process added is never
 * lost. Reads see other processes' refs too: index.json is read again when it has changed.
 */
import { constants, type Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ChartMirrorError } from '../errors.js';
import { LIMITS } from '../defaults.js';
import type { Descriptor } from '../oci/descriptor.js';
import { ANNOTATION_REF_NAME, OCI_INDEX_MEDIA_TYPE, OCI_LAYOUT_VERSION, OCI_MANIFEST_MEDIA_TYPE } from '../oci/media-types.js';
import { isDigest } from '../oci/reference.js';
import { withFileLock } from '../util/file-lock.js';
import { DirLayoutFiles, openLayoutFiles, type LayoutFiles } from './layout-files.js';
import { partName } from './parted-file.js';
import { readVerified } from './verify.js';
import type { ContentOpener, ContentStream, PushResult, Store, TagDeleter } from './store.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
/** Held by whoever rewrites index.json (a few milliseconds at a time). */
export const INDEX_LOCK_FILE = 'index.json.lock';

/** A change to index.json this process made and has not written yet. */
type IndexChange = { ref: string; entry: Descriptor } | { ref: string; remove: true };

function refOf(m: Descriptor | undefined): string | undefined {
  return m?.annotations?.[ANNOTATION_REF_NAME];
}

function applyChanges(manifests: Descriptor[], changes: readonly IndexChange[]): Descriptor[] {
  let out = [...manifests];
  for (const c of changes) {
    if ('remove' in c) {
      out = out.filter((m) => refOf(m) !== c.ref);
      continue;
    }
    const i = out.findIndex((m) => refOf(m) === c.ref);
    if (i >= 0) out[i] = c.entry;
    else out.push(c.entry);
  }
  return out;
}

/** What identifies one version of index.json on disk: a rename makes a new inode. */
function stamp(s: Stats | undefined): string {
  return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'absent';
}

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface OpenLayoutOptions {
  /**
   * now: create the layout if it is not there (default); lazy: create it with the first write,
   * so a run that writes nothing leaves no directory behind; never: it must exist.
   */
  create?: 'now' | 'lazy' | 'never';
  /** Touch nothing on disk (dry runs, reading bundles). Tars are always read-only. */
  readOnly?: boolean;
  /**
   * Collect structural damage in `problems` instead of throwing (describing a bundle names
   * every problem at once).
   */
  tolerant?: boolean;
}

export class OciLayout {
  private index: IndexJson = { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [] };
  /** Structural damage found on open (tolerant mode only). */
  readonly problems: string[] = [];
  /** Whether index.json was there and readable (tolerant mode reads on without it). */
  indexRead = true;
  private created: boolean;
  private creating: Promise<void> | undefined;
  private flushing: Promise<void> | undefined;
  private pendingFlush: Promise<void> | undefined;
  /** Changes not yet written to index.json, in order. */
  private changes: IndexChange[] = [];
  /** The version of index.json `index` was read from (or written as). */
  private indexStamp = 'absent';

  private constructor(
    readonly files: LayoutFiles,
    private readonly writable: boolean,
    exists: boolean,
  ) {
    this.created = exists;
  }

  /** The directory or bundle file, absolute. */
  get path(): string {
    return this.files.display;
  }

  /** Whether `path` holds an OCI layout directory (an `oci-layout` file). */
  static async exists(path: string): Promise<boolean> {
    return (await stat(resolve(path, OCI_LAYOUT_FILE)).catch(() => undefined))?.isFile() ?? false;
  }

  static async open(path: string, opts: OpenLayoutOptions = {}): Promise<OciLayout> {
    const create = opts.create ?? 'now';
    const s = await stat(path).catch(() => undefined);
    if (!s && (/\.tar(\.part-\d+)?$/i.test(path) || (await stat(partName(path, 1)).catch(() => undefined)))) {
      // A bundle (or its parts): never created here, only read.
      const layout = new OciLayout(await openLayoutFiles(path), false, true);
      await layout.load('never', opts.tolerant ?? false).catch(async (e) => {
        await layout.files.close();
        throw e;
      });
      return layout;
    }
    if (!s && create !== 'never' && !opts.readOnly) {
      if (create === 'lazy') await assertCreatable(resolve(path));
      const layout = new OciLayout(new DirLayoutFiles(path), true, false);
      if (create === 'now') await layout.ensureCreated();
      return layout;
    }
    if (!s && create === 'lazy' && opts.readOnly) return new OciLayout(new DirLayoutFiles(path), false, false);
    const files = await openLayoutFiles(path);
    const writable = files instanceof DirLayoutFiles && !opts.readOnly;
    const layout = new OciLayout(files, writable, true);
    try {
      await layout.load(create, opts.tolerant ?? false);
    } catch (e) {
      await files.close();
      throw e;
    }
    return layout;
  }

  private async load(create: OpenLayoutOptions['create'], tolerant: boolean): Promise<void> {
    const dir = this.files.display;
    if (this.files.problem) this.problems.push(this.files.problem);
    const marker = await this.files.readRootFile(OCI_LAYOUT_FILE);
    if (marker === undefined) {
      // A directory that is not a layout yet becomes one (now, or with the first write).
      if (this.files.kind === 'dir' && (create === 'lazy' || (create === 'now' && this.writable))) {
        this.created = false;
        if (create === 'now') await this.ensureCreated();
        return;
      }
      if (!tolerant) throw new ChartMirrorError('LAYOUT', `${dir}: not an OCI image layout (no oci-layout file)`);
      this.problems.push(`${OCI_LAYOUT_FILE} is missing: not an OCI image layout`);
    } else {
      let version: unknown;
      try {
        version = (JSON.parse(marker.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      } catch {
        version = undefined;
      }
      if (version !== OCI_LAYOUT_VERSION) {
        if (!tolerant) throw new ChartMirrorError('LAYOUT', `${dir}: damaged OCI layout: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
        this.problems.push(`${OCI_LAYOUT_FILE} is damaged or names an unsupported version`);
      }
    }
    const before = this.files instanceof DirLayoutFiles ? await this.indexStat() : undefined;
    const raw = await this.files.readRootFile(INDEX_FILE);
    if (raw === undefined) {
      this.indexRead = false;
      if (tolerant) this.problems.push(`${INDEX_FILE} is missing`);
    } else {
      try {
        const idx = JSON.parse(raw.toString('utf8')) as IndexJson;
        if (!idx || !Array.isArray(idx.manifests)) throw new Error('index.json has no manifests list');
        this.index = idx;
        this.indexStamp = stamp(before);
      } catch (e) {
        if (!tolerant) throw new ChartMirrorError('LAYOUT', `${dir}: damaged OCI layout: ${(e as Error).message}`);
        this.indexRead = false;
        this.problems.push(`${INDEX_FILE} is damaged (${(e as Error).message})`);
      }
    }
    if (this.writable) {
      await (this.files as DirLayoutFiles).prepare();
      await (this.files as DirLayoutFiles).removeStaleTemps();
    }
  }

  /** Make the layout exist on disk (the first write of a lazily opened layout). */
  private ensureCreated(): Promise<void> {
    if (this.created) return Promise.resolve();
    if (!this.writable) return Promise.reject(new ChartMirrorError('LAYOUT', `${this.path}: opened read-only`));
    this.creating ??= (async () => {
      const files = this.files as DirLayoutFiles;
      await files.prepare();
      await files.writeRootFile(OCI_LAYOUT_FILE, JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
      // Another process may have created it first: its index.json is kept.
      await this.writeIndex();
      this.created = true;
    })();
    return this.creating;
  }

  /** Descriptors in index.json. */
  get manifests(): readonly Descriptor[] {
    return this.index.manifests;
  }

  /** Ref name -> descriptor, for entries with a valid digest. */
  refs(): Map<string, Descriptor> {
    const out = new Map<string, Descriptor>();
    for (const m of this.index.manifests) {
      const ref = m?.annotations?.[ANNOTATION_REF_NAME];
      if (ref && typeof m.digest === 'string' && isDigest(m.digest)) out.set(ref, m);
    }
    return out;
  }

  resolveRef(ref: string): Descriptor | undefined {
    return this.index.manifests.find((m) => m?.annotations?.[ANNOTATION_REF_NAME] === ref && isDigest(m.digest));
  }

  /** A manifest by digest: from index.json, else from its blob (its body names its type). */
  async resolveDigest(digest: string): Promise<Descriptor | undefined> {
    const listed = this.index.manifests.find((m) => m?.digest === digest);
    if (listed) return { mediaType: listed.mediaType || OCI_MANIFEST_MEDIA_TYPE, digest, size: listed.size };
    const size = this.created ? await this.files.blobSize(digest) : undefined;
    if (size === undefined || size > LIMITS.manifestBytes) return undefined;
    const desc: Descriptor = { mediaType: '', digest, size };
    try {
      const body = JSON.parse((await readVerified(await this.files.openBlob(digest), desc, LIMITS.manifestBytes)).toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
      desc.mediaType = typeof body.mediaType === 'string' ? body.mediaType : Array.isArray(body.manifests) ? OCI_INDEX_MEDIA_TYPE : OCI_MANIFEST_MEDIA_TYPE;
      return desc;
    } catch {
      return undefined;
    }
  }

  async blobSize(digest: string): Promise<number | undefined> {
    return this.created ? this.files.blobSize(digest) : undefined;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    return (await this.blobSize(desc.digest)) === desc.size;
  }

  async openBlob(desc: Descriptor): Promise<ContentStream> {
    if (!this.created) throw new ChartMirrorError('NOT_FOUND', `${this.path}: blob ${desc.digest} is missing`);
    return this.files.openBlob(desc.digest);
  }

  private assertWritable(): void {
    if (!this.writable) {
      const what = this.files.kind === 'tar' ? 'a bundle (a tar) is read-only' : 'opened read-only';
      throw new ChartMirrorError('LAYOUT', `${this.path}: ${what}`);
    }
  }

  /** Store a blob from a stream (verified); returns the bytes written. */
  async writeBlob(desc: Descriptor, stream: ContentStream): Promise<number> {
    this.assertWritable();
    await this.ensureCreated();
    return (this.files as DirLayoutFiles).writeBlob(desc, stream);
  }

  /** Point `ref` at `desc` (replacing an older descriptor of that ref); persisted by a group commit. */
  async setRef(ref: string, desc: Descriptor, extra: Record<string, string> = {}): Promise<void> {
    this.assertWritable();
    await this.ensureCreated();
    const entry: Descriptor = {
      mediaType: desc.mediaType || OCI_MANIFEST_MEDIA_TYPE,
      digest: desc.digest,
      size: desc.size,
      annotations: { ...extra, [ANNOTATION_REF_NAME]: ref },
    };
    this.change({ ref, entry });
    return this.flush();
  }

  async removeRef(ref: string): Promise<void> {
    this.assertWritable();
    await this.refresh();
    if (!this.index.manifests.some((m) => refOf(m) === ref)) return;
    this.change({ ref, remove: true });
    await this.flush();
  }

  /** Note a change: visible to this process's reads at once, written by the next flush. */
  private change(c: IndexChange): void {
    this.changes.push(c);
    this.index.manifests = applyChanges(this.index.manifests, [c]);
  }

  private async indexStat(): Promise<Stats | undefined> {
    return stat((this.files as DirLayoutFiles).rootPath(INDEX_FILE)).catch(() => undefined);
  }

  /**
   * Read index.json again when another process has rewritten it since (one stat when it has
   * not), keeping this process's unwritten changes on top; also when another process created
   * the layout after this one opened it lazily. Tars never change.
   */
  async refresh(): Promise<void> {
    if (!(this.files instanceof DirLayoutFiles)) return;
    const s = await this.indexStat();
    if (stamp(s) === this.indexStamp) return;
    const disk = await this.readIndexFile();
    if (!disk) return;
    this.index = { ...disk.index, manifests: applyChanges(disk.index.manifests, this.changes) };
    this.indexStamp = disk.stamp;
  }

  /** index.json as it is on disk now, or undefined when there is none; damage is an error. */
  private async readIndexFile(): Promise<{ index: IndexJson; stamp: string } | undefined> {
    const s = await this.indexStat();
    const raw = await this.files.readRootFile(INDEX_FILE);
    if (raw === undefined) return undefined;
    let idx: IndexJson;
    try {
      idx = JSON.parse(raw.toString('utf8')) as IndexJson;
      if (!idx || !Array.isArray(idx.manifests)) throw new Error('index.json has no manifests list');
    } catch (e) {
      throw new ChartMirrorError('LAYOUT', `${this.path}: damaged OCI layout: ${(e as Error).message}; not overwritten`);
    }
    return { index: idx, stamp: stamp(s) };
  }

  /**
   * Group commit: callers that changed the index while a write was in flight share the next
   * write, so N concurrent tags cost a handful of index.json rewrites, not N.
   */
  flush(): Promise<void> {
    if (!this.writable || !this.created) return Promise.resolve();
    if (this.pendingFlush) return this.pendingFlush;
    if (!this.flushing) {
      if (this.changes.length === 0) return Promise.resolve();
      this.flushing = this.writeIndex().finally(() => {
        this.flushing = undefined;
      });
      return this.flushing;
    }
    this.pendingFlush = this.flushing.then(
      () => {
        this.pendingFlush = undefined;
        return this.flush();
      },
      () => {
        this.pendingFlush = undefined;
        return this.flush();
      },
    );
    return this.pendingFlush;
  }

  /**
   * Under the layout's lock: read index.json as it is now (another process may have added refs
   * since this one read it), apply this process's changes, write it atomically. Writes nothing
   * when there is nothing to change and the file exists.
   */
  private async writeIndex(): Promise<void> {
    const files = this.files as DirLayoutFiles;
    const changes = this.changes;
    this.changes = [];
    try {
      await withFileLock(
        files.rootPath(INDEX_LOCK_FILE),
        async (lock) => {
          const disk = await this.readIndexFile();
          if (disk && changes.length === 0) {
            this.index = disk.index;
            this.indexStamp = disk.stamp;
            return;
          }
          const base = disk?.index ?? { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [] };
          const name = (m: Descriptor) => refOf(m) ?? '';
          const merged: IndexJson = { ...base, manifests: applyChanges(base.manifests, changes).sort((a, b) => name(a).localeCompare(name(b))) };
          await files.writeRootFile(INDEX_FILE, JSON.stringify(merged, null, 2) + '\n', () => lock.assertHeld());
          // Changes made while this write was in flight stay on top, for the next one.
          this.index = { ...merged, manifests: applyChanges(merged.manifests, this.changes) };
          this.indexStamp = stamp(await this.indexStat());
        },
        { what: `OCI layout ${this.path} (${INDEX_FILE})` },
      );
    } catch (e) {
      // Not written: what this process changed is forgotten (its callers learn it failed), and
      // its view of index.json is read again from disk.
      this.indexStamp = 'unknown';
      await this.refresh().catch(() => undefined);
      throw e;
    }
  }

  /** A store for one repository of this layout (`''`: ref names used as they are). */
  repository(repository: string): LayoutStore {
    return new LayoutStore(this, repository);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.files.close();
  }
}

/**
 * One repository of a layout as a store: tag `t` is the ref name `<repository>:t` (or `t`
 * when the store is the whole layout). Bundles (tars) are read-only: pushing fails.
 */
export class LayoutStore implements Store, TagDeleter {
  readonly kind: 'layout' | 'bundle';
  readonly existsCheckMinBytes = 0;

  constructor(
    readonly layout: OciLayout,
    readonly repository: string,
  ) {
    this.kind = layout.files.kind === 'tar' ? 'bundle' : 'layout';
  }

  get display(): string {
    return `oci-layout://${this.layout.path}${this.repository ? `/${this.repository}` : ''}`;
  }

  /** `<repository>:<tag>`; a digest standing in for a tag (an image named by digest only) is `<repository>@<digest>`. */
  private refName(tag: string): string {
    if (isDigest(tag)) return this.repository ? `${this.repository}@${tag}` : tag;
    return this.repository ? `${this.repository}:${tag}` : tag;
  }

  async resolve(reference: string): Promise<Descriptor | undefined> {
    if (isDigest(reference)) return this.layout.resolveDigest(reference);
    await this.layout.refresh();
    const d = this.layout.resolveRef(this.refName(reference));
    return d && { mediaType: d.mediaType || OCI_MANIFEST_MEDIA_TYPE, digest: d.digest, size: d.size };
  }

  fetch(desc: Descriptor): Promise<ContentStream> {
    return this.layout.openBlob(desc);
  }

  exists(desc: Descriptor): Promise<boolean> {
    return this.layout.hasBlob(desc);
  }

  async tags(): Promise<string[]> {
    await this.layout.refresh();
    const prefix = this.repository ? `${this.repository}:` : '';
    const out: string[] = [];
    for (const ref of this.layout.refs().keys()) if (ref.startsWith(prefix)) out.push(ref.slice(prefix.length));
    return out.sort();
  }

  async push(desc: Descriptor, content: ContentOpener, opts: { signal?: AbortSignal } = {}): Promise<PushResult> {
    if (await this.layout.hasBlob(desc)) return { how: 'exists', bytes: 0 };
    const bytes = await this.layout.writeBlob(desc, await content(opts.signal));
    return { how: 'uploaded', bytes };
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    if (!(await this.layout.hasBlob(desc))) throw new ChartMirrorError('NOT_FOUND', `${this.display}: cannot tag ${tag}: no manifest ${desc.digest}`);
    await this.layout.setRef(this.refName(tag), desc);
  }

  async deleteTag(tag: string): Promise<void> {
    await this.layout.removeRef(this.refName(tag));
  }

  async close(): Promise<void> {
    await this.layout.flush();
  }
}

/** The nearest existing ancestor of `dir` must be a writable directory. */
async function assertCreatable(dir: string): Promise<void> {
  let cur = dir;
  for (;;) {
    try {
      const s = await stat(cur);
      if (!s.isDirectory()) throw new ChartMirrorError('LAYOUT', `${dir}: cannot create an OCI layout here (${cur} is not a directory)`);
      await access(cur, constants.W_OK);
      return;
    } catch (e) {
      if (e instanceof ChartMirrorError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new ChartMirrorError('LAYOUT', `${dir}: cannot create an OCI layout here (${code ?? (e as Error).message})`);
      const parent = dirname(cur);
      if (parent === cur) return;
      cur = parent;
    }
  }
}
