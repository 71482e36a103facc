import { describe, expect, it } from 'vitest';
import { rejection } from './rejection.js';
import { ChartMirrorError } from '../../src/errors.js';
import { Authenticator, repositoryScope } from '../../src/registry/auth/authenticator.js';
import type { Credential } from '../../src/registry/auth/credentials.js';
import { fakeTokenService } from './fake-token-service.js';

const REGISTRY = 'https://reg.example.com:5000';
const PUSH = [repositoryScope('charts/nginx', ['pull', 'push'])];
const PASSWORD = 's3cret-Passw0rd';
const BASIC: Credential = { kind: 'basic', username: 'alice', password: PASSWORD, from: 'config' };
const BASIC_HEADER = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;

function bearerChallenge(realm = 'https://reg.example.com:5000/token', extra = ''): string {
  return `Bearer realm="${realm}",service="reg.example.com:5000"${extra}`;
}

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function make(
  svc: ReturnType<typeof fakeTokenService>,
  opts: { cred?: Credential; registry?: string; trustedRealmHosts?: string[]; now?: () => number; credential?: () => Promise<Credential | undefined> } = {},
): Authenticator {
  return new Authenticator({
    registry: opts.registry ?? REGISTRY,
    credential: opts.credential ?? (async () => opts.cred),
    request: svc.request,
    trustedRealmHosts: opts.trustedRealmHosts,
    now: opts.now,
  });
}

describe('Authenticator: bearer tokens', () => {
  it('sends the first request anonymously, then fetches a token with service and one scope parameter per scope', async () => {
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    const auth = make(svc, { cred: BASIC });
    expect(await auth.authorization(PUSH)).toBeUndefined();
    const scopes = [...PUSH, repositoryScope('charts/base', ['pull'])];
    const h = await auth.onUnauthorized(bearerChallenge(), scopes, undefined);
    expect(h).toBe(`Bearer ${svc.issued[0]}`);
    expect(svc.calls).toHaveLength(1);
    const call = svc.calls[0]!;
    expect(call.method).toBe('GET');
    expect(call.url.origin + call.url.pathname).toBe('https://reg.example.com:5000/token');
    expect(call.url.searchParams.get('service')).toBe('reg.example.com:5000');
    expect(call.url.searchParams.getAll('scope')).toEqual(['repository:charts/base:pull', 'repository:charts/nginx:pull,push']);
    expect(call.headers.authorization).toBe(BASIC_HEADER);
    // Cached: the next request for the same scopes carries it without a fetch.
    expect(await auth.authorization([...scopes].reverse())).toBe(h);
    expect(auth.stats().tokenFetches).toBe(1);
  });

  it('fetches a token up front for new scopes once the realm is known', async () => {
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    const auth = make(svc, { cred: BASIC });
    await auth.onUnauthorized(bearerChallenge(), PUSH, undefined);
    const other = [repositoryScope('charts/redis', ['pull', 'push'])];
    expect(await auth.authorization(other)).toBe(`Bearer ${svc.issued[1]}`);
    expect(svc.calls[1]!.url.searchParams.getAll('scope')).toEqual(other);
    expect(auth.stats().tokenFetches).toBe(2);
  });

  it('requests the union of its scopes and the challenge scope, and asks for it up front next time', async () => {
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    const auth = make(svc, { cred: BASIC });
    const h = await auth.onUnauthorized(
      bearerChallenge(undefined, ',scope="repository:charts/nginx:pull repository:reg.example.com:5000/mirror/src:pull"'),
      PUSH,
      undefined,
    );
    expect(svc.calls[0]!.url.searchParams.getAll('scope')).toEqual([
      'repository:charts/nginx:pull,push',
      'repository:reg.example.com:5000/mirror/src:pull',
    ]);
    expect(await auth.authorization(PUSH)).toBe(h);
    expect(auth.stats().tokenFetches).toBe(1);
  });

  it('uses access_token or token, whichever is present', async () => {
    for (const field of ['token', 'access_token'] as const) {
      const svc = fakeTokenService({ field });
      const auth = make(svc);
      expect(await auth.onUnauthorized(bearerChallenge(), PUSH, undefined)).toBe(`Bearer ${svc.issued[0]}`);
    }
  });

  it('asks anonymously when there are no credentials', async () => {
    const svc = fakeTokenService();
    const auth = make(svc);
    await auth.onUnauthorized(bearerChallenge(), PUSH, undefined);
    expect(svc.calls[0]!.headers.authorization).toBeUndefined();
  });

  it('resolves a relative realm against the request URL', async () => {
    const svc = fakeTokenService();
    const auth = make(svc);
    await auth.onUnauthorized('Bearer realm="/auth/token",service="s"', PUSH, undefined);
    expect(svc.calls[0]!.url.href.split('?')[0]).toBe('https://reg.example.com:5000/auth/token');
    const auth2 = make(svc);
    await auth2.onUnauthorized('Bearer realm="token",service="s"', PUSH, undefined, 'https://reg.example.com:5000/v2/x/blobs/uploads/');
    expect(svc.calls[1]!.url.href.split('?')[0]).toBe('https://reg.example.com:5000/v2/x/blobs/uploads/token');
  });

  it('keeps query parameters that are part of the realm', async () => {
    const svc = fakeTokenService();
    const auth = make(svc);
    await auth.onUnauthorized(bearerChallenge('https://reg.example.com:5000/token?tenant=a'), PUSH, undefined);
    expect(svc.calls[0]!.url.searchParams.get('tenant')).toBe('a');
  });
});

