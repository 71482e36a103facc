import { ChartMirrorError } from '../errors.js';
import { DEFAULTS, LIMITS } from '../defaults.js';
import { isReplayable, type Endpoint, type HttpRequest, type HttpResponse } from '../http/client.js';
import { displayUrl, urlHost } from '../http/redact-url.js';
import type { Descriptor } from '../oci/descriptor.js';
import { sha256Digest } from '../util/digest.js';
import type { ContentOpener, ContentStream } from '../content/store.js';
import { firstUploadHint, registryError } from './errors.js';
import { repositoryScope } from './auth/scope.js';

/** What the client needs from the auth layer (implemented by auth/authenticator.ts). */
export interface RequestAuthorizer {
  authorization(scopes: string[]): Promise<string | undefined>;
  onUnauthorized(
    wwwAuthenticate: string | string[] | undefined,
    scopes: string[],
    failed: string | undefined,
    requestUrl?: string,
  ): Promise<string>;
}

export interface RegistryClientOptions {
  /** `host[:port]` as written in the oci:// URL. */
  host: string;
  plainHttp: boolean;
  endpoint: Endpoint;
  auth: RequestAuthorizer;
  /** Blobs larger than this go up in PATCH chunks. */
  chunkSize?: number;
}

export interface PushBlobResult {
  how: 'uploaded' | 'mounted';
}

const MAX_AUTH_ATTEMPTS = 3;
const MAX_REDIRECTS = 5;

/**
 * The OCI distribution API for one registry host. Every request goes through `send`, which
 * adds credentials for this host only and answers a 401 challenge once per credential.
 * Operations are single attempts: callers retry whole operations (an upload from its POST,
 * with its content opened again). Blobs stream both ways; only manifests are held whole.
 */
export class RegistryClient {
  readonly origin: string;
  readonly host: string;
  private readonly chunkSize: number;
  private noReferrersApi = false;

  constructor(private readonly opts: RegistryClientOptions) {
    this.host = opts.host;
    this.origin = `${opts.plainHttp ? 'http' : 'https'}://${opts.host}`;
    this.chunkSize = opts.chunkSize ?? DEFAULTS.chunkSize;
  }

  private url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** Send with this registry's credentials; other hosts (an upload Location, a blob redirect) get none. */
  async send(req: HttpRequest, scopes: string[]): Promise<HttpResponse> {
    const sameHost = new URL(req.url).host === new URL(this.origin).host;
    let authorization = sameHost ? await this.opts.auth.authorization(scopes) : undefined;
    // Every 401 goes to the authenticator, which returns something new to try or throws a
    // clear AUTH error; the cap only guards against a misbehaving server.
    for (let attempt = 0; ; attempt++) {
      const headers = { ...req.headers };
      if (authorization) headers.authorization = authorization;
      const res = await this.opts.endpoint.send({ ...req, headers });
      if (res.status !== 401 || !sameHost || attempt >= MAX_AUTH_ATTEMPTS) return res;
      const challenge = res.headers['www-authenticate'];
      await res.dump();
      authorization = await this.opts.auth.onUnauthorized(challenge, scopes, authorization, req.url);
      if (!isReplayable(req.body)) {
        // The streamed body is spent: the credentials are renewed, the whole operation starts again.
        throw new ChartMirrorError('AUTH', `${req.method} ${displayUrl(req.url)}: authorization expired while sending; retrying`, { status: 401, retryable: true, host: this.host });
      }
    }
  }

  /** Every tag of a repository (paginated); empty when it does not exist. */
  async listTags(repo: string, signal?: AbortSignal): Promise<string[]> {
    return (await this.listPages(`/v2/${repo}/tags/list`, 'tags', [repositoryScope(repo, ['pull'])], 'list tags', signal)) ?? [];
  }

  /**
   * Every repository the registry lists (`/v2/_catalog`, paginated), or undefined when the
   * registry has no catalog or refuses to list it (Docker Hub, GHCR, ECR Public do).
   */
  async catalog(signal?: AbortSignal): Promise<string[] | undefined> {
    try {
      return await this.listPages('/v2/_catalog', 'repositories', ['registry:catalog:*'], 'list repositories', signal, true);
    } catch (e) {
      if (e instanceof ChartMirrorError && (e.code === 'AUTH' || e.status === 404 || e.status === 405 || e.status === 400)) return undefined;
      throw e;
    }
  }

