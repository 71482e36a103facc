import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Dispatcher } from 'undici';
import { Readable } from 'node:stream';
import { ChartMirrorError, ConfigError } from '../errors.js';
import { HostGate } from './host-gate.js';
import { transportError, isRetryableStatus, proxyTransportError } from './errors.js';
import { ProxyPolicy, type EndpointProxy, type ProxyRoute, type ProxyTarget } from './proxy.js';
import { parseRetryAfter, throttleDelay } from './retry.js';
import { displayUrl, urlHost } from './redact-url.js';
import { defaultCertificates, defaultTrust } from './trust.js';
import { redact } from '../util/secrets.js';
import { DEFAULTS } from '../defaults.js';

export interface TlsSettings {
  /**
   * CA bundle file(s) trusted for this server in addition to the default ones (Node's roots,
   * NODE_EXTRA_CA_CERTS, the system bundle).
   */
  ca?: string | string[];
  /** Client certificate and key files (mutual TLS). */
  cert?: string;
  key?: string;
  insecureSkipVerify?: boolean;
}

export interface Timeouts {
  /** TCP + TLS connect. Default 15 s. */
  connectMs: number;
  /** From sending a request to its response headers. Default 120 s. */
  headersMs: number;
  /** Longest silence while reading a body. Default 60 s. */
  bodyIdleMs: number;
  /** A whole request, body included. Default 10 min. */
  totalMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = DEFAULTS.timeouts;

export interface EndpointSettings {
  tls?: TlsSettings;
  /** Connections per origin (the per-host concurrency limit). */
  connections: number;
  /** Optional requests-per-second cap per host. */
  requestsPerSecond?: number;
  timeouts?: Partial<Timeouts>;
  /** This endpoint's own proxy (a source's, target's or registry's `proxy`), for all its requests. */
  proxy?: EndpointProxy;
}

/** How requests to one origin went: through a proxy (its URL without credentials) or direct, and why. */
export interface RouteInfo {
  /** `scheme://host[:port]`. */
  origin: string;
  /** The proxy, e.g. `http://proxy.corp:3128`; absent: direct. */
  proxy?: string;
  /** The setting that decided: HTTPS_PROXY, NO_PROXY, loopback, sources.web.proxy, … */
  reason: string;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A buffer, or a stream sent as it is read (not replayable: a 401 cannot be answered by resending it). */
  body?: Buffer | string | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
}

/** Whether a request body can be sent again (a buffer) or was consumed by sending it (a stream). */
export function isReplayable(body: HttpRequest['body']): boolean {
  return body === undefined || typeof body === 'string' || Buffer.isBuffer(body);
}

export interface HttpResponse {
  status: number;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** First value of a header (names are lower case). */
  header(name: string): string | undefined;
  body: Readable;
  /** The whole body; fails with a NETWORK error past `maxBytes`. */
  buffer(maxBytes?: number): Promise<Buffer>;
  /** At most `maxBytes` of the body as text; the rest is discarded. For error bodies. */
  peekText(maxBytes?: number): Promise<string>;
  /** Discard the body so the connection can be reused. */
  dump(): Promise<void>;
}

/**
 * What the HTTP layer tells whoever counts requests (metrics): every request once, and every
 * pause of a host. `host` is the URL's `host[:port]`, never credentials.
 */
export interface HttpObserver {
  /** A request got an answer with `status`, or failed without one (`'error'`: reset, refused, timeout, TLS). */
  request(host: string, status: number | 'error'): void;
  /** A 429, or a 503 with Retry-After, paused `host`; `addedMs`: how much longer the host is now paused. */
  throttled(host: string, addedMs: number): void;
}

/** undici, loaded with the first request: runs that only touch files never load it. */
let undici: Promise<typeof import('undici')> | undefined;

export interface HttpClientOptions {
  userAgent: string;
  timeouts?: Partial<Timeouts>;
  observer?: HttpObserver;
  /** Which proxy each request goes through. Default: the environment's, as Go reads it. */
  proxy?: ProxyPolicy;
  /** Told once per origin (and route) how its requests go: `--verbose` and plans show it. */
  onRoute?: (route: RouteInfo) => void;
}

/** What one endpoint needs to build its dispatchers. */
interface DispatchSettings {
  key: string;
  tls: TlsFiles;
  connections: number;
  timeouts: Timeouts;
}

/**
 * One place for transport: undici dispatchers per endpoint settings (TLS, connection limit,
 * timeouts) and route (direct, or through a proxy: CONNECT for https, absolute-form for http),
 * host-wide pacing, and errors that carry a code and a redacted URL. Keep-alive HTTP/1.1; no
 * content decoding (archives are stored exactly as served).
 */
export class HttpClient {
  private readonly dispatchers = new Map<string, Promise<Dispatcher>>();
  private readonly gates = new Map<string, HostGate>();
  private readonly routesSeen = new Map<string, RouteInfo>();
  private readonly secureContexts = new Map<string, SecureContext>();
  readonly proxy: ProxyPolicy;

