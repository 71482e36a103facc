import type { Descriptor } from '../oci/descriptor.js';
import { RegistryClient } from '../registry/client.js';
import { withRetry, type RetryContext, type RetryPolicy } from '../http/retry.js';
import { blobBytes, type ArtifactContent, type PushOutcome, type Target } from './target.js';

/**
 * Blobs pushed during this run, by registry host: the source of cross-repository mounts. An
 * upload in flight counts too: targets on one registry receive a chart at the same time, and
 * without waiting for the first upload the second would upload the same bytes instead of mounting.
 */
export class BlobLocator {
  private readonly landed = new Map<string, string>();
  private readonly pending = new Map<string, Promise<string | undefined>>();

  remember(host: string, digest: string, repo: string): void {
    this.landed.set(key(host, digest), repo);
  }

  where(host: string, digest: string): string | undefined {
    return this.landed.get(key(host, digest));
  }

  /**
   * Where the blob is, or a promise of where it will be once the upload in flight ends
   * (undefined if it fails); undefined when nobody has it or is pushing it.
   */
  lookup(host: string, digest: string): string | Promise<string | undefined> | undefined {
    const k = key(host, digest);
    return this.landed.get(k) ?? this.pending.get(k);
  }

  /** Announce an upload into `repo`; call the result when it ends, with whether the blob landed. */
  begin(host: string, digest: string, repo: string): (landed: boolean) => void {
    const k = key(host, digest);
    let settle!: (repo: string | undefined) => void;
    const p = new Promise<string | undefined>((resolve) => (settle = resolve));
    this.pending.set(k, p);
    return (landed) => {
      if (this.pending.get(k) === p) this.pending.delete(k);
      if (landed) this.landed.set(k, repo);
      settle(landed ? repo : this.landed.get(k));
    };
  }
}

function key(host: string, digest: string): string {
  return `${host}\u0000${digest}`;
}

/** Blobs below this size are uploaded without asking first whether they exist. */
const HEAD_FIRST_THRESHOLD = 1024 * 1024;

export class RegistryTarget implements Target {
  readonly kind = 'registry' as const;
  readonly id: string;

  constructor(
    readonly name: string,
    private readonly client: RegistryClient,
    private readonly opts: {
      manifestMediaType: string;
      locator: BlobLocator;
      mount: boolean;
      retry: RetryPolicy;
      onRetry?: RetryContext['onRetry'];
    },
  ) {
    this.id = `oci://${client.host}`;
  }

  reference(repo: string, tag: string, digest?: string): string {
    return `oci://${this.client.host}/${repo}${digest ? `@${digest}` : `:${tag}`}`;
  }

  async listTags(repo: string, signal?: AbortSignal): Promise<Set<string>> {
    return new Set(await this.retry(() => this.client.listTags(repo, signal), signal));
  }

  async resolve(repo: string, tag: string, signal?: AbortSignal): Promise<string | undefined> {
    return (await this.retry(() => this.client.resolve(repo, tag, signal), signal))?.digest;
  }

  async push(repo: string, tag: string, content: ArtifactContent, signal?: AbortSignal): Promise<PushOutcome> {
    const outcome: PushOutcome = { bytesUploaded: 0, blobsSkipped: 0, blobsMounted: 0 };
    const host = this.client.host;
    // Blobs first, all of them confirmed, then the manifest: the tag never points at missing content.
    await Promise.all(
      content.blobs.map(async (blob) => {
        const d = blob.descriptor;
        const { locator, mount } = this.opts;
        // Decided before the first await, so that concurrent pushes of one blob see each other.
        const known = mount ? locator.lookup(host, d.digest) : undefined;
        const done = mount && known === undefined ? locator.begin(host, d.digest, repo) : undefined;
        let landed = false;
        try {
          const from = await known;
          if (from === repo) {
            outcome.blobsSkipped++;
            return;
          }
          if (!from && d.size >= HEAD_FIRST_THRESHOLD && (await this.retry(() => this.client.blobExists(repo, d.digest, signal), signal))) {
            outcome.blobsSkipped++;
            landed = true;
            return;
          }
          const bytes = await blobBytes(blob);
          // A retry restarts the upload from its POST: a failed session is gone.
          const r = await this.retry(() => this.client.pushBlob(repo, d, bytes, { mountFrom: from, signal }), signal);
          if (r.how === 'mounted') outcome.blobsMounted++;
          else outcome.bytesUploaded += d.size;
          landed = true;
          if (!done && mount) locator.remember(host, d.digest, repo);
        } finally {
          done?.(landed);
        }
      }),
    );
    const mediaType = content.manifest.descriptor.mediaType || this.opts.manifestMediaType;
    await this.retry(() => this.client.putManifest(repo, tag, content.manifest.bytes, mediaType, signal), signal);
    outcome.bytesUploaded += content.manifest.bytes.length;
    return outcome;
  }

  private retry<T>(op: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(op, this.opts.retry, { signal, onRetry: this.opts.onRetry });
  }

  fetchManifest(repo: string, reference: string, signal?: AbortSignal) {
    return this.retry(() => this.client.fetchManifest(repo, reference, signal), signal);
  }

  fetchBlob(repo: string, descriptor: Descriptor, signal?: AbortSignal): Promise<Buffer> {
    return this.retry(() => this.client.fetchBlob(repo, descriptor, signal), signal);
  }

  async close(): Promise<void> {
    // Connections belong to the shared HttpClient.
  }
}
