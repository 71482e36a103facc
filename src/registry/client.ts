import { ChartMirrorError } from '../errors.js';
import type { Endpoint, HttpRequest, HttpResponse } from '../http/client.js';
import { displayUrl } from '../http/redact-url.js';
import type { Descriptor } from '../oci/descriptor.js';
import { sha256Digest } from '../util/digest.js';
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
  /** Blobs larger than this go up in PATCH chunks. Default 64 MiB. */
  chunkSize?: number;
}

export interface PushBlobResult {
  how: 'uploaded' | 'mounted' | 'exists';
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TAG_PAGES = 1000;
const MAX_AUTH_ATTEMPTS = 3;


/**
 * The OCI distribution API for one registry host. Every request goes through `send`, which
 * adds credentials for this host only and answers a 401 challenge once per credential.
 * Operations are single attempts: callers retry whole operations (an upload from its POST).
 */
export class RegistryClient {
  readonly origin: string;
  readonly host: string;
  private readonly chunkSize: number;

  constructor(private readonly opts: RegistryClientOptions) {
    this.host = opts.host;
    this.origin = `${opts.plainHttp ? 'http' : 'https'}://${opts.host}`;
    this.chunkSize = opts.chunkSize ?? 64 * 1024 * 1024;
  }

  private url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** Send with this registry's credentials; other hosts (an upload Location elsewhere) get none. */
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
    }
  }

  /** Every tag of a repository (following Link pagination); empty when it does not exist. */
  async listTags(repo: string, signal?: AbortSignal): Promise<string[]> {
    const scopes = [repositoryScope(repo, ['pull'])];
    const tags: string[] = [];
    let next: string | undefined = this.url(`/v2/${repo}/tags/list?n=1000`);
    for (let page = 0; next && page < MAX_TAG_PAGES; page++) {
      const res = await this.send({ method: 'GET', url: next, headers: { accept: 'application/json' }, signal }, scopes);
      if (res.status === 404) {
        await res.dump();
        return tags;
      }
      if (res.status !== 200) throw await registryError(res, 'list tags');
      const body = JSON.parse((await res.buffer(16 * 1024 * 1024)).toString('utf8')) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      next = nextLink(res.header('link'), next);
    }
    return tags;
  }

  /** The manifest descriptor a tag or digest points at, or undefined when absent. */
  async resolve(repo: string, reference: string, signal?: AbortSignal): Promise<Descriptor | undefined> {
    const res = await this.send(
      {
        method: 'HEAD',
        url: this.url(`/v2/${repo}/manifests/${reference}`),
        headers: { accept: MANIFEST_ACCEPT },
        signal,
      },
      [repositoryScope(repo, ['pull'])],
    );
    await res.dump();
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await registryError(res, 'resolve manifest');
    const digest = res.header('docker-content-digest');
    const size = Number(res.header('content-length') ?? NaN);
    if (!digest) {
      // Some registries omit the digest on HEAD: fetch the manifest and hash it.
      const m = await this.fetchManifest(repo, reference, signal);
      return m.descriptor;
    }
    return { mediaType: res.header('content-type') ?? '', digest, size };
  }

  async fetchManifest(
    repo: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    const res = await this.send(
      { method: 'GET', url: this.url(`/v2/${repo}/manifests/${reference}`), headers: { accept: MANIFEST_ACCEPT }, signal },
      [repositoryScope(repo, ['pull'])],
    );
    if (res.status !== 200) throw await registryError(res, 'fetch manifest');
    const bytes = await res.buffer(MAX_MANIFEST_BYTES);
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new ChartMirrorError('DIGEST', `manifest ${repo}@${reference} from ${this.host} has digest ${digest}`);
    }
    return { descriptor: { mediaType: res.header('content-type') ?? '', digest, size: bytes.length }, bytes };
  }

  async blobExists(repo: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.send(
      { method: 'HEAD', url: this.url(`/v2/${repo}/blobs/${digest}`), signal },
      [repositoryScope(repo, ['pull'])],
    );
    await res.dump();
    // Anything but 200 means "not known": public.ecr.aws answers 401 to blob HEADs.
    return res.status === 200;
  }

  async fetchBlob(repo: string, desc: Descriptor, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.send(
      { method: 'GET', url: this.url(`/v2/${repo}/blobs/${desc.digest}`), signal },
      [repositoryScope(repo, ['pull'])],
    );
    if (res.status !== 200) throw await registryError(res, 'fetch blob');
    const bytes = await res.buffer(desc.size);
    if (bytes.length !== desc.size || sha256Digest(bytes) !== desc.digest) {
      throw new ChartMirrorError('DIGEST', `blob ${desc.digest} from ${this.host}/${repo} does not match its digest`, {
        retryable: true,
      });
    }
    return bytes;
  }

  /**
   * Upload one blob: mount from `mountFrom` when given (falling back to an upload when the
   * registry opens a session instead), else POST then a monolithic PUT, or PATCH chunks for
   * large blobs and when the registry refuses the monolithic PUT.
   */
  async pushBlob(
    repo: string,
    desc: Descriptor,
    bytes: Buffer,
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
        if (e instanceof ChartMirrorError && e.code === 'AUTH') return this.pushBlob(repo, desc, bytes, { signal: opts.signal });
        throw e;
      }
      if (res.status === 201) {
        await res.dump();
        return { how: 'mounted' };
      }
      if (res.status !== 202) {
        // Some registries error instead of answering 202 to a mount they refuse: upload normally.
        await res.dump();
        return this.pushBlob(repo, desc, bytes, { signal: opts.signal });
      }
    } else {
      res = await this.postUpload(repo, scopes, opts.signal);
      if (res.status !== 202) throw await registryError(res, 'start upload', { hint: firstUploadHint });
    }
    const location = uploadLocation(res);
    const minChunk = Number(res.header('oci-chunk-min-length') ?? 0);
    await res.dump();

    if (bytes.length > this.chunkSize) {
      await this.uploadChunks(repo, location, desc, bytes, Math.max(minChunk, this.chunkSize), scopes, opts.signal);
      return { how: 'uploaded' };
    }
    res = await this.send(
      {
        method: 'PUT',
        url: withQuery(location, 'digest', desc.digest),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
        body: bytes,
        signal: opts.signal,
      },
      scopes,
    );
    if (res.status === 201 || res.status === 204) {
      await res.dump();
      return { how: 'uploaded' };
    }
    if (res.status === 405 || res.status === 501) {
      // No monolithic PUT here: a fresh session, in chunks.
      await res.dump();
      const again = await this.startUpload(repo, scopes, opts.signal);
      await this.uploadChunks(repo, again.location, desc, bytes, Math.max(again.minChunk, 5 * 1024 * 1024), scopes, opts.signal);
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
      return await this.send(
        { method: 'POST', url: this.url(`/v2/${repo}/blobs/uploads/`), headers: { 'content-length': '0' }, signal },
        scopes,
      );
    } catch (e) {
      if (!(e instanceof ChartMirrorError) || e.code !== 'AUTH') throw e;
      throw new ChartMirrorError('AUTH', `${e.message}; ${firstUploadHint([], 401)}`, { status: e.status, cause: e });
    }
  }

  private async startUpload(
    repo: string,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<{ location: string; minChunk: number }> {
    const res = await this.postUpload(repo, scopes, signal);
    if (res.status !== 202) throw await registryError(res, 'start upload', { hint: firstUploadHint });
    const out = { location: uploadLocation(res), minChunk: Number(res.header('oci-chunk-min-length') ?? 0) };
    await res.dump();
    return out;
  }

  private async uploadChunks(
    repo: string,
    startLocation: string,
    desc: Descriptor,
    bytes: Buffer,
    chunkSize: number,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<void> {
    let location = startLocation;
    let offset = 0;
    while (offset < bytes.length) {
      const end = Math.min(bytes.length, offset + chunkSize);
      const chunk = bytes.subarray(offset, end);
      const res = await this.send(
        {
          method: 'PATCH',
          url: location,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(chunk.length),
            'content-range': `${offset}-${end - 1}`,
          },
          body: chunk,
          signal,
        },
        scopes,
      );
      if (res.status !== 202 && res.status !== 204 && res.status !== 201) {
        throw await registryError(res, 'upload chunk');
      }
      location = uploadLocation(res, location);
      const range = res.header('range');
      await res.dump();
      const confirmed = range ? Number(/(\d+)$/.exec(range)?.[1] ?? NaN) + 1 : end;
      if (!Number.isFinite(confirmed) || confirmed <= offset) {
        throw new ChartMirrorError('REGISTRY', `upload chunk to ${displayUrl(location)}: the registry did not accept bytes ${offset}-${end - 1}`, {
          retryable: true,
        });
      }
      offset = Math.min(confirmed, end);
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
  async putManifest(
    repo: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<string> {
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
      throw new ChartMirrorError(
        'DIGEST',
        `put manifest ${repo}:${reference} on ${this.host}: the registry stored ${returned}, expected ${digest}`,
      );
    }
    return digest;
  }
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** Resolve a Location header as a URL reference against the request URL (it may be relative). */
function uploadLocation(res: HttpResponse, base = res.url): string {
  const loc = res.header('location');
  if (!loc) {
    throw new ChartMirrorError('REGISTRY', `upload to ${displayUrl(res.url)}: the registry sent no Location`);
  }
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
