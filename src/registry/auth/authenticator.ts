/**
 * Challenge-driven registry authentication for one registry origin.
 *
 * The registry client asks `authorization(scopes)` before each request, and `onUnauthorized()`
 * after a 401, then resends. The Authenticator never does HTTP to the registry itself; it only
 * talks to token services, through the injected `request`.
 *
 * - Basic: once a registry has sent a Basic challenge, credentials go out preemptively.
 * - Bearer: once the realm is known, tokens are fetched before the request (no 401 per new
 *   repository), cached per (realm, service, scopes) and fetched once under concurrency.
 * - A rejected token is refreshed once; a second rejection of a fresh token is final (AUTH).
 * - Credentials only go to a realm on the registry's own host, auth.docker.io for Docker Hub, or
 *   a host in `trustedRealmHosts`; any other realm gets an anonymous token request.
 */
import { ChartMirrorError } from '../../errors.js';
import { parseWWWAuthenticate, type Challenge } from './challenge.js';
import type { Credential } from './credentials.js';
import { isDockerHub } from './docker-config.js';
import { cleanScopes, splitScopeParam } from './scope.js';
import { redactSecrets, registerSecret } from '../../util/secrets.js';
import { MIN_TOKEN_LIFETIME_MS, TokenCache, type FetchedToken } from './token-cache.js';

export { repositoryScope, pushScopes, cleanScopes } from './scope.js';

export interface AuthHttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type AuthRequest = (req: {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}) => Promise<AuthHttpResponse>;

export interface AuthenticatorOptions {
  /** The registry origin, e.g. 'https://reg:5000'. */
  registry: string;
  /** Resolved lazily, at most once. */
  credential: () => Promise<Credential | undefined>;
  /** Used for token services only. */
  request: AuthRequest;
  /** Extra token-service hosts (hostname or host:port) that may receive credentials. */
  trustedRealmHosts?: string[];
  /** Clock in ms; default Date.now. */
  now?: () => number;
  /** OAuth2 client_id; default 'chartmirror'. */
  clientId?: string;
}

interface BearerRealm {
  realm: URL;
  service: string | undefined;
  /** Whether credentials may be sent to the realm's host. */
  trusted: boolean;
}

type CredentialOutcome = { ok: true; value: Credential | undefined } | { ok: false; error: unknown };

const DEFAULT_CLIENT_ID = 'chartmirror';
const DOCKER_HUB_AUTH_HOST = 'auth.docker.io';
/** A token response is a few KiB; anything much larger is not one (oras-go caps at 128 KiB). */
const MAX_TOKEN_RESPONSE_CHARS = 128 * 1024;

export class Authenticator {
  private readonly origin: URL;
  /** host[:port], for messages. */
  private readonly host: string;
  private readonly request: AuthRequest;
  private readonly credentialFn: () => Promise<Credential | undefined>;
  private readonly trusted: Set<string>;
  private readonly now: () => number;
  private readonly clientId: string;
  private readonly tokens: TokenCache;

  private mode: 'unknown' | 'basic' | 'bearer' = 'unknown';
  private bearer: BearerRealm | undefined;
  private credentialOutcome: Promise<CredentialOutcome> | undefined;
  /** A refresh token the token service handed back in place of the configured one. */
  private rotatedIdentityToken: string | undefined;
  /** Scopes a challenge added to a request's own (keyed by the request's scopes), asked for up front next time. */
  private readonly scopeHints = new Map<string, string[]>();

  constructor(opts: AuthenticatorOptions) {
    this.origin = new URL(opts.registry);
    this.host = this.origin.host;
    this.request = opts.request;
    this.credentialFn = opts.credential;
    this.trusted = new Set((opts.trustedRealmHosts ?? []).map((h) => h.toLowerCase()));
    this.now = opts.now ?? Date.now;
    this.clientId = opts.clientId ?? DEFAULT_CLIENT_ID;
    this.tokens = new TokenCache(this.now);
  }