  constructor(private readonly opts: HttpClientOptions) {
    this.proxy = opts.proxy ?? ProxyPolicy.fromEnvironment(process.env);
  }

  /** A handle for requests that share TLS settings, limits and a proxy setting. */
  endpoint(settings: EndpointSettings): Endpoint {
    const timeouts = { ...DEFAULT_TIMEOUTS, ...this.opts.timeouts, ...settings.timeouts };
    const key = JSON.stringify([settings.tls ?? null, settings.connections, timeouts]);
    // TLS files are read now: a missing CA file is a config error before any work.
    const tls = tlsFiles(settings.tls);
    return new Endpoint(this, { key, tls, connections: settings.connections, timeouts }, settings.requestsPerSecond, settings.proxy);
  }

  /** The dispatcher for requests of these settings to a `scheme` origin, direct or through `proxy`. */
  dispatcher(s: DispatchSettings, scheme: string, proxy: ProxyTarget | undefined): Promise<Dispatcher> {
    // Two credentials for one proxy are two dispatchers.
    const key = `${s.key}\n${scheme}\n${proxy?.url ?? ''}\n${proxy?.authorization ?? ''}`;
    let d = this.dispatchers.get(key);
    if (!d) {
      d = (undici ??= import('undici')).then((u) => this.buildDispatcher(u, s, scheme, proxy));
      this.dispatchers.set(key, d);
    }
    return d;
  }

  private buildDispatcher(u: typeof import('undici'), s: DispatchSettings, scheme: string, proxy: ProxyTarget | undefined): Dispatcher {
    const base = {
      connections: s.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: s.timeouts.headersMs,
      bodyTimeout: s.timeouts.bodyIdleMs,
      allowH2: false,
    };
    // Only https origins need the trust store (reading the system's takes a moment).
    const originTls = scheme === 'https:' ? this.connectTls(s.tls) : {};
    if (!proxy) return new u.Agent({ ...base, connect: { timeout: s.timeouts.connectMs, ...originTls } });
    return new u.ProxyAgent({
      ...base,
      uri: proxy.url,
      // The URL's user-info as Go sends it (undici would send nothing for a user alone).
      ...(proxy.authorization ? { token: proxy.authorization } : {}),
      // http:// origins through an http:// proxy: absolute-form requests, as Go sends them;
      // https:// origins: a CONNECT tunnel, with TLS end to end (requestTls is the origin's).
      proxyTunnel: false,
      requestTls: { timeout: s.timeouts.connectMs, ...originTls },
      proxyTls: { timeout: s.timeouts.connectMs, ...(proxy.url.startsWith('https:') ? this.connectTls({}) : {}) },
      // Also what talks to the proxy for absolute-form requests: the same connection limit.
      factory: (origin: string | URL, opts: object) => new u.Pool(origin, { ...base, ...opts }),
    });
  }

  /**
   * Connect options for a TLS server: Node's default store plus the system's CA bundle, and the
   * server's `tls.ca` too when it has one, in one secure context that every connection shares
   * (Node's `ca` option replaces its default store, so the union is passed whole).
   */
  private connectTls(tls: TlsFiles): Record<string, unknown> {
    const verify = tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {};
    const client = { ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) };
    const trust = defaultTrust();
    if (!tls.ca && !trust.ca) return { ...client, ...verify };
    const key = JSON.stringify([tls.caFiles ?? [], tls.certFile ?? null, tls.keyFile ?? null]);
    let ctx = this.secureContexts.get(key);
    if (!ctx) {
      ctx = createSecureContext({ ca: [...defaultCertificates(), ...(tls.ca ?? [])], ...client });
      this.secureContexts.set(key, ctx);
    }
    return { secureContext: ctx, ...verify };
  }

  /** How a request to `url` goes; the first request of each origin and route is told to onRoute. */
  route(url: URL, own: EndpointProxy | undefined): ProxyRoute {
    const route = this.proxy.route(url, own);
    const key = `${url.origin}\n${route.proxy?.display ?? ''}\n${route.reason}`;
    if (!this.routesSeen.has(key)) {
      const info: RouteInfo = { origin: url.origin, ...(route.proxy ? { proxy: route.proxy.display } : {}), reason: route.reason };
      this.routesSeen.set(key, info);
      this.opts.onRoute?.(info);
    }
    return route;
  }

  /** Every origin this client has sent requests to, and how. */
  routes(): RouteInfo[] {
    return [...this.routesSeen.values()];
  }

