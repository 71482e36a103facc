import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ChartMirrorError } from '../errors.js';
import type { Endpoint, HttpResponse } from '../http/client.js';
import { statusError } from '../http/client.js';
import { displayUrl, urlHost } from '../http/redact-url.js';
import { withRetry, type RetryContext, type RetryPolicy } from '../http/retry.js';
import { registerSecret } from '../util/secrets.js';
import { LIMITS } from '../defaults.js';
import { resolveChartUrl, sameOrigin } from './resolve-url.js';

export interface IndexCacheInfo {
  etag?: string;
  lastModified?: string;
}

/** What a size look-up learnt: the size when known, or why the file seems missing. */
export interface ArchiveSize {
  bytes?: number;
  /** Set when the source says the file does not exist (e.g. "HEAD 404"). */
  missing?: string;
}

export interface FetchedIndex {
  /** Undefined when the server answered 304 Not Modified to our conditional request. */
  bytes?: Buffer;
  etag?: string;
  lastModified?: string;
  url: string;
}

/** Archives larger than this are refused before they fill memory (Helm's own limit is 100 MiB unpacked). */
const MAX_ARCHIVE_BYTES = LIMITS.archiveBytes;
const MAX_INDEX_BYTES = LIMITS.indexBytes;
const MAX_REDIRECTS = 10;

/**
 * A classic chart repository: index.yaml plus archives, over HTTP(S) or from the file system.
 * Requests send no Accept-Encoding and nothing is decoded, so archives arrive byte for byte as
 * served. Credentials go only to the repository's own scheme, host and port unless
 * passCredentials is set (Helm's rule); redirects to another origin drop them.
 */