  /**
   * The Authorization header for a request needing `scopes`, or undefined while nothing is known
   * (the first request goes out anonymous). A configured bearer token is sent at once.
   */
  async authorization(scopes: string[]): Promise<string | undefined> {
    // A broken credential source must not fail registries that never ask for credentials:
    // its error is raised when a challenge needs it.
    const outcome = await this.credentialSettled();
    const cred = outcome.ok ? outcome.value : undefined;
    if (cred?.kind === 'bearer') return bearerHeader(cred.token);
    if (this.mode === 'basic') return cred?.kind === 'basic' ? basicHeader(cred) : undefined;
    if (this.mode === 'bearer' && this.bearer) {
      const realm = this.bearer;
      const own = cleanScopes(scopes);
      const wanted = this.scopeHints.get(own.join(' ')) ?? own;
      const entry = await this.tokens.get(cacheKey(realm, wanted), () => this.fetchToken(realm, wanted));
      return bearerHeader(entry.token);
    }
    return undefined;
  }

  /**
   * After a 401: learn from the challenge and return the Authorization to retry with. `failed` is
   * what the rejected request carried. Throws ChartMirrorError('AUTH') when there is nothing new to
   * try. `requestUrl` (optional) resolves a relative realm; default the registry's /v2/.
   */
  async onUnauthorized(
    wwwAuthenticate: string | string[] | undefined,
    scopes: string[],
    failed: string | undefined,
    requestUrl?: string,
  ): Promise<string> {
    const challenges = parseWWWAuthenticate(wwwAuthenticate);
    const bearerChallenge = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    const basicChallenge = challenges.find((c) => c.scheme === 'basic');
    const cred = await this.requireCredential();

    if (cred?.kind === 'bearer') {
      const header = bearerHeader(cred.token);
      if (failed === header) throw this.fail(`the registry rejected the token from ${cred.from}`);
      return header;
    }
    if (bearerChallenge) {
      this.mode = 'bearer';
      this.bearer = this.validateRealm(bearerChallenge, requestUrl);
      // The token must cover what we need and whatever the registry says it wants.
      const own = cleanScopes(scopes);
      const wanted = cleanScopes([...own, ...splitScopeParam(bearerChallenge.params.scope)]);
      if (wanted.join(' ') !== own.join(' ')) this.scopeHints.set(own.join(' '), wanted);
      return this.bearerAfterRejection(this.bearer, wanted, failed, cred);
    }
    if (basicChallenge) {
      this.mode = 'basic';
      if (!cred) throw this.fail(`the registry requires a username and password and none were found${NOWHERE}`);
      if (cred.kind !== 'basic') {
        throw this.fail(`the registry asks for Basic authentication but the credential from ${cred.from} is an identity token`);
      }
      const header = basicHeader(cred);
      if (failed === header) throw this.fail(`the registry rejected the username and password from ${cred.from}`);
      return header;
    }
    if (challenges.length === 0) throw this.fail('the registry answered 401 without a WWW-Authenticate challenge');
    throw this.fail(`the registry answered 401 with an unsupported challenge (${describeSchemes(challenges)})`);
  }

  /** Counters for tests: tokens fetched, in total and per cache key. */
  stats(): { tokenFetches: number; tokenFetchesByKey: Record<string, number> } {
    return { tokenFetches: this.tokens.fetchCount(), tokenFetchesByKey: this.tokens.fetchCountsByKey() };
  }

  private async bearerAfterRejection(
    realm: BearerRealm,
    scopes: string[],
    failed: string | undefined,
    cred: Credential | undefined,
  ): Promise<string> {
    const key = cacheKey(realm, scopes);
    const fetch = (): Promise<FetchedToken> => this.fetchToken(realm, scopes);
    const entry = await this.tokens.get(key, fetch);
    if (failed !== bearerHeader(entry.token)) return bearerHeader(entry.token);
    // This very token was rejected. Refresh once; a rejected refreshed token is final.
    if (entry.afterRejection) throw this.rejected(realm, scopes, cred);
    const renewed = await this.tokens.get(key, fetch, { replace: entry.token, afterRejection: true });
    if (renewed.token === entry.token) throw this.rejected(realm, scopes, cred);
    return bearerHeader(renewed.token);
  }