  /**
   * A paginated list (distribution-spec: `n`, then the `Link` header; without one, `last` after a
   * full page, as registries that predate Link expect). A 404 is an empty list (an unknown
   * repository has no tags) unless `refuse404`.
   */
  private async listPages(path: string, key: string, scopes: string[], what: string, signal?: AbortSignal, refuse404 = false): Promise<string[] | undefined> {
    const out: string[] = [];
    const pageSize = 1000;
    let next: string | undefined = this.url(`${path}?n=${pageSize}`);
    for (let page = 0; next && page < LIMITS.tagPages; page++) {
      const res = await this.send({ method: 'GET', url: next, headers: { accept: 'application/json' }, signal }, scopes);
      if (res.status === 404 && !refuse404) {
        await res.dump();
        return out;
      }
      if (res.status !== 200) throw await registryError(res, what);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse((await res.buffer(LIMITS.tagPageBytes)).toString('utf8')) as Record<string, unknown>;
      } catch (e) {
        if (e instanceof ChartMirrorError) throw e;
        throw new ChartMirrorError('REGISTRY', `${what} ${displayUrl(next)}: the answer is not JSON`);
      }
      const list = body[key];
      if (list !== undefined && list !== null && !Array.isArray(list)) throw new ChartMirrorError('REGISTRY', `${what} ${displayUrl(next)}: the answer has no ${key} list`);
      const names = ((list as unknown[] | null | undefined) ?? []).filter((t): t is string => typeof t === 'string');
      out.push(...names);
      const link = nextLink(res.header('link'), next);
      if (link) next = link;
      else if (names.length >= pageSize) next = this.url(`${path}?n=${pageSize}&last=${encodeURIComponent(names[names.length - 1]!)}`);
      else next = undefined;
    }
    return out;
  }

  /** The manifest descriptor a tag or digest points at, or undefined when absent. */
  async resolve(repo: string, reference: string, signal?: AbortSignal): Promise<Descriptor | undefined> {
    const res = await this.send(
      { method: 'HEAD', url: this.url(`/v2/${repo}/manifests/${reference}`), headers: { accept: MANIFEST_ACCEPT }, signal },
      [repositoryScope(repo, ['pull'])],
    );
    await res.dump();
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await registryError(res, 'resolve manifest');
    const digest = res.header('docker-content-digest');
    const size = Number(res.header('content-length') ?? NaN);
    if (!digest || !Number.isSafeInteger(size)) {
      // Some registries omit the digest (or the length) on HEAD: fetch the manifest and hash it.
      const m = await this.fetchManifest(repo, reference, signal);
      return m.descriptor;
    }
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new ChartMirrorError('DIGEST', `manifest ${repo}@${reference} on ${this.host}: the registry says its digest is ${digest}`);
    }
    return { mediaType: mediaTypeOf(res.header('content-type')), digest, size };
  }

  async fetchManifest(repo: string, reference: string, signal?: AbortSignal): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    const res = await this.send(
      { method: 'GET', url: this.url(`/v2/${repo}/manifests/${reference}`), headers: { accept: MANIFEST_ACCEPT }, signal },
      [repositoryScope(repo, ['pull'])],
    );
    if (res.status === 404) {
      await res.dump();
      throw new ChartMirrorError('NOT_FOUND', `manifest ${repo}:${reference} is not on ${this.host}`, { status: 404 });
    }
    if (res.status !== 200) throw await registryError(res, 'fetch manifest');
    const bytes = await res.buffer(LIMITS.manifestBytes);
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new ChartMirrorError('DIGEST', `manifest ${repo}@${reference} from ${this.host} has digest ${digest}`, { retryable: true, host: this.host });
    }
    return { descriptor: { mediaType: mediaTypeOf(res.header('content-type')), digest, size: bytes.length }, bytes };
  }

  async blobExists(repo: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.send({ method: 'HEAD', url: this.url(`/v2/${repo}/blobs/${digest}`), signal }, [repositoryScope(repo, ['pull'])]);
    await res.dump();
    // Anything but 200 means "not known": public.ecr.aws answers 401 to blob HEADs.
    return res.status === 200;
  }

  async manifestExists(repo: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.send(
      { method: 'HEAD', url: this.url(`/v2/${repo}/manifests/${digest}`), headers: { accept: MANIFEST_ACCEPT }, signal },
      [repositoryScope(repo, ['pull'])],
    );
    await res.dump();
    return res.status === 200;
  }

  /**
   * A blob's bytes as a stream (unverified: the caller checks size and digest as it reads).
   * Redirects (registries hand blobs to a CDN or object store) are followed without credentials.
   */
  async fetchBlob(repo: string, desc: Descriptor, signal?: AbortSignal): Promise<ContentStream> {
    const scopes = [repositoryScope(repo, ['pull'])];
    let url = this.url(`/v2/${repo}/blobs/${desc.digest}`);
    for (let hop = 0; ; hop++) {
      const res = await this.send({ method: 'GET', url, signal }, scopes);
      const location = res.header('location');
      if ([301, 302, 303, 307, 308].includes(res.status) && location && hop < MAX_REDIRECTS) {
        await res.dump();
        url = new URL(location, url).toString();
        continue;
      }
      if (res.status === 404) {
        await res.dump();
        throw new ChartMirrorError('NOT_FOUND', `blob ${desc.digest} is not in ${this.host}/${repo}`, { status: 404 });
      }
      if (res.status !== 200) throw await registryError(res, 'fetch blob');
      const declared = Number(res.header('content-length') ?? NaN);
      if (Number.isSafeInteger(declared) && declared !== desc.size) {
        await res.dump();
        throw new ChartMirrorError('DIGEST', `blob ${desc.digest} from ${this.host}/${repo}: the registry sends ${declared} bytes, its descriptor says ${desc.size}`, { retryable: true, host: urlHost(url) });
      }
      return res.body;
    }
  }

  /**
   * Upload one blob: mount from `mountFrom` when given (falling back to an upload when the
   * registry opens a session instead), else POST then a monolithic PUT that streams the
   * content, or PATCH chunks for large blobs and when the registry refuses the monolithic PUT.
   */
  async pushBlob(
    repo: string,
    desc: Descriptor,
    content: ContentOpener,
    opts: { mountFrom?: string; signal?: AbortSignal } = {},
  ): Promise<PushBlobResult> {
    const scopes = [repositoryScope(repo, ['pull', 'push'])];
    if (opts.mountFrom && opts.mountFrom !== repo) scopes.push(repositoryScope(opts.mountFrom, ['pull']));
    let res: HttpResponse;
    if (opts.mountFrom) {
      const query = `?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(opts.mountFrom)}`;
      try {
        res = await this.send(
          { method: 'POST', url: this.url(`/v2/${repo}/blobs/uploads/${query}`), headers: { 'content-length': '0' }, signal: opts.signal },
          scopes,
        );
      } catch (e) {
        // Docker Hub fails authentication for a "from" it dislikes (go-containerregistry #1679): upload.
        if (e instanceof ChartMirrorError && e.code === 'AUTH') return this.pushBlob(repo, desc, content, { signal: opts.signal });
        throw e;
      }
      if (res.status === 201) {
        await res.dump();
        return { how: 'mounted' };
      }
      if (res.status !== 202) {
        // Some registries error instead of answering 202 to a mount they refuse: upload normally.
        await res.dump();
        return this.pushBlob(repo, desc, content, { signal: opts.signal });
      }
    } else {
      res = await this.postUpload(repo, scopes, opts.signal);
      if (res.status !== 202) throw await registryError(res, 'start upload', { hint: firstUploadHint });
    }
    const location = uploadLocation(res);
    const minChunk = Number(res.header('oci-chunk-min-length') ?? 0);
    await res.dump();

    if (desc.size > this.chunkSize) {
      await this.uploadChunks(location, desc, await content(opts.signal), Math.max(minChunk, this.chunkSize), scopes, opts.signal);
      return { how: 'uploaded' };
    }
    res = await this.send(
      {
        method: 'PUT',
        url: withQuery(location, 'digest', desc.digest),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
        body: await content(opts.signal),
        signal: opts.signal,
      },
      scopes,
    );
    if (res.status === 201 || res.status === 204) {
      await res.dump();
      return { how: 'uploaded' };
    }
    if (res.status === 405 || res.status === 501) {
      // No monolithic PUT here: a fresh session, in chunks, from the start of the content.
      await res.dump();
      const again = await this.startUpload(repo, scopes, opts.signal);
      await this.uploadChunks(again.location, desc, await content(opts.signal), Math.max(again.minChunk, 5 * 1024 * 1024), scopes, opts.signal);
      return { how: 'uploaded' };
    }
    throw await registryError(res, 'upload blob');
  }

  /**
   * POST a new upload session. An authentication failure here is the usual sign of a repository
   * that does not exist (Harbor answers 401 for an unknown project): say so.
   */
  private async postUpload(repo: string, scopes: string[], signal?: AbortSignal): Promise<HttpResponse> {
    try {
      return await this.send({ method: 'POST', url: this.url(`/v2/${repo}/blobs/uploads/`), headers: { 'content-length': '0' }, signal }, scopes);
    } catch (e) {
      if (!(e instanceof ChartMirrorError) || e.code !== 'AUTH') throw e;
      throw new ChartMirrorError('AUTH', `${e.message}; ${firstUploadHint([], 401)}`, { status: e.status, cause: e });
    }
  }

  private async startUpload(repo: string, scopes: string[], signal?: AbortSignal): Promise<{ location: string; minChunk: number }> {
    const res = await this.postUpload(repo, scopes, signal);
    if (res.status !== 202) throw await registryError(res, 'start upload', { hint: firstUploadHint });
    const out = { location: uploadLocation(res), minChunk: Number(res.header('oci-chunk-min-length') ?? 0) };
    await res.dump();
    return out;
  }

  /**
   * PATCH the content in chunks, each streamed as it is read (nothing is buffered beyond the
   * stream's own chunks), then PUT ?digest. A registry that confirms less than it was sent
   * makes the whole upload start again (the stream cannot be rewound).
   */
  private async uploadChunks(
    startLocation: string,
    desc: Descriptor,
    content: ContentStream,
    chunkSize: number,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<void> {
    const source = new ChunkReader(content);
    let location = startLocation;
    let offset = 0;
    try {
      while (offset < desc.size) {
        const end = Math.min(desc.size, offset + chunkSize);
        const res = await this.send(
          {
            method: 'PATCH',
            url: location,
            headers: {
              'content-type': 'application/octet-stream',
              'content-length': String(end - offset),
              'content-range': `${offset}-${end - 1}`,
            },
            body: source.take(end - offset),
            signal,
          },
          scopes,
        );
        if (res.status !== 202 && res.status !== 204 && res.status !== 201) throw await registryError(res, 'upload chunk');
        location = uploadLocation(res, location);
        const range = res.header('range');
        await res.dump();
        const confirmed = range ? lastNumber(range) + 1 : end;
        if (confirmed !== end) {
          throw new ChartMirrorError('REGISTRY', `upload chunk to ${displayUrl(location)}: the registry confirmed bytes up to ${confirmed}, not ${end}`, {
            retryable: true,
            host: urlHost(location),
          });
        }
        offset = end;
      }
      await source.end();
    } finally {
      await source.close();
    }
    const res = await this.send(
      {
        method: 'PUT',
        url: withQuery(location, 'digest', desc.digest),
        headers: { 'content-type': 'application/octet-stream', 'content-length': '0' },
        signal,
      },
      scopes,
    );
    if (res.status !== 201 && res.status !== 204) throw await registryError(res, 'finish chunked upload');
    await res.dump();
  }

  /** PUT a manifest under a tag (or digest); the registry must confirm our digest. */
  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
    const digest = sha256Digest(bytes);
    const res = await this.send(
      {
        method: 'PUT',
        url: this.url(`/v2/${repo}/manifests/${reference}`),
        headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
        body: bytes,
        signal,
      },
      [repositoryScope(repo, ['pull', 'push'])],
    );
    if (res.status !== 201 && res.status !== 200) {
      throw await registryError(res, 'put manifest', { hint: firstUploadHint });
    }
    const returned = res.header('docker-content-digest');
    await res.dump();
    if (returned && returned !== digest) {
      throw new ChartMirrorError('DIGEST', `put manifest ${repo}:${reference} on ${this.host}: the registry stored ${returned}, expected ${digest}`);
    }
    return digest;
  }

  /** DELETE a manifest reference (a tag, where the registry supports tag deletion, or a digest). */
  async deleteManifest(repo: string, reference: string, signal?: AbortSignal): Promise<void> {
    const res = await this.send({ method: 'DELETE', url: this.url(`/v2/${repo}/manifests/${reference}`), signal }, [
      repositoryScope(repo, ['delete', 'pull', 'push']),
    ]);
    if (res.status === 202 || res.status === 200 || res.status === 204 || res.status === 404) {
      await res.dump();
      return;
    }
    throw await registryError(res, 'delete manifest');
  }

  /**
   * Manifests whose subject is `digest`, from the OCI 1.1 referrers API; undefined when the
   * registry has no such API (distribution 2.8, GHCR, GitLab: a 404 or an answer that is not an
   * index). Whether it has one is learnt once and remembered.
   */
  async referrersApi(repo: string, digest: string, signal?: AbortSignal): Promise<Descriptor[] | undefined> {
    if (this.noReferrersApi) return undefined;
    const res = await this.send(
      { method: 'GET', url: this.url(`/v2/${repo}/referrers/${digest}`), headers: { accept: 'application/vnd.oci.image.index.v1+json' }, signal },
      [repositoryScope(repo, ['pull'])],
    );
    if (res.status === 200 && /application\/vnd\.oci\.image\.index\.v1\+json/.test(res.header('content-type') ?? '')) {
      const index = JSON.parse((await res.buffer(LIMITS.manifestBytes)).toString('utf8')) as { manifests?: unknown };
      return Array.isArray(index.manifests) ? (index.manifests as Descriptor[]) : [];
    }
    if ([200, 400, 404, 405].includes(res.status)) {
      await res.dump();
      this.noReferrersApi = true;
      return undefined;
    }
    throw await registryError(res, 'list referrers');
  }

  /** Whether the registry is known to have no referrers API (after one referrersApi call). */
  get referrersApiUnsupported(): boolean {
    return this.noReferrersApi;
  }
}

