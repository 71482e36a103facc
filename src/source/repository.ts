import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ChartMirrorError } from '../errors.js';
import type { Endpoint, HttpResponse } from '../http/client.js';
import { statusError } from '../http/client.js';
import { displayUrl, urlHost } from '../http/redact-url.js';
import { withRetry, type RetryContext, type RetryPolicy } from '../http/retry.js';
import { registerSecret } from '../util/secrets.js';
import { LIMITS } from '../defaults.js';
import { resolveChartUrl, sameOrigin } from './resolve-url.js';
import type { BudgetLease } from '../util/byte-budget.js';

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

const MAX_REDIRECTS = 10;
/** Held for a body whose length the server does not say, until it is read. */
const UNKNOWN_LENGTH_RESERVE = 1024 * 1024;

/** What a source may make us read: archives and indexes by config (limits.*), .prov files 1 MiB. */
export interface ReadLimits {
  archiveBytes: number;
  indexBytes: number;
}

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
      limits?: ReadLimits;
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

  private limit(what: 'index' | 'archive' | 'provenance'): number {
    if (what === 'provenance') return LIMITS.provenanceBytes;
    return what === 'index' ? (this.opts.limits?.indexBytes ?? LIMITS.indexBytes) : (this.opts.limits?.archiveBytes ?? LIMITS.archiveBytes);
  }

  /**
   * Where a chart URL may point. Helm downloads charts over http(s) only; a `file://` URL (or a
   * path) is accepted only when the index itself was read from the file system, so a remote
   * index can never make us read local files.
   */
  checkChartUrl(url: string): void {
    const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
    if (scheme === 'http:' || scheme === 'https:') return;
    if (scheme === 'file:' && this.isLocal) return;
    if (scheme === 'file:') {
      throw new ChartMirrorError('DOWNLOAD', `${displayUrl(url)}: a chart URL in a remote index may not point at a local file (only an index read from disk may list file:// URLs)`);
    }
    throw new ChartMirrorError('DOWNLOAD', `${displayUrl(url)}: unsupported URL scheme "${scheme}" (charts are downloaded over http or https)`);
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
      const bytes = await res.buffer(this.limit('index'));
      return { bytes, url, etag: res.header('etag'), lastModified: res.header('last-modified') };
    }, signal);
  }

  /**
   * Download a file. Undefined when it does not exist (404/410, and 403 for .prov files on
   * object stores that hide missing keys). Other failures throw; network faults are retried.
   */
  async download(
    url: string,
    opts: { what: 'archive' | 'provenance'; signal?: AbortSignal; lease?: BudgetLease },
  ): Promise<Buffer | undefined> {
    this.checkChartUrl(url);
    if (url.startsWith('file:')) return this.readLocal(url, opts.what, opts.lease, opts.signal);
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
      const max = this.limit(opts.what);
      if (Number.isSafeInteger(declared) && declared > max) {
        await res.dump();
        throw new ChartMirrorError('DOWNLOAD', `GET ${displayUrl(res.url)}: ${declared} bytes is more than ${max} (${limitKey(opts.what)})`);
      }
      // Room in the memory budget before the body is read (its length, when the server says it).
      try {
        await opts.lease?.ensure(Number.isSafeInteger(declared) ? declared : UNKNOWN_LENGTH_RESERVE, opts.signal);
      } catch (e) {
        await res.dump();
        throw e;
      }
      const bytes = await res.buffer(max);
      await opts.lease?.ensure(bytes.length);
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
    this.checkChartUrl(url);
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

  /**
   * A local file, read up to its cap: only regular files (never a device or a FIFO that never
   * ends), and never more than the cap whatever the file system says its size is.
   */
  private async readLocal(url: string, what: 'index' | 'archive' | 'provenance', lease?: BudgetLease, signal?: AbortSignal): Promise<Buffer | undefined> {
    const path = fileURLToPath(url);
    const max = this.limit(what);
    let fh;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new ChartMirrorError('DOWNLOAD', `${path}: cannot read (${code ?? (e as Error).message})`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ChartMirrorError('DOWNLOAD', `${path}: not a regular file`);
      if (st.size > max) throw new ChartMirrorError('DOWNLOAD', `${path}: larger than ${max} bytes (${limitKey(what)})`);
      await lease?.ensure(st.size, signal);
      const buf = Buffer.allocUnsafe(Math.min(st.size, max) + 1);
      let n = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n > max) throw new ChartMirrorError('DOWNLOAD', `${path}: larger than ${max} bytes (${limitKey(what)})`);
        if (n === buf.length) break; // grew while read: what fits is what the stat promised, plus one byte to notice
      }
      return buf.subarray(0, n);
    } catch (e) {
      if (e instanceof ChartMirrorError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new ChartMirrorError('DOWNLOAD', `${path}: cannot read (${code ?? (e as Error).message})`);
    } finally {
      await fh.close();
    }
  }
}

function limitKey(what: 'index' | 'archive' | 'provenance'): string {
  return what === 'provenance' ? 'the .prov limit' : `limits.${what}`;
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
