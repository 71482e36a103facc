import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChartMirrorError } from '../../src/errors.js';
import { Authenticator, repositoryScope, type AuthRequest } from '../../src/registry/auth/authenticator.js';

/**
 * A loopback registry with a token service on the same host: /token issues tokens for Basic
 * alice:wonderland (anonymous gets one with no rights); /v2/charts/nginx/tags/list needs a token
 * with pull. `revoke()` invalidates every token issued so far.
 */
let server: Server;
let origin: string;
const valid = new Set<string>();
let issued = 0;
const tokenRequests: string[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', origin);
  if (url.pathname === '/token') {
    tokenRequests.push(url.search);
    const auth = req.headers.authorization;
    const expected = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
    if (auth !== undefined && auth !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    const token = `loop-token-${++issued}-${auth ? 'user' : 'anon'}`;
    if (auth) valid.add(token);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
    return;
  }
  const bearer = req.headers.authorization?.replace(/^Bearer /, '');
  if (bearer && valid.has(bearer)) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"charts/nginx","tags":["1.0.0"]}');
    return;
  }
  res
    .writeHead(401, {
      'www-authenticate': `Bearer realm="${origin}/token",service="loopback",scope="repository:charts/nginx:pull"`,
      'content-type': 'application/json',
    })
    .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
}

const send: AuthRequest = async (req) => {
  const r = await request(req.url, { method: req.method, headers: req.headers, body: req.body });
  return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
};

/**
 * The loop the registry client should run: every 401 goes to onUnauthorized, which either gives
 * something new to try or throws the AUTH error; the cap is only a safety net.
 */
async function get(auth: Authenticator, path: string, scopes: string[]): Promise<number> {
  let authorization = await auth.authorization(scopes);
  for (let attempt = 0; ; attempt++) {
    const r = await request(`${origin}${path}`, { headers: authorization ? { authorization } : {} });
    await r.body.dump();
    if (r.statusCode !== 401 || attempt >= 3) return r.statusCode;
    authorization = await auth.onUnauthorized(r.headers['www-authenticate'], scopes, authorization, `${origin}${path}`);
  }
}

beforeAll(async () => {
  server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('Authenticator against a loopback token service (undici)', () => {
  const scopes = [repositoryScope('charts/nginx', ['pull'])];

  it('gets a token after one 401 and reuses it', async () => {
    const auth = new Authenticator({
      registry: origin,
      credential: async () => ({ kind: 'basic', username: 'alice', password: 'wonderland', from: 'config' }),
      request: send,
    });
    expect(await get(auth, '/v2/charts/nginx/tags/list', scopes)).toBe(200);
    expect(await get(auth, '/v2/charts/nginx/tags/list', scopes)).toBe(200);
    expect(auth.stats().tokenFetches).toBe(1);
    expect(new URLSearchParams(tokenRequests.at(-1)).getAll('scope')).toEqual(['repository:charts/nginx:pull']);
  });

  it('refreshes a revoked token once and carries on', async () => {
    const auth = new Authenticator({
      registry: origin,
      credential: async () => ({ kind: 'basic', username: 'alice', password: 'wonderland', from: 'config' }),
      request: send,
    });
    expect(await get(auth, '/v2/charts/nginx/tags/list', scopes)).toBe(200);
    valid.clear();
    expect(await get(auth, '/v2/charts/nginx/tags/list', scopes)).toBe(200);
    expect(auth.stats().tokenFetches).toBe(2);
  });

  it('ends with an AUTH error when anonymous tokens are not enough', async () => {
    const auth = new Authenticator({ registry: origin, credential: async () => undefined, request: send });
    const err = await get(auth, '/v2/charts/nginx/tags/list', scopes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChartMirrorError);
    expect((err as ChartMirrorError).code).toBe('AUTH');
    expect((err as ChartMirrorError).message).toContain('requested anonymously: no credentials found');
    expect(auth.stats().tokenFetches).toBe(2);
  });

  it('reports wrong credentials from the token service', async () => {
    const auth = new Authenticator({
      registry: origin,
      credential: async () => ({ kind: 'basic', username: 'alice', password: 'wrong-pass', from: 'config' }),
      request: send,
    });
    const err = (await get(auth, '/v2/charts/nginx/tags/list', scopes).catch((e: unknown) => e)) as ChartMirrorError;
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain('answered 401: incorrect username or password');
  });
});
