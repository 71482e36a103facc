/**
 * An OCI image layout (image-spec image-layout.md) as stores: `oci-layout`, `index.json` with
 * one descriptor per tagged manifest, annotated `org.opencontainers.image.ref.name` =
 * `<repository>:<tag>`, and content under `blobs/sha256/`. The same reader serves layout
 * directories and bundles (a tar of a layout, whole or in parts, read-only).
 *
 * Writes are crash-safe: blobs are verified into temp files and renamed into place; index.json
 * is rewritten atomically in group commits, so a crash never leaves a half-written file under a
 * final name, and re-runs add, never duplicate.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ChartMirrorError } from '../errors.js';
import { LIMITS } from '../defaults.js';
import type { Descriptor } from '../oci/descriptor.js';
import { ANNOTATION_REF_NAME, OCI_INDEX_MEDIA_TYPE, OCI_LAYOUT_VERSION, OCI_MANIFEST_MEDIA_TYPE } from '../oci/media-types.js';
import { isDigest } from '../oci/reference.js';
import { DirLayoutFiles, openLayoutFiles, type LayoutFiles } from './layout-files.js';
import { partName } from './parted-file.js';
import { readVerified } from './verify.js';
import type { ContentOpener, ContentStream, PushResult, Store, TagDeleter } from './store.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';

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
    const raw = await this.files.readRootFile(INDEX_FILE);
    if (raw === undefined) {
      this.indexRead = false;
      if (tolerant) this.problems.push(`${INDEX_FILE} is missing`);
    } else {
      try {
        const idx = JSON.parse(raw.toString('utf8')) as IndexJson;
        if (!idx || !Array.isArray(idx.manifests)) throw new Error('index.json has no manifests list');
        this.index = idx;
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
    const i = this.index.manifests.findIndex((m) => m?.annotations?.[ANNOTATION_REF_NAME] === ref);
    if (i >= 0) this.index.manifests[i] = entry;
    else this.index.manifests.push(entry);
    return this.flush();
  }

  async removeRef(ref: string): Promise<void> {
    this.assertWritable();
    const before = this.index.manifests.length;
    this.index.manifests = this.index.manifests.filter((m) => m?.annotations?.[ANNOTATION_REF_NAME] !== ref);
    if (this.index.manifests.length !== before) await this.flush();
  }

  /**
   * Group commit: callers that changed the index while a write was in flight share the next
   * write, so N concurrent tags cost a handful of index.json rewrites, not N.
   */
  flush(): Promise<void> {
    if (!this.writable || !this.created) return Promise.resolve();
    if (this.pendingFlush) return this.pendingFlush;
    if (!this.flushing) {
      this.flushing = this.writeIndex().finally(() => {
        this.flushing = undefined;
      });
      return this.flushing;
    }
    this.pendingFlush = this.flushing.then(() => {
      this.pendingFlush = undefined;
      return this.flush();
    });
    return this.pendingFlush;
  }

  private async writeIndex(): Promise<void> {
    const name = (m: Descriptor) => m.annotations?.[ANNOTATION_REF_NAME] ?? '';
    this.index.manifests = [...this.index.manifests].sort((a, b) => name(a).localeCompare(name(b)));
    await (this.files as DirLayoutFiles).writeRootFile(INDEX_FILE, JSON.stringify(this.index, null, 2) + '\n');
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