  gate(host: string, requestsPerSecond?: number): HostGate {
    let g = this.gates.get(host);
    if (!g) {
      g = new HostGate(host, requestsPerSecond);
      this.gates.set(host, g);
    }
    return g;
  }

  get userAgent(): string {
    return this.opts.userAgent;
  }

  get observer(): HttpObserver | undefined {
    return this.opts.observer;
  }

  async close(): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map(async (a) => (await a).close().catch(() => undefined)));
    this.dispatchers.clear();
  }
}

/** A server's TLS files, read when its endpoint is made. */
interface TlsFiles {
  ca?: Buffer[];
  caFiles?: string[];
  cert?: Buffer;
  key?: Buffer;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized?: false;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

function tlsFiles(tls: TlsSettings | undefined): TlsFiles {
  if (!tls) return {};
  const out: TlsFiles = {};
  if (tls.ca) {
    const files = Array.isArray(tls.ca) ? tls.ca : [tls.ca];
    out.ca = files.map((f) => readPem(f, 'tls.ca'));
    out.caFiles = files;
  }
  if (tls.cert) {
    out.cert = readPem(tls.cert, 'tls.cert');
    out.certFile = tls.cert;
  }
  if (tls.key) {
    out.key = readPem(tls.key, 'tls.key');
    out.keyFile = tls.key;
  }
  if (tls.insecureSkipVerify) out.rejectUnauthorized = false;
  return out;
}

export class Endpoint {
  private readonly totalMs: number;

  constructor(
    private readonly client: HttpClient,
    private readonly settings: DispatchSettings,
    private readonly requestsPerSecond?: number,
    private readonly proxy?: EndpointProxy,
  ) {
    this.totalMs = settings.timeouts.totalMs;
  }

  /** Pause all requests to `host` (after a 429 without Retry-After, say). */
  pause(host: string, ms: number): void {
    this.client.gate(host, this.requestsPerSecond).pause(ms);
  }

