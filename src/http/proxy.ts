/**
 * Which proxy a request goes through, decided the way Go's `golang.org/x/net/http/httpproxy`
 * (what Helm, Docker, skopeo and oras use through `http.ProxyFromEnvironment`) decides it:
 *
 * - `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http URLs; each name is read upper case
 *   first, then lower case, and an empty value counts as unset (Go's `getEnvAny`).
 * - A value without a scheme (`proxy:3128`) means `http://proxy:3128`.
 * - `localhost` and loopback IPs are never proxied.
 * - `NO_PROXY` is a comma list: `*` (nothing is proxied), IPs, CIDRs, `host:port` and `IP:port`,
 *   and domain names that match themselves and their subdomains (`example.com`), subdomains
 *   only (`.example.com`, `*.example.com`); case-insensitive, IDNs compared as punycode.
 *   Domain entries never match an IP, and IP entries never match a name (no DNS look-ups).
 * - In a CGI environment (`REQUEST_METHOD` set) `HTTP_PROXY` is refused (httpoxy).
 *
 * The config's `http.proxy` overrides the environment key by key; a source, target or registry
 * can name its own proxy (or `false`) for all of its requests. No module here loads undici.
 */
import { domainToASCII } from 'node:url';
import { ChartMirrorError } from '../errors.js';
import { registerSecret } from '../util/secrets.js';
import { displayUrl } from './redact-url.js';

/** `http.proxy` in the config: each key replaces its environment variable. */
export interface ProxyConfig {
  /** Proxy for https:// URLs; false: none, whatever HTTPS_PROXY says. */
  https?: string | false;
  /** Proxy for http:// URLs; false: none, whatever HTTP_PROXY says. */
  http?: string | false;
  /** NO_PROXY entries (joined with commas); replaces NO_PROXY. */
  noProxy?: string[];
}

/** A source's, target's or registry's own `proxy`: for every request it makes. */
export interface EndpointProxy {
  url: string | false;
  /** The config key, for messages: `sources.web.proxy`. */
  from: string;
}

/** A proxy to use: its URL (without credentials), the URL fit for messages, where it was set. */
export interface ProxyTarget {
  url: string;
  display: string;
  from: string;
  /** Whether the URL carried credentials: they go to the proxy as `authorization`. */
  hasCredentials: boolean;
  /** `Basic base64(user:password)` from the URL's user-info, as Go sends it (a user alone too). */
  authorization?: string;
}

/** How one request goes: through `proxy`, or direct; `reason` names the setting that decided. */
export interface ProxyRoute {
  proxy?: ProxyTarget;
  reason: string;
}

interface Setting {
  /** The raw value (a URL, a NO_PROXY list), or false for "none". */
  value: string | false;
  /** HTTPS_PROXY, https_proxy, http.proxy.https, … */
  from: string;
}

/**
 * A proxy URL as Go's httpproxy parses one: a value without a scheme or host is tried again
 * with `http://` in front. Only http:// and https:// proxies are supported here.
 */
export function parseProxyUrl(value: string): { url: URL } | { problem: string } {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (!u || !u.protocol || !u.host) {
    try {
      u = new URL(`http://${value}`);
    } catch {
      return { problem: 'not a URL (use http://host:port)' };
    }
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return { problem: `${u.protocol}// proxies are not supported (use an http:// or https:// proxy)` };
  }
  if (!u.hostname) return { problem: 'has no host (use http://host:port)' };
  return { url: u };
}

/**
 * Register a proxy URL's credentials (and the Basic value made from them) as secrets: the
 * password, or the user name when it comes alone (a token passed as the user, say).
 */
export function registerProxySecrets(u: URL): void {
  if (!u.username && !u.password) return;
  const user = safeDecode(u.username);
  const password = safeDecode(u.password);
  if (password) {
    registerSecret(password);
    registerSecret(u.password);
  } else {
    registerSecret(user);
  }
  registerSecret(`${user}:${password}`);
}

