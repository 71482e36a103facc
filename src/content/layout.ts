import { constants } from 'node:fs';
import { access, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ChartMirrorError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import {
  ANNOTATION_REF_NAME,
  OCI_INDEX_MEDIA_TYPE,
  OCI_LAYOUT_VERSION,
  OCI_MANIFEST_MEDIA_TYPE,
} from '../oci/media-types.js';
import { digestHex, isSha256Digest, sha256Digest } from '../util/digest.js';
import { TEMP_PREFIX, writeFileAtomic } from '../util/fs-atomic.js';
import { blobBytes, type ArtifactContent, type PushOutcome, type Target } from './target.js';

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/**
 * An OCI image layout directory (image-spec image-layout.md): `oci-layout`, `index.json` with
 * one descriptor per tagged manifest, annotated `org.opencontainers.image.ref.name` =
 * `<repository>:<tag>`, and content under `blobs/sha256/`. Blobs are written atomically and
 * checked against their digest; index.json is rewritten atomically in group commits, so a
 * crash never leaves a half-written file under a final name. Re-runs add, never duplicate.
 */
export class OciLayout {
  private index: IndexJson = { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [] };
  private dirty = false;
  private flushing: Promise<void> | undefined;
  private pendingFlush: Promise<void> | undefined;

  private constructor(readonly dir: string) {}

  /**
   * Open (or create) a layout. `readOnly` leaves an existing layout untouched: no blobs
   * directory is made and no leftover temp file removed (dry runs, reading bundles).
   */
  static async open(dir: string, opts: { create: boolean; readOnly?: boolean } = { create: true }): Promise<OciLayout> {
    const layout = new OciLayout(resolve(dir));
    await layout.load(opts.create, opts.readOnly ?? false);
    return layout;
  }

  /** Whether `dir` holds an OCI layout (an `oci-layout` file). */
  static async exists(dir: string): Promise<boolean> {
    try {
      return (await stat(join(dir, 'oci-layout'))).isFile();
    } catch {
      return false;
    }
  }

  private async load(create: boolean, readOnly: boolean): Promise<void> {
    const markerPath = join(this.dir, 'oci-layout');
    let marker: string | undefined;
    try {
      marker = await readFile(markerPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw layoutError(this.dir, e);
    }
    if (marker === undefined) {
      if (!create) throw new ChartMirrorError('LAYOUT', `${this.dir}: not an OCI image layout (no oci-layout file)`);
      await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true }).catch((e) => {
        throw layoutError(this.dir, e);
      });
      await writeFileAtomic(markerPath, JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
      await this.writeIndex();
      return;
    }
    try {
      const parsed = JSON.parse(marker) as { imageLayoutVersion?: string };
      if (parsed.imageLayoutVersion !== OCI_LAYOUT_VERSION) {
        throw new Error(`unsupported imageLayoutVersion ${JSON.stringify(parsed.imageLayoutVersion)}`);
      }
      const raw = await readFile(join(this.dir, 'index.json'), 'utf8').catch((e) => {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      });
      if (raw !== undefined) {
        const idx = JSON.parse(raw) as IndexJson;
        if (!Array.isArray(idx.manifests)) throw new Error('index.json has no manifests list');
        this.index = idx;
      }
    } catch (e) {
      throw new ChartMirrorError('LAYOUT', `${this.dir}: damaged OCI layout: ${(e as Error).message}`);
    }
    if (readOnly) return;
    await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    await this.removeStaleTemps();
  }

  /** Temp files are only ever ours and only ever unfinished: a crash left them. */
  private async removeStaleTemps(): Promise<void> {
    const dirs = [this.dir, join(this.dir, 'blobs', 'sha256')];
    for (const d of dirs) {
      const names = await readdir(d).catch(() => [] as string[]);
      await Promise.all(names.filter((n) => n.startsWith(TEMP_PREFIX)).map((n) => rm(join(d, n), { force: true })));
    }
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(digest));
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    try {
      const s = await stat(this.blobPath(desc.digest));
      return s.isFile() && s.size === desc.size;
    } catch {
      return false;
    }
  }

  async writeBlob(desc: Descriptor, bytes: Buffer): Promise<void> {
    if (bytes.length !== desc.size || sha256Digest(bytes) !== desc.digest) {
      throw new ChartMirrorError('DIGEST', `blob ${desc.digest}: ${bytes.length} bytes do not match the descriptor`);
    }
    try {
      await writeFileAtomic(this.blobPath(desc.digest), bytes);
    } catch (e) {
      throw layoutError(this.dir, e);
    }
  }

  async readBlob(desc: Descriptor): Promise<Buffer> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.blobPath(desc.digest));
    } catch (e) {
      throw new ChartMirrorError('LAYOUT', `${this.dir}: blob ${desc.digest} is missing`, { cause: e });
    }
    if (bytes.length !== desc.size || sha256Digest(bytes) !== desc.digest) {
      throw new ChartMirrorError('DIGEST', `${this.dir}: blob ${desc.digest} is damaged (content does not match its digest)`);
    }
    return bytes;
  }

  /** Descriptors in index.json, each with its ref name. */
  get manifests(): readonly Descriptor[] {
    return this.index.manifests;
  }

  refs(): Map<string, Descriptor> {
    const out = new Map<string, Descriptor>();
    for (const m of this.index.manifests) {
      const ref = m.annotations?.[ANNOTATION_REF_NAME];
      if (ref) out.set(ref, m);
    }
    return out;
  }

  resolveRef(ref: string): Descriptor | undefined {
    return this.index.manifests.find((m) => m.annotations?.[ANNOTATION_REF_NAME] === ref);
  }

  /** Point `ref` at `desc` (replacing an older descriptor of that ref); persisted by the next flush. */
  setRef(ref: string, desc: Descriptor, extra: Record<string, string> = {}): Promise<void> {
    const entry: Descriptor = {
      mediaType: desc.mediaType || OCI_MANIFEST_MEDIA_TYPE,
      digest: desc.digest,
      size: desc.size,
      annotations: { ...extra, [ANNOTATION_REF_NAME]: ref },
    };
    const i = this.index.manifests.findIndex((m) => m.annotations?.[ANNOTATION_REF_NAME] === ref);
    if (i >= 0) this.index.manifests[i] = entry;
    else this.index.manifests.push(entry);
    this.dirty = true;
    return this.flush();
  }

  /**
   * Group commit: callers that changed the index while a write was in flight share the next
   * write, so N concurrent tags cost a handful of index.json rewrites, not N.
   */
  flush(): Promise<void> {
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
    this.dirty = false;
    const manifests = [...this.index.manifests].sort((a, b) =>
      (a.annotations?.[ANNOTATION_REF_NAME] ?? '').localeCompare(b.annotations?.[ANNOTATION_REF_NAME] ?? ''),
    );
    this.index.manifests = manifests;
    try {
      await writeFileAtomic(join(this.dir, 'index.json'), JSON.stringify(this.index, null, 2) + '\n');
    } catch (e) {
      throw layoutError(this.dir, e);
    }
  }

  get hasUnsavedChanges(): boolean {
    return this.dirty;
  }
}