describe('Authenticator: token lifetime', () => {
  it('uses a token until its expiry minus a margin (expires_in 300 s: 10% = 30 s early)', async () => {
    const c = clock();
    const svc = fakeTokenService({ extra: { expires_in: 300 } });
    const auth = make(svc, { now: c.now });
    const first = await auth.onUnauthorized(bearerChallenge(), PUSH, undefined);
    c.advance(269_000);
    expect(await auth.authorization(PUSH)).toBe(first);
    c.advance(2_000);
    const second = await auth.authorization(PUSH);
    expect(second).not.toBe(first);
    expect(auth.stats().tokenFetches).toBe(2);
  });

  it('defaults expires_in to 60 s and never goes below 60 s (10 s margin)', async () => {
    for (const extra of [{}, { expires_in: 5 }]) {
      const c = clock();
      const svc = fakeTokenService({ extra });
      const auth = make(svc, { now: c.now });
      const first = await auth.onUnauthorized(bearerChallenge(), PUSH, undefined);
      c.advance(49_000);
      expect(await auth.authorization(PUSH)).toBe(first);
      c.advance(2_000);
      expect(await auth.authorization(PUSH)).not.toBe(first);
    }
  });

  it("subtracts the token's age from issued_at, measured on the token service's clock", async () => {
    const c = clock();
    // Our clock runs an hour fast; the service's Date says the token is 100 s old.
    const serverNow = new Date(c.now() - 3_600_000);
    const svc = fakeTokenService({
      extra: { expires_in: 300, issued_at: new Date(serverNow.getTime() - 100_000).toISOString() },
      headers: { date: serverNow.toUTCString() },
    });
    const auth = make(svc, { now: c.now });
    const first = await auth.onUnauthorized(bearerChallenge(), PUSH, undefined);
    // 200 s left, margin 20 s.
    c.advance(179_000);
    expect(await auth.authorization(PUSH)).toBe(first);
    c.advance(2_000);
    expect(await auth.authorization(PUSH)).not.toBe(first);
  });

  it('ignores an issued_at that only clock skew can explain', async () => {
    const c = clock();
    const svc = fakeTokenService({ extra: { expires_in: 300, issued_at: new Date(c.now() + 3_600_000).toISOString() } });
    const auth = make(svc, { now: c.now });
    const first = await auth.onUnauthorized(bearerChallenge(), PUSH, undefined);
    c.advance(269_000);
    expect(await auth.authorization(PUSH)).toBe(first);
  });
});