  private validateRealm(challenge: Challenge, requestUrl: string | undefined): BearerRealm {
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm!, requestUrl ?? new URL('/v2/', this.origin));
    } catch {
      throw this.fail('the token realm in the registry challenge is not a valid URL');
    }
    realm.username = '';
    realm.password = '';
    realm.hash = '';
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw this.fail(`the token realm ${displayUrl(realm)} is neither https nor http`);
    }
    if (this.origin.protocol === 'https:' && realm.protocol !== 'https:') {
      throw this.fail(`the registry uses https but its token realm ${displayUrl(realm)} does not; refusing it`);
    }
    return { realm, service: challenge.params.service, trusted: this.isTrustedRealmHost(realm) };
  }

  /**
   * Same hostname as the registry (any port: token services often run beside the registry on
   * another port), Docker Hub's auth.docker.io, or listed in trustedRealmHosts.
   */
  private isTrustedRealmHost(realm: URL): boolean {
    const hostname = realm.hostname.toLowerCase();
    if (hostname === this.origin.hostname.toLowerCase()) return true;
    if (hostname === DOCKER_HUB_AUTH_HOST && isDockerHub(this.origin.hostname)) return true;
    return this.trusted.has(hostname) || this.trusted.has(realm.host.toLowerCase());
  }

  private async fetchToken(realm: BearerRealm, scopes: string[]): Promise<FetchedToken> {
    const cred = realm.trusted ? await this.requireCredential() : undefined;
    if (cred?.kind === 'identity') {
      const refreshToken = this.rotatedIdentityToken ?? cred.identityToken;
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: this.clientId });
      if (realm.service !== undefined) form.set('service', realm.service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      const resp = await this.request({
        method: 'POST',
        url: realm.realm.href,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
      });
      // Not every token server implements OAuth2 (distribution oauth.md): fall back to GET.
      if (resp.status !== 404 && resp.status !== 405) return this.readTokenResponse(resp, realm, scopes, cred);
    }
    const url = new URL(realm.realm.href);
    if (realm.service !== undefined) url.searchParams.set('service', realm.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (cred?.kind === 'basic') headers.authorization = basicHeader(cred);
    else if (cred?.kind === 'identity' && cred.username) {
      headers.authorization = basicHeader({ username: cred.username, password: this.rotatedIdentityToken ?? cred.identityToken });
    }
    const resp = await this.request({ method: 'GET', url: url.href, headers });
    return this.readTokenResponse(resp, realm, scopes, cred);
  }

  private readTokenResponse(
    resp: AuthHttpResponse,
    realm: BearerRealm,
    scopes: string[],
    cred: Credential | undefined,
  ): FetchedToken {
    const receivedAt = this.now();
    const where = `the token service ${displayUrl(realm.realm)}`;
    if (resp.status !== 200) {
      const detail = errorDetail(resp.body);
      const suffix = `${detail ? `: ${detail}` : ''} (${this.describeCredential(realm, cred)}; scopes ${scopes.join(' ') || 'none'})`;
      if (resp.status === 429 || resp.status >= 500) {
        throw new ChartMirrorError('REGISTRY', `${where} for ${this.host} answered ${resp.status}${suffix}`, {
          retryable: true,
          status: resp.status,
          retryAfterMs: retryAfterMs(header(resp, 'retry-after'), receivedAt),
          host: realm.realm.host,
        });
      }
      throw new ChartMirrorError('AUTH', `authentication failed for ${this.host}: ${where} answered ${resp.status}${suffix}`, {
        status: resp.status,
      });
    }
    let parsed: Record<string, unknown>;
    try {
      if (resp.body.length > MAX_TOKEN_RESPONSE_CHARS) throw new Error('too large');
      const v: unknown = JSON.parse(resp.body);
      if (typeof v !== 'object' || v === null) throw new Error('not an object');
      parsed = v as Record<string, unknown>;
    } catch {
      // Never quote the body: it is made of tokens.
      throw this.fail(`${where} answered 200 with something that is not a JSON token response`);
    }
    const str = (k: string): string => (typeof parsed[k] === 'string' ? (parsed[k] as string) : '');
    // Docker's client prefers access_token when both are present; they should be equal.
    const token = str('access_token') || str('token');
    if (token === '') throw this.fail(`${where} answered without a token`);
    registerSecret(token, { encoded: false });
    const refresh = str('refresh_token');
    if (refresh !== '' && cred?.kind === 'identity') {
      registerSecret(refresh);
      this.rotatedIdentityToken = refresh;
    }
    return { token, receivedAt, lifetimeMs: tokenLifetimeMs(parsed, header(resp, 'date'), receivedAt) };
  }

  private rejected(realm: BearerRealm, scopes: string[], cred: Credential | undefined): ChartMirrorError {
    return this.fail(
      `the registry rejected a fresh token from ${displayUrl(realm.realm)} for ${scopes.join(' ') || 'no scope'} ` +
        `(${this.describeCredential(realm, cred)}); the repository may not exist or the account may lack access`,
    );
  }

  private describeCredential(realm: BearerRealm, cred: Credential | undefined): string {
    if (!realm.trusted) {
      return `requested anonymously: credentials are only sent to the registry's own host, and token realm host ${realm.realm.host} is not in trustedRealmHosts`;
    }
    if (!cred) return `requested anonymously: no credentials found${NOWHERE}`;
    return `credentials from ${cred.from}`;
  }

  private fail(why: string): ChartMirrorError {
    // Every message is built from non-secret parts; the scrub is a second line of defence.
    return new ChartMirrorError('AUTH', redactSecrets(`authentication failed for ${this.host}: ${why}`));
  }

  private credentialSettled(): Promise<CredentialOutcome> {
    this.credentialOutcome ??= this.credentialFn().then(
      (value): CredentialOutcome => {
        registerCredential(value);
        return { ok: true, value };
      },
      (error: unknown): CredentialOutcome => ({ ok: false, error }),
    );
    return this.credentialOutcome;
  }

  private async requireCredential(): Promise<Credential | undefined> {
    const outcome = await this.credentialSettled();
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }
}