export class ChartRepository {
  private readonly authHeader?: string;
  private readonly unreachableForSizes = new Set<string>();

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly opts: {
      endpoint: Endpoint;
      auth?: { username: string; password: string };
      passCredentials: boolean;
      retry: RetryPolicy;
      onRetry?: RetryContext['onRetry'];
    },
  ) {
    if (opts.auth) {
      this.authHeader = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
      registerSecret(opts.auth.password);
      registerSecret(this.authHeader);
    }
  }

  get isLocal(): boolean {
    return this.url.startsWith('file:');
  }

  indexUrl(): string {
    return resolveChartUrl(this.url, 'index.yaml');
  }

  chartUrl(ref: string): string {
    return resolveChartUrl(this.url, ref);
  }

  /** GET index.yaml, conditionally when we hold validators from the last run. */
  async fetchIndex(cache?: IndexCacheInfo, signal?: AbortSignal): Promise<FetchedIndex> {
    const url = this.indexUrl();
    if (this.isLocal) {
      const bytes = await this.readLocal(url, 'index');
      if (!bytes) throw new ChartMirrorError('INDEX', `source ${this.name}: ${fileURLToPath(url)} not found`);
      return { bytes, url };
    }
    const headers: Record<string, string> = {};
    if (cache?.etag) headers['if-none-match'] = cache.etag;
    if (cache?.lastModified) headers['if-modified-since'] = cache.lastModified;
    return this.retry(async () => {
      const res = await this.get(url, headers, signal);
      if (res.status === 304 && cache) {
        await res.dump();
        return { url, etag: cache.etag, lastModified: cache.lastModified };
      }
      if (res.status !== 200) {
        await res.dump();
        throw statusError('INDEX', res, `source ${this.name}: GET ${displayUrl(res.url)}: ${describeStatus(res.status)}`);
      }
      const bytes = await res.buffer(MAX_INDEX_BYTES);
      return { bytes, url, etag: res.header('etag'), lastModified: res.header('last-modified') };
    }, signal);
  }

  /**
   * Download a file. Undefined when it does not exist (404/410, and 403 for .prov files on
   * object stores that hide missing keys). Other failures throw; network faults are retried.
   */
  async download(
    url: string,
    opts: { what: 'archive' | 'provenance'; signal?: AbortSignal },
  ): Promise<Buffer | undefined> {
    if (url.startsWith('file:')) return this.readLocal(url, opts.what);
    return this.retry(async () => {
      const res = await this.get(
        url,
        opts.what === 'archive' ? { accept: 'application/gzip,application/octet-stream' } : {},
        opts.signal,
      );
      if (res.status === 404 || res.status === 410 || (opts.what === 'provenance' && res.status === 403)) {
        await res.dump();
        return undefined;
      }
      if (res.status !== 200) {
        await res.dump();
        throw statusError('DOWNLOAD', res, `GET ${displayUrl(res.url)}: ${describeStatus(res.status)}`);
      }
      const declared = Number(res.header('content-length') ?? NaN);
      const bytes = await res.buffer(MAX_ARCHIVE_BYTES);
      if (Number.isFinite(declared) && bytes.length !== declared) {
        throw new ChartMirrorError('NETWORK', `GET ${displayUrl(url)}: body truncated (${bytes.length} of ${declared} bytes)`, {
          retryable: true,
          host: urlHost(url),
        });
      }
      return bytes;
    }, opts.signal);
  }

  /**
   * The size of a file without downloading it, for plans: `stat` for file://, else one HEAD
   * (Content-Length), not retried. Unknown sizes are simply absent.
   */
  async archiveSize(url: string, signal?: AbortSignal): Promise<ArchiveSize> {
    if (url.startsWith('file:')) {
      try {
        return { bytes: (await stat(fileURLToPath(url))).size };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return code === 'ENOENT' || code === 'ENOTDIR' ? { missing: 'no such file' } : {};
      }
    }
    // A host that cannot be reached once is not asked again: a plan over a large index would
    // otherwise wait out one connect or DNS timeout per version.
    const origin = new URL(url).origin;
    if (this.unreachableForSizes.has(origin)) return {};
    let res: HttpResponse;
    try {
      res = await this.get(url, { accept: 'application/gzip,application/octet-stream' }, signal, 'HEAD');
    } catch (e) {
      this.unreachableForSizes.add(origin);
      throw e;
    }
    await res.dump();
    if (res.status === 404 || res.status === 410) return { missing: `HEAD ${res.status}` };
    const declared = Number(res.header('content-length') ?? NaN);
    return res.status === 200 && Number.isSafeInteger(declared) && declared >= 0 ? { bytes: declared } : {};
  }

  private retry<T>(op: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(op, this.opts.retry, { signal, onRetry: this.opts.onRetry });
  }

  /** GET (or HEAD) following redirects ourselves, so credentials never follow to another origin. */
  private async get(url: string, headers: Record<string, string>, signal?: AbortSignal, method: 'GET' | 'HEAD' = 'GET'): Promise<HttpResponse> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const h = { ...headers };
      if (this.authHeader && (this.opts.passCredentials || sameOrigin(current, this.url))) {
        h.authorization = this.authHeader;
      }
      const res = await this.opts.endpoint.send({ method, url: current, headers: h, signal });
      const location = res.header('location');
      if ([301, 302, 303, 307, 308].includes(res.status) && location) {
        await res.dump();
        current = new URL(location, current).toString();
        continue;
      }
      return res;
    }
    throw new ChartMirrorError('DOWNLOAD', `GET ${displayUrl(url)}: more than ${MAX_REDIRECTS} redirects`);
  }

  private async readLocal(url: string, what: string): Promise<Buffer | undefined> {
    const path = fileURLToPath(url);
    try {
      const s = await stat(path);
      if (s.size > (what === 'index' ? MAX_INDEX_BYTES : MAX_ARCHIVE_BYTES)) {
        throw new ChartMirrorError('DOWNLOAD', `${path}: file too large (${s.size} bytes)`);
      }
      return await readFile(path);
    } catch (e) {
      if (e instanceof ChartMirrorError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new ChartMirrorError('DOWNLOAD', `${path}: cannot read (${code ?? (e as Error).message})`);
    }
  }
}

function describeStatus(status: number): string {
  const text: Record<number, string> = {
    401: '401 unauthorized (check the source auth)',
    403: '403 forbidden',
    404: '404 not found',
    429: '429 too many requests',
    500: '500 internal server error',
    502: '502 bad gateway',
    503: '503 service unavailable',
    504: '504 gateway timeout',
  };
  return text[status] ?? `HTTP ${status}`;
}