describe('Authenticator: concurrency', () => {
  it('fetches one token for 100 concurrent authorization() calls', async () => {
    const c = clock();
    const svc = fakeTokenService({ delayMs: 20, users: { alice: PASSWORD } });
    const auth = make(svc, { now: c.now, cred: BASIC });
    await auth.onUnauthorized(bearerChallenge(), PUSH, undefined);
    c.advance(3_600_000); // expired
    const headers = await Promise.all(Array.from({ length: 100 }, () => auth.authorization(PUSH)));
    expect(new Set(headers)).toEqual(new Set([`Bearer ${svc.issued[1]}`]));
    expect(auth.stats().tokenFetches).toBe(2);
  });

  it('fetches one token for 100 concurrent 401s', async () => {
    const svc = fakeTokenService({ delayMs: 20 });
    const auth = make(svc);
    const headers = await Promise.all(Array.from({ length: 100 }, () => auth.onUnauthorized(bearerChallenge(), PUSH, undefined)));
    expect(new Set(headers).size).toBe(1);
    expect(auth.stats().tokenFetches).toBe(1);
  });

  it('refreshes once when many requests with the same token are rejected together', async () => {
    const svc = fakeTokenService({ delayMs: 20 });
    const auth = make(svc);
    const t1 = await auth.onUnauthorized(bearerChallenge(), PUSH, undefined);
    const again = await Promise.all(Array.from({ length: 20 }, () => auth.onUnauthorized(bearerChallenge(), PUSH, t1)));
    expect(new Set(again)).toEqual(new Set([`Bearer ${svc.issued[1]}`]));
    expect(auth.stats().tokenFetches).toBe(2);
  });

  it('resolves the credential once', async () => {
    let calls = 0;
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    const auth = make(svc, {
      credential: async () => {
        calls++;
        return BASIC;
      },
    });
    await Promise.all([auth.authorization(PUSH), auth.authorization(PUSH), auth.onUnauthorized(bearerChallenge(), PUSH, undefined)]);
    await auth.authorization([repositoryScope('x', ['pull'])]);
    expect(calls).toBe(1);
  });
});

describe('Authenticator: rejection', () => {
  it('refreshes a rejected token once, then fails with AUTH', async () => {
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    const auth = make(svc, { cred: BASIC });
    // The registry client's loop: anonymous -> 401 -> T1 -> 401 -> T2 -> 401 -> error.
    let sent = await auth.authorization(PUSH);
    sent = await auth.onUnauthorized(bearerChallenge(), PUSH, sent);
    expect(sent).toBe(`Bearer ${svc.issued[0]}`);
    sent = await auth.onUnauthorized(bearerChallenge(), PUSH, sent);
    expect(sent).toBe(`Bearer ${svc.issued[1]}`);
    const err = await rejection(auth.onUnauthorized(bearerChallenge(), PUSH, sent));
    expect(err.code).toBe('AUTH');
    expect(err.message).toMatch(/^authentication failed for reg\.example\.com:5000: the registry rejected a fresh token/);
    expect(err.message).toContain('credentials from config');
    expect(err.message).toContain('repository:charts/nginx:pull,push');
    expect(auth.stats().tokenFetches).toBe(2);
  });

  it('treats a 401 for a token of narrower scope as a scope change, not a rejection', async () => {
    const svc = fakeTokenService();
    const auth = make(svc);
    const pull = [repositoryScope('charts/nginx', ['pull'])];
    const t1 = await auth.onUnauthorized(bearerChallenge(), pull, undefined);
    const t2 = await auth.onUnauthorized(bearerChallenge(undefined, ',scope="repository:charts/nginx:pull,push"'), pull, t1);
    expect(t2).not.toBe(t1);
    expect(svc.calls[1]!.url.searchParams.getAll('scope')).toEqual(['repository:charts/nginx:pull,push']);
  });

  it('fails with the token service reason when it rejects the credentials, without the password', async () => {
    const svc = fakeTokenService({ users: { alice: 'other' } });
    const auth = make(svc, { cred: BASIC });
    const err = await rejection(auth.onUnauthorized(bearerChallenge(), PUSH, undefined));
    expect(err.code).toBe('AUTH');
    expect(err.status).toBe(401);
    expect(err.message).toContain('authentication failed for reg.example.com:5000: the token service https://reg.example.com:5000/token answered 401');
    expect(err.message).toContain('incorrect username or password');
    expect(err.message).not.toContain(PASSWORD);
  });

  it('reports a token service outage as a retryable REGISTRY error with Retry-After', async () => {
    const svc = fakeTokenService({ status: 503 });
    const auth = make(svc);
    const err = await rejection(auth.onUnauthorized(bearerChallenge(), PUSH, undefined));
    expect(err.code).toBe('REGISTRY');
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(7000);
  });

  it('fails on a token response without a token or with a non-JSON body', async () => {
    for (const errorBody of ['{"expires_in":60}', '<html>not json</html>']) {
      const svc = fakeTokenService();
      const auth = new Authenticator({
        registry: REGISTRY,
        credential: async () => undefined,
        request: async (r) => ({ ...(await svc.request(r)), body: errorBody }),
      });
      const err = await rejection(auth.onUnauthorized(bearerChallenge(), PUSH, undefined));
      expect(err.code).toBe('AUTH');
    }
  });

  it('fails on a 401 without a challenge or with an unknown scheme', async () => {
    const auth = make(fakeTokenService());
    expect((await rejection(auth.onUnauthorized(undefined, PUSH, undefined))).message).toContain('without a WWW-Authenticate');
    expect((await rejection(auth.onUnauthorized('Negotiate', PUSH, undefined))).message).toContain('unsupported challenge (negotiate)');
    // A Bearer challenge without a realm cannot be answered either.
    expect((await rejection(auth.onUnauthorized('Bearer service="x"', PUSH, undefined))).code).toBe('AUTH');
  });
});