  /**
   * Send one request. Every status comes back as a response; only transport failures throw.
   * A 429 or 503 with Retry-After pauses the whole host.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    if (req.signal) allowOneListenerPerRequest(req.signal);
    const u = new URL(req.url);
    const route = this.client.route(u, this.proxy);
    const gate = this.client.gate(u.host, this.requestsPerSecond);
    await gate.pass(req.signal);
    const headers: Record<string, string> = { 'user-agent': this.client.userAgent, ...req.headers };
    const observer = this.client.observer;
    // The whole request, body included, within http.timeouts.total: a server that drips one
    // byte a minute never trips the idle timeouts, and must not hold a run forever.
    const overall = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      overall.abort(new ChartMirrorError('NETWORK', redact(`${req.method} ${displayUrl(req.url)}: not complete after ${formatMs(this.totalMs)} (http.timeouts.total)`), { host: u.host }));
    }, this.totalMs);
    timer.unref();
    // The caller's signal (an interrupt) aborts the request too: forwarded by hand, as
    // AbortSignal.any costs more than the rest of a request's bookkeeping.
    const outer = req.signal;
    const forward = () => overall.abort(outer!.reason);
    if (outer?.aborted) forward();
    else outer?.addEventListener('abort', forward, { once: true });
    const settle = () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', forward);
    };
    const signal = overall.signal;
    let res: Dispatcher.ResponseData;
    try {
      res = await (await this.client.dispatcher(this.settings, u.protocol, route.proxy)).request({
        origin: u.origin,
        path: `${u.pathname}${u.search}`,
        method: req.method,
        headers,
        body: req.body as Dispatcher.DispatchOptions['body'],
        signal,
      });
    } catch (e) {
      settle();
      // A streamed body that failed its own checks (a source that lied) is that error, not a network one.
      const own = timedOut ? (overall.signal.reason as ChartMirrorError) : bodyError(e);
      // Through a proxy, what the proxy said (a 407, a refused CONNECT) is about the proxy.
      const err = (!own && route.proxy ? proxyTransportError(e, route.proxy, req.method, req.url) : undefined) ?? transportError(own ?? e, req.method, req.url);
      // Neither our own body's failure nor our own abort (an interrupt) is something the host did.
      if ((!own || timedOut) && err.code !== 'ABORTED') observer?.request(u.host, 'error');
      throw err;
    }
    res.body.once('close', settle);
    observer?.request(u.host, res.statusCode);
    if (res.statusCode === 407 && route.proxy) {
      await res.body.dump().catch(() => undefined);
      throw proxyTransportError(new Error('Proxy Authentication Required (407)'), route.proxy, req.method, req.url)!;
    }
    if (res.statusCode === 429 || (res.statusCode === 503 && res.headers['retry-after'])) {
      const after = throttleDelay((name) => first(res.headers[name] as string | string[] | undefined));
      const added = gate.pause(after ?? 1000);
      observer?.throttled(u.host, added);
    }
    if (res.statusCode === 400 && u.protocol === 'https:' && isSmallHtml(res.headers)) {
      // nginx with ssl_verify_client completes the handshake and answers a client-certificate
      // problem with a 400 page, not a TLS alert: report it as the TLS problem it is.
      const page = await readSmall(res, req);
      const refusal = clientCertRefusal(page.toString('utf8'));
      if (refusal) throw new ChartMirrorError('TLS', redact(`TLS error for ${req.method} ${displayUrl(req.url)}: ${refusal}`));
      return wrapResponse(res, req, page);
    }
    return wrapResponse(res, req);
  }
}

/** The ChartMirrorError a streamed request body threw, when undici wrapped or passed it on. */
function bodyError(e: unknown): ChartMirrorError | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    if (cur instanceof ChartMirrorError) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const NGINX_CLIENT_CERT_PAGES: Array<[RegExp, string]> = [
  [/<title>400 No required SSL certificate was sent<\/title>/i, 'the server requires a client certificate; set tls.cert and tls.key (HTTP 400 "No required SSL certificate was sent")'],
  [/<title>400 The SSL certificate error<\/title>/i, 'the server rejected the client certificate in tls.cert (HTTP 400 "The SSL certificate error")'],
];

function clientCertRefusal(page: string): string | undefined {
  return NGINX_CLIENT_CERT_PAGES.find(([re]) => re.test(page))?.[1];
}

function isSmallHtml(headers: Dispatcher.ResponseData['headers']): boolean {
  const type = first(headers['content-type'] as string | string[] | undefined) ?? '';
  const length = Number(first(headers['content-length'] as string | string[] | undefined) ?? NaN);
  return /^text\/html\b/i.test(type) && length >= 0 && length <= 4096;
}

async function readSmall(res: Dispatcher.ResponseData, req: HttpRequest): Promise<Buffer> {
  try {
    return Buffer.from(await res.body.arrayBuffer());
  } catch (e) {
    throw transportError(e, req.method, req.url);
  }
}

const unlimited = new WeakSet<AbortSignal>();

/**
 * A run shares one AbortSignal, and every request in flight listens on it (undici, the host
 * gate): more than 10 is normal here, not the leak Node warns about on stderr.
 */
function allowOneListenerPerRequest(signal: AbortSignal): void {
  if (unlimited.has(signal)) return;
  unlimited.add(signal);
  setMaxListeners(0, signal);
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `prefetched`: the body, already read (the response's own stream is then spent). */
function wrapResponse(res: Dispatcher.ResponseData, req: HttpRequest, prefetched?: Buffer): HttpResponse {
  const body = prefetched ? Readable.from([prefetched]) : (res.body as unknown as Readable);
  return {
    status: res.statusCode,
    url: req.url,
    headers: res.headers as Record<string, string | string[] | undefined>,
    header: (name) => first(res.headers[name.toLowerCase()] as string | string[] | undefined),
    body,
    async buffer(maxBytes = Number.MAX_SAFE_INTEGER) {
      const chunks: Buffer[] = [];
      let total = 0;
      try {
        for await (const chunk of body) {
          total += (chunk as Buffer).length;
          if (total > maxBytes) {
            body.destroy();
            throw new ChartMirrorError('DOWNLOAD', `${req.method} ${displayUrl(req.url)}: body larger than ${maxBytes} bytes`);
          }
          chunks.push(chunk as Buffer);
        }
      } catch (e) {
        throw transportError(e, req.method, req.url);
      }
      return Buffer.concat(chunks, total);
    },
    async peekText(maxBytes = 8192) {
      const chunks: Buffer[] = [];
      let total = 0;
      try {
        for await (const chunk of body) {
          chunks.push(chunk as Buffer);
          total += (chunk as Buffer).length;
          if (total >= maxBytes) break;
        }
      } catch {
        // An unreadable error body is not worth a second error.
      } finally {
        body.destroy();
      }
      return redact(Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8'));
    },
    async dump() {
      if (prefetched) return;
      try {
        await (res.body as unknown as { dump(opts?: { limit: number }): Promise<void> }).dump({ limit: 65536 });
      } catch {
        body.destroy();
      }
    },
  };
}

/** A ChartMirrorError for an unexpected status; retryable for 408, 429 and 5xx. */
export function statusError(
  code: ConstructorParameters<typeof ChartMirrorError>[0],
  res: HttpResponse,
  message: string,
): ChartMirrorError {
  return new ChartMirrorError(code, redact(message), {
    status: res.status,
    retryable: isRetryableStatus(res.status),
    retryAfterMs: res.status === 429 ? throttleDelay((n) => res.header(n)) : parseRetryAfter(res.header('retry-after')),
    host: urlHost(res.url),
  });
}

function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