function layoutError(dir: string, e: unknown): ChartMirrorError {
  const code = (e as NodeJS.ErrnoException).code;
  return new ChartMirrorError('LAYOUT', `${dir}: cannot write OCI layout (${code ?? (e as Error).message})`, { cause: e });
}

/**
 * The layout as a Target: repository + tag become the ref name `<repository>:<tag>`. A layout
 * that does not exist yet is created by the first push, so a run that pushes nothing (a dry
 * run, a run stopped by a config error) leaves no directory behind.
 */
export class LayoutTarget implements Target {
  readonly kind = 'layout' as const;
  readonly id: string;
  readonly dir: string;
  private layout: OciLayout | undefined;
  private creating: Promise<OciLayout> | undefined;

  constructor(
    readonly name: string,
    layout: OciLayout | string,
  ) {
    this.dir = typeof layout === 'string' ? resolve(layout) : layout.dir;
    this.layout = typeof layout === 'string' ? undefined : layout;
    this.id = `layout:${this.dir}`;
  }

  /** Open an existing layout, or create it now. */
  static async open(name: string, dir: string): Promise<LayoutTarget> {
    return new LayoutTarget(name, await OciLayout.open(dir));
  }

  /**
   * Open an existing layout (read-only for a dry run), or prepare to create it on the first push,
   * after checking that it could be: an unwritable place is a config error before any work.
   */
  static async openLazily(name: string, dir: string, opts: { readOnly: boolean }): Promise<LayoutTarget> {
    if (await OciLayout.exists(dir)) return new LayoutTarget(name, await OciLayout.open(dir, { create: false, readOnly: opts.readOnly }));
    if (!opts.readOnly) await assertCreatable(resolve(dir));
    return new LayoutTarget(name, dir);
  }

  private writable(): Promise<OciLayout> {
    if (this.layout) return Promise.resolve(this.layout);
    this.creating ??= OciLayout.open(this.dir, { create: true }).then((l) => (this.layout = l));
    return this.creating;
  }

  reference(repo: string, tag: string, digest?: string): string {
    return `oci-layout://${this.dir}/${repo}${digest ? `@${digest}` : `:${tag}`}`;
  }

  async listTags(repo: string): Promise<Set<string>> {
    const prefix = `${repo}:`;
    const tags = new Set<string>();
    for (const ref of this.layout?.refs().keys() ?? []) if (ref.startsWith(prefix)) tags.add(ref.slice(prefix.length));
    return tags;
  }

  async resolve(repo: string, tag: string): Promise<string | undefined> {
    return this.layout?.resolveRef(`${repo}:${tag}`)?.digest;
  }

  async push(repo: string, tag: string, content: ArtifactContent): Promise<PushOutcome> {
    const layout = await this.writable();
    const outcome: PushOutcome = { bytesUploaded: 0, blobsSkipped: 0, blobsMounted: 0 };
    for (const blob of content.blobs) {
      if (await layout.hasBlob(blob.descriptor)) {
        outcome.blobsSkipped++;
        continue;
      }
      await layout.writeBlob(blob.descriptor, await blobBytes(blob));
      outcome.bytesUploaded += blob.descriptor.size;
    }
    const m = content.manifest;
    if (!(await layout.hasBlob(m.descriptor))) {
      await layout.writeBlob(m.descriptor, m.bytes);
      outcome.bytesUploaded += m.bytes.length;
    }
    await layout.setRef(`${repo}:${tag}`, m.descriptor);
    return outcome;
  }

  async fetchManifest(repo: string, reference: string): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    const layout = this.layout;
    const desc = !layout
      ? undefined
      : isSha256Digest(reference)
        ? layout.manifests.find((m) => m.digest === reference)
        : layout.resolveRef(`${repo}:${reference}`);
    if (!layout || !desc) throw new ChartMirrorError('LAYOUT', `${this.dir}: no manifest ${repo}:${reference}`);
    return { descriptor: desc, bytes: await layout.readBlob(desc) };
  }

  fetchBlob(_repo: string, descriptor: Descriptor): Promise<Buffer> {
    if (!this.layout) throw new ChartMirrorError('LAYOUT', `${this.dir}: no blob ${descriptor.digest}`);
    return this.layout.readBlob(descriptor);
  }

  async close(): Promise<void> {
    await this.layout?.flush();
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