describe('Authenticator: OAuth2 with an identity token', () => {
  const IDENTITY: Credential = { kind: 'identity', identityToken: 'refresh-abc-123', from: '/home/u/.docker/config.json' };

  it('POSTs grant_type=refresh_token with client_id=chartmirror, service and space-joined scopes', async () => {
    const svc = fakeTokenService({ refreshTokens: ['refresh-abc-123'] });
    const auth = make(svc, { cred: IDENTITY });
    const scopes = [...PUSH, repositoryScope('charts/base', ['pull'])];
    expect(await auth.onUnauthorized(bearerChallenge(), scopes, undefined)).toBe(`Bearer ${svc.issued[0]}`);
    const call = svc.calls[0]!;
    expect(call.method).toBe('POST');
    expect(call.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(call.form!)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'refresh-abc-123',
      client_id: 'chartmirror',
      service: 'reg.example.com:5000',
      scope: 'repository:charts/base:pull repository:charts/nginx:pull,push',
    });
    expect(call.url.search).toBe('');
  });

  it('falls back to GET when the token service answers the POST with 404 or 405', async () => {
    for (const oauth of [404, 405] as const) {
      const svc = fakeTokenService({ oauth });
      const auth = make(svc, { cred: IDENTITY });
      expect(await auth.onUnauthorized(bearerChallenge(), PUSH, undefined)).toBe(`Bearer ${svc.issued[0]}`);
      expect(svc.calls.map((c) => c.method)).toEqual(['POST', 'GET']);
      expect(svc.calls[1]!.url.searchParams.getAll('scope')).toEqual(PUSH);
    }
  });

  it('fails with AUTH when the refresh token is refused, without quoting it', async () => {
    const svc = fakeTokenService({ refreshTokens: ['another'] });
    const auth = make(svc, { cred: IDENTITY });
    const err = await rejection(auth.onUnauthorized(bearerChallenge(), PUSH, undefined));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain('answered 401');
    expect(err.message).not.toContain('refresh-abc-123');
  });
});