const NOWHERE = " (looked in the target's auth, Helm's registry config and Docker's config.json)";

function bearerHeader(token: string): string {
  return `Bearer ${token}`;
}

function basicHeader(cred: { username: string; password: string }): string {
  const encoded = Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64');
  registerSecret(encoded, { encoded: false });
  return `Basic ${encoded}`;
}

function registerCredential(cred: Credential | undefined): void {
  if (!cred) return;
  if (cred.kind === 'basic') {
    registerSecret(cred.password);
    registerSecret(`${cred.username}:${cred.password}`);
  } else if (cred.kind === 'bearer') registerSecret(cred.token);
  else registerSecret(cred.identityToken);
}

function cacheKey(realm: BearerRealm, scopes: string[]): string {
  return `${realm.realm.href} ${realm.service ?? ''} ${scopes.join(' ')}`;
}

/**
 * How long a token stays valid from now. expires_in defaults to 60 s and is floored at 60 s
 * (distribution token.md). When issued_at is given, the token's age is subtracted, measured on
 * the token service's clock (its Date header) so that our clock's skew does not matter; an age
 * that makes no sense (negative, or beyond the lifetime) is taken as skew and ignored.
 */
export function tokenLifetimeMs(body: Record<string, unknown>, dateHeader: string | undefined, now: number): number {
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in);
  const lifetime = Number.isFinite(expiresIn) ? Math.max(MIN_TOKEN_LIFETIME_MS, expiresIn * 1000) : MIN_TOKEN_LIFETIME_MS;
  const issuedAt = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
  if (Number.isNaN(issuedAt)) return lifetime;
  const serverNow = dateHeader ? Date.parse(dateHeader) : NaN;
  const age = (Number.isNaN(serverNow) ? now : serverNow) - issuedAt;
  // Date has whole seconds: allow a second of rounding before calling an age negative.
  if (age < -1000 || age >= lifetime) return lifetime;
  return lifetime - Math.max(0, age);
}

function header(resp: AuthHttpResponse, name: string): string | undefined {
  for (const [k, v] of Object.entries(resp.headers)) {
    if (k.toLowerCase() !== name) continue;
    return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A short, scrubbed reason from a token service's error body, if it has one. */
function errorDetail(body: string): string | undefined {
  let text: string | undefined;
  try {
    const v = JSON.parse(body.slice(0, MAX_TOKEN_RESPONSE_CHARS)) as Record<string, unknown>;
    const errors = Array.isArray(v.errors) ? (v.errors[0] as Record<string, unknown> | undefined) : undefined;
    const pick = [errors?.message, v.details, v.error_description, v.message, v.error].find(
      (x): x is string => typeof x === 'string' && x !== '',
    );
    text = pick;
  } catch {
    return undefined; // HTML or text pages say nothing useful, and may echo the request
  }
  if (!text) return undefined;
  const oneLine = redactSecrets(text.replace(/\s+/g, ' ').trim());
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}

function displayUrl(u: URL): string {
  return `${u.origin}${u.pathname}`;
}

function describeSchemes(challenges: Challenge[]): string {
  return [...new Set(challenges.map((c) => c.scheme))].join(', ');
}