/** Go's proxy Authorization: Basic of `user:password` whenever the URL has user-info. */
function proxyAuthorization(u: URL): string | undefined {
  if (!u.username && !u.password) return undefined;
  const value = `Basic ${Buffer.from(`${safeDecode(u.username)}:${safeDecode(u.password)}`, 'utf8').toString('base64')}`;
  registerSecret(value, { encoded: false });
  return value;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Go's getEnvAny: the first of the names with a non-empty value. */
function envAny(env: NodeJS.ProcessEnv, ...names: string[]): Setting | undefined {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && v !== '') return { value: v, from: name };
  }
  return undefined;
}

/** Where proxies come from for one run: the environment, overridden by `http.proxy`. */
export class ProxyPolicy {
  private readonly https?: Setting;
  private readonly http?: Setting;
  private readonly noProxy: NoProxy;
  private readonly noProxyFrom: string;
  private readonly cgi: boolean;
  private readonly parsed = new Map<string, ProxyTarget | ChartMirrorError>();

  constructor(opts: { https?: Setting; http?: Setting; noProxy?: Setting; cgi?: boolean }) {
    this.https = opts.https;
    this.http = opts.http;
    this.noProxy = new NoProxy(typeof opts.noProxy?.value === 'string' ? opts.noProxy.value : '');
    this.noProxyFrom = opts.noProxy?.from ?? 'NO_PROXY';
    this.cgi = opts.cgi ?? false;
    for (const s of [this.https, this.http]) if (s && s.value !== false) this.target(s.value, s.from);
  }

  /** The environment's proxies (Go's FromEnvironment), each replaced by its `http.proxy` key when set. */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env, config: ProxyConfig = {}): ProxyPolicy {
    const fromConfig = (v: string | false | undefined, key: string): Setting | undefined => (v === undefined ? undefined : { value: v, from: `http.proxy.${key}` });
    return new ProxyPolicy({
      https: fromConfig(config.https, 'https') ?? envAny(env, 'HTTPS_PROXY', 'https_proxy'),
      http: fromConfig(config.http, 'http') ?? envAny(env, 'HTTP_PROXY', 'http_proxy'),
      noProxy: config.noProxy !== undefined ? { value: config.noProxy.join(','), from: 'http.proxy.noProxy' } : envAny(env, 'NO_PROXY', 'no_proxy'),
      // Only the environment's HTTP_PROXY is refused in a CGI environment, as in Go.
      cgi: config.http === undefined && (env.REQUEST_METHOD ?? '') !== '',
    });
  }

  /** Whether any proxy is set (plan then says where each host goes). */
  get configured(): boolean {
    return [this.https, this.http].some((s) => s !== undefined && s.value !== false);
  }

  /**
   * The route of a request to `url`. `own`: the endpoint's own `proxy` (a source's, target's
   * or registry's), which applies to all of its requests, NO_PROXY and loopback included.
   * Throws ChartMirrorError('CONFIG') for a proxy setting that cannot be used.
   */
  route(url: URL, own?: EndpointProxy): ProxyRoute {
    if (own) {
      if (own.url === false) return { reason: `${own.from}: false` };
      return { proxy: this.target(own.url, own.from), reason: own.from };
    }
    const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : undefined;
    const setting = scheme === 'https' ? this.https : scheme === 'http' ? this.http : undefined;
    if (!setting) return { reason: `no proxy for ${scheme ?? url.protocol}` };
    if (setting.value === false) return { reason: `${setting.from}: false` };
    if (scheme === 'http' && this.cgi && !setting.from.startsWith('http.proxy')) {
      throw new ChartMirrorError('CONFIG', `refusing to use ${setting.from} in a CGI environment (REQUEST_METHOD is set); see golang.org/s/cgihttpproxy`);
    }
    const port = url.port || (scheme === 'https' ? '443' : '80');
    const why = directReason(hostOf(url), port, this.noProxy);
    if (why) return { reason: why === 'no-proxy' ? this.noProxyFrom : why };
    return { proxy: this.target(setting.value, setting.from), reason: setting.from };
  }

  private target(value: string, from: string): ProxyTarget {
    const key = `${from}\n${value}`;
    let t = this.parsed.get(key);
    if (!t) {
      const p = parseProxyUrl(value);
      if ('problem' in p) {
        t = new ChartMirrorError('CONFIG', `${from}: ${displayUrl(value)}: ${p.problem}`);
      } else {
        registerProxySecrets(p.url);
        const authorization = proxyAuthorization(p.url);
        const bare = new URL(p.url.href);
        bare.username = '';
        bare.password = '';
        t = { url: bare.href, display: displayUrl(bare).replace(/\/$/, ''), from, hasCredentials: authorization !== undefined, ...(authorization ? { authorization } : {}) };
      }
      this.parsed.set(key, t);
    }
    if (t instanceof ChartMirrorError) throw t;
    return t;
  }
}

