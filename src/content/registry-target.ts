import type { Descriptor } from '../oci/descriptor.js';
import { RegistryClient } from '../registry/client.js';
import { withRetry, type RetryContext, type RetryPolicy } from '../http/retry.js';
import { blobBytes, type ArtifactContent, type PushOutcome, type Target } from './target.js';

/** Blobs pushed during this run, by registry host: the source of cross-repository mounts. */
export class BlobLocator {
  private readonly seen = new Map<string, string>();
  remember(host: string, digest: string, repo: string): void {
    this.seen.set(`${host}\u0000${digest}`, repo);
  }
  where(host: string, digest: string): string | undefined {
    return this.seen.get(`${host}\u0000${digest}`);
  }
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
        const from = this.opts.mount ? this.opts.locator.where(host, d.digest) : undefined;
        if (from === repo) {
          outcome.blobsSkipped++;
          return;
        }
        if (!from && d.size >= HEAD_FIRST_THRESHOLD && (await this.retry(() => this.client.blobExists(repo, d.digest, signal), signal))) {
          outcome.blobsSkipped++;
          this.opts.locator.remember(host, d.digest, repo);
          return;
        }
        const bytes = await blobBytes(blob);
        // A retry restarts the upload from its POST: a failed session is gone.
        const r = await this.retry(() => this.client.pushBlob(repo, d, bytes, { mountFrom: from, signal }), signal);
        if (r.how === 'mounted') outcome.blobsMounted++;
        else outcome.bytesUploaded += d.size;
        this.opts.locator.remember(host, d.digest, repo);
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