/** Reads exact byte counts off a stream, one request body at a time. */
class ChunkReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private rest: Buffer | undefined;

  constructor(stream: ContentStream) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /** The next `n` bytes as a stream of their own; fails when the content ends first. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      let chunk = this.rest;
      this.rest = undefined;
      if (!chunk) {
        const r = await this.it.next();
        if (r.done) throw new ChartMirrorError('DIGEST', `content ended ${left} bytes early`, { retryable: true });
        chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      }
      if (chunk.length > left) {
        this.rest = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      yield chunk;
    }
  }

  /** After the last chunk: the stream must end here (its verifier then checks the digest). */
  async end(): Promise<void> {
    if (this.rest?.length) throw new ChartMirrorError('DIGEST', 'content is longer than its descriptor', { retryable: true });
    const r = await this.it.next();
    if (!r.done) throw new ChartMirrorError('DIGEST', 'content is longer than its descriptor', { retryable: true });
  }

  async close(): Promise<void> {
    await this.it.return?.().catch(() => undefined);
  }
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** `application/vnd.oci.image.manifest.v1+json; charset=utf-8` -> the bare type. */
function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim();
}

/** Resolve a Location header as a URL reference against the request URL (it may be relative). */
function uploadLocation(res: HttpResponse, base = res.url): string {
  const loc = res.header('location');
  if (!loc) throw new ChartMirrorError('REGISTRY', `upload to ${displayUrl(res.url)}: the registry sent no Location`);
  return new URL(loc, base).toString();
}

/** Add a query parameter, keeping what the registry put there (distribution's _state). */
function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

/** `Link: </v2/x/tags/list?last=a&n=1000>; rel="next"`, resolved against the current URL. */
export function nextLink(header: string | undefined, current: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (m && /rel="?next"?/i.test(m[2] ?? '')) return new URL(m[1] ?? '', current).toString();
  }
  return undefined;
}

/** The number a header ends with (`0-1023` -> 1023), NaN when none: a scan, not /(\d+)$/, which backtracks. */
export function lastNumber(text: string): number {
  let i = text.length;
  while (i > 0 && text.charCodeAt(i - 1) >= 48 && text.charCodeAt(i - 1) <= 57) i--;
  return i === text.length ? NaN : Number(text.slice(i));
}