/** A URL's host name without IPv6 brackets (WHATWG URLs are already lower case and punycode). */
function hostOf(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** Why `host:port` goes direct ('localhost', 'loopback', 'no-proxy'), or undefined: use the proxy. Go's useProxy. */
function directReason(host: string, port: string, noProxy: NoProxy): 'localhost' | 'loopback' | 'no-proxy' | undefined {
  if (host === 'localhost') return 'localhost';
  const ip = parseIP(host);
  if (ip && isLoopback(ip)) return 'loopback';
  return noProxy.matches(host, port, ip) ? 'no-proxy' : undefined;
}

type Matcher = (host: string, port: string, ip: Uint8Array | undefined) => boolean;

/** A parsed NO_PROXY list (Go's config.init and its matchers). */
export class NoProxy {
  private readonly ipMatchers: Matcher[] = [];
  private readonly domainMatchers: Matcher[] = [];

  constructor(list: string) {
    for (const raw of list.split(',')) {
      const p = raw.trim().toLowerCase();
      if (p === '') continue;
      if (p === '*') {
        this.ipMatchers.splice(0, Infinity, () => true);
        this.domainMatchers.splice(0, Infinity, () => true);
        return;
      }
      const cidr = parseCIDR(p);
      if (cidr) {
        this.ipMatchers.push((_h, _p, ip) => ip !== undefined && cidrContains(cidr, ip));
        continue;
      }
      let phost: string;
      let pport = '';
      const split = splitHostPort(p);
      if (split) {
        if (split.host === '') continue; // no host part: malformed, ignored
        phost = split.host.startsWith('[') && split.host.endsWith(']') ? split.host.slice(1, -1) : split.host;
        pport = split.port;
      } else {
        phost = p;
      }
      const pip = parseIP(phost);
      if (pip) {
        const port = pport;
        this.ipMatchers.push((_h, reqPort, ip) => ip !== undefined && equalIP(pip, ip) && (port === '' || port === reqPort));
        continue;
      }
      if (phost === '') continue;
      if (phost.startsWith('*.')) phost = phost.slice(1);
      let matchHost = false;
      if (!phost.startsWith('.')) {
        matchHost = true;
        phost = `.${phost}`;
      }
      const ascii = domainToASCII(phost);
      if (ascii) phost = ascii;
      const suffix = phost;
      const port = pport;
      this.domainMatchers.push((host, reqPort, ip) => {
        if (ip !== undefined) return false;
        if (host.endsWith(suffix) || (matchHost && host === suffix.slice(1))) return port === '' || port === reqPort;
        return false;
      });
    }
  }

  /** Whether `host` (lower case, no brackets) on `port` is exempt from proxying. */
  matches(host: string, port: string, ip: Uint8Array | undefined = parseIP(host)): boolean {
    const h = host.trim().toLowerCase();
    if (ip) for (const m of this.ipMatchers) if (m(h, port, ip)) return true;
    for (const m of this.domainMatchers) if (m(h, port, ip)) return true;
    return false;
  }
}

/**
 * Whether a request to `host:port` uses a proxy under this NO_PROXY list (Go's useProxy, with
 * its localhost and loopback exemption). For tests and for the docs' examples.
 */
export function useProxy(noProxy: string, host: string, port: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return directReason(h, port, new NoProxy(noProxy)) === undefined;
}

/** Go's net.SplitHostPort: undefined when `s` has no port or is malformed. */
function splitHostPort(s: string): { host: string; port: string } | undefined {
  const i = s.lastIndexOf(':');
  if (i < 0) return undefined;
  let host: string;
  let j = 0;
  let k = 0;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return undefined;
    if (end + 1 === s.length) return undefined;
    if (end + 1 !== i) return undefined;
    host = s.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = s.slice(0, i);
    if (host.includes(':')) return undefined;
  }
  if (s.slice(j).includes('[')) return undefined;
  if (s.slice(k).includes(']')) return undefined;
  return { host, port: s.slice(i + 1) };
}