describe('Authenticator: realm trust', () => {
  it('asks a realm on another host anonymously and says so when that fails', async () => {
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    const auth = make(svc, { cred: BASIC });
    let sent = await auth.onUnauthorized(bearerChallenge('https://auth.elsewhere.example/token'), PUSH, undefined);
    expect(svc.calls[0]!.headers.authorization).toBeUndefined();
    sent = await auth.onUnauthorized(bearerChallenge('https://auth.elsewhere.example/token'), PUSH, sent);
    const err = await rejection(auth.onUnauthorized(bearerChallenge('https://auth.elsewhere.example/token'), PUSH, sent));
    expect(err.message).toContain('requested anonymously');
    expect(err.message).toContain('auth.elsewhere.example is not in trustedRealmHosts');
    expect(svc.calls.every((c) => c.headers.authorization === undefined)).toBe(true);
  });

  it('sends credentials to a realm in trustedRealmHosts, or on the same hostname', async () => {
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    await make(svc, { cred: BASIC, trustedRealmHosts: ['auth.elsewhere.example'] }).onUnauthorized(
      bearerChallenge('https://auth.elsewhere.example/token'),
      PUSH,
      undefined,
    );
    await make(svc, { cred: BASIC }).onUnauthorized(bearerChallenge('https://reg.example.com:5001/auth'), PUSH, undefined);
    expect(svc.calls.map((c) => c.headers.authorization)).toEqual([BASIC_HEADER, BASIC_HEADER]);
  });

  it("trusts auth.docker.io for Docker Hub's registry only", async () => {
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    const hub = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"';
    await make(svc, { cred: BASIC, registry: 'https://registry-1.docker.io' }).onUnauthorized(hub, PUSH, undefined);
    await make(svc, { cred: BASIC }).onUnauthorized(hub, PUSH, undefined);
    expect(svc.calls.map((c) => c.headers.authorization)).toEqual([BASIC_HEADER, undefined]);
  });

  it('refuses an http realm for an https registry, and accepts it for an http one', async () => {
    const svc = fakeTokenService();
    const err = await rejection(make(svc).onUnauthorized(bearerChallenge('http://reg.example.com:5000/token'), PUSH, undefined));
    expect(err.message).toContain('the registry uses https but its token realm http://reg.example.com:5000/token does not');
    expect(svc.calls).toHaveLength(0);
    await make(svc, { registry: 'http://localhost:5000' }).onUnauthorized(bearerChallenge('http://localhost:5000/token'), PUSH, undefined);
    expect(svc.calls).toHaveLength(1);
  });

  it('drops user-info from a realm and never prints it', async () => {
    const svc = fakeTokenService();
    await make(svc).onUnauthorized(bearerChallenge('https://u:p4ss-w0rd@reg.example.com:5000/token'), PUSH, undefined);
    expect(svc.calls[0]!.url.username).toBe('');
    expect(svc.calls[0]!.url.password).toBe('');
  });
});

describe('Authenticator: Basic', () => {
  it('answers a Basic challenge, then sends Basic up front', async () => {
    const auth = make(fakeTokenService(), { cred: BASIC });
    expect(await auth.authorization(PUSH)).toBeUndefined();
    expect(await auth.onUnauthorized('Basic realm="Registry"', PUSH, undefined)).toBe(BASIC_HEADER);
    expect(await auth.authorization([repositoryScope('other', ['pull'])])).toBe(BASIC_HEADER);
  });

  it('fails when the same Basic credentials are rejected', async () => {
    const auth = make(fakeTokenService(), { cred: BASIC });
    const err = await rejection(auth.onUnauthorized('Basic realm="Registry"', PUSH, BASIC_HEADER));
    expect(err.message).toBe('authentication failed for reg.example.com:5000: the registry rejected the username and password from config');
  });

  it('fails at once on a Basic challenge without credentials', async () => {
    const err = await rejection(make(fakeTokenService()).onUnauthorized('Basic', PUSH, undefined));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain('none were found');
  });

  it('prefers Bearer when a header offers both', async () => {
    const svc = fakeTokenService({ users: { alice: PASSWORD } });
    const auth = make(svc, { cred: BASIC });
    expect(await auth.onUnauthorized(`Basic realm="r", ${bearerChallenge()}`, PUSH, undefined)).toBe(`Bearer ${svc.issued[0]}`);
  });
});

describe('Authenticator: configured bearer token', () => {
  const TOKEN: Credential = { kind: 'bearer', token: 'ready-made-token-987', from: 'config' };

  it('sends it at once and never asks a token service', async () => {
    const svc = fakeTokenService();
    const auth = make(svc, { cred: TOKEN });
    expect(await auth.authorization(PUSH)).toBe('Bearer ready-made-token-987');
    const err = await rejection(auth.onUnauthorized(bearerChallenge(), PUSH, 'Bearer ready-made-token-987'));
    expect(err.message).toBe('authentication failed for reg.example.com:5000: the registry rejected the token from config');
    expect(svc.calls).toHaveLength(0);
  });
});

describe('Authenticator: credential errors', () => {
  it('does not fail anonymous requests, but raises the error when a challenge needs credentials', async () => {
    const boom = new ChartMirrorError('AUTH', 'authentication failed for reg.example.com:5000: credential helper docker-credential-x is not installed');
    const auth = make(fakeTokenService(), {
      credential: async () => {
        throw boom;
      },
    });
    expect(await auth.authorization(PUSH)).toBeUndefined();
    await expect(auth.onUnauthorized(bearerChallenge(), PUSH, undefined)).rejects.toBe(boom);
  });
});