/** An IP as Go's net.ParseIP reads one (no zones), in 16-byte form (IPv4 as ::ffff:a.b.c.d). */
export function parseIP(s: string): Uint8Array | undefined {
  const v4 = parseIPv4(s);
  if (v4) return v4in6(v4);
  return parseIPv6(s);
}

function parseIPv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let n = 0; n < 4; n++) {
    const p = parts[n]!;
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    if (p.length > 1 && p.startsWith('0')) return undefined; // Go rejects leading zeros
    const v = Number(p);
    if (v > 255) return undefined;
    out[n] = v;
  }
  return out;
}

function v4in6(v4: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

function parseIPv6(s: string): Uint8Array | undefined {
  if (!s.includes(':') || s.includes('%')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const groups = part.split(':');
    for (let n = 0; n < groups.length; n++) {
      const g = groups[n]!;
      if (n === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, n) => {
    out[2 * n] = w >> 8;
    out[2 * n + 1] = w & 0xff;
  });
  return out;
}

/** The 4-byte form of an IPv4 (or IPv4-mapped) address, as Go's To4. */
function to4(ip: Uint8Array): Uint8Array | undefined {
  for (let n = 0; n < 10; n++) if (ip[n] !== 0) return undefined;
  return ip[10] === 0xff && ip[11] === 0xff ? ip.subarray(12) : undefined;
}

function isLoopback(ip: Uint8Array): boolean {
  const v4 = to4(ip);
  if (v4) return v4[0] === 127;
  return ip.every((b, n) => b === (n === 15 ? 1 : 0));
}

function equalIP(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, n) => x === b[n]);
}

/** Go's IPNet: `ip` and `mask` are both 4 bytes (an IPv4 network) or both 16. */
interface Cidr {
  ip: Uint8Array;
  mask: Uint8Array;
}

/** Go's net.ParseCIDR (the prefix length may have leading zeros; the address may not). */
function parseCIDR(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (!/^[0-9]+$/.test(len)) return undefined;
  const bits = Number(len);
  const v4 = parseIPv4(addr);
  const ip16 = v4 ? v4in6(v4) : parseIPv6(addr);
  if (!ip16) return undefined;
  const iplen = v4 ? 4 : 16;
  if (bits > 8 * iplen) return undefined;
  const mask = new Uint8Array(iplen);
  for (let bit = 0; bit < bits; bit++) mask[bit >> 3] = (mask[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  // IP.Mask: a 4-byte mask over a v4-mapped address gives the 4-byte network.
  const ip = iplen === 4 ? ip16.subarray(12) : ip16;
  return { ip: ip.map((b, n) => b & mask[n]!), mask };
}

/** Go's IPNet.Contains (with networkNumberAndMask): IPv4 and v4-mapped addresses compare as 4 bytes. */
function cidrContains(c: Cidr, ip16: Uint8Array): boolean {
  const nn = c.ip.length === 16 ? (to4(c.ip) ?? c.ip) : c.ip;
  const m = c.mask.length === 16 && nn.length === 4 ? c.mask.subarray(12) : c.mask;
  const ip = to4(ip16) ?? ip16;
  if (ip.length !== nn.length || m.length !== nn.length) return false;
  for (let n = 0; n < ip.length; n++) if ((nn[n]! & m[n]!) !== (ip[n]! & m[n]!)) return false;
  return true;
}
