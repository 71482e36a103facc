import { createSign, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runOk } from './exec.js';

/**
 * A small Docker token server (distribution's auth.token protocol) for tests:
 *  - GET  <realm>?service=&scope=&scope=[&offline_token=true&client_id=]  with optional Basic auth
 *    (wrong credentials -> 401; anonymous -> a token with no access; offline_token=true + credentials -> refresh_token)
 *  - POST <realm> form: grant_type=password|refresh_token, client_id (required), service, scope (space-separated),
 *    access_type=offline (password grant) -> refresh_token
 * Tokens are RS256 JWTs with the signing certificate in the x5c header.
 */

export interface IssuedToken {
  /** Scopes the client asked for, one string each ("repository:charts/foo:pull,push"). */
  scope: string[];
  service: string;
  /** The authenticated user; undefined for anonymous tokens. */
  account?: string;
  /** What was granted (the JWT's access claim). */
  access: Array<{ type: string; name: string; actions: string[] }>;
  /** How the token was asked for. */
  via: 'get' | 'password' | 'refresh_token';
  /** Whether a refresh token was handed out with it. */
  refreshToken: boolean;
  issuedAt: Date;
}

export interface TokenIssuer {
  realm: string;
  service: string;
  issuer: string;
  /** The signing certificate: put it in the registry's auth.token.rootcertbundle. */
  certFile: string;
  issued(): IssuedToken[];
  stop(): Promise<void>;
}

/**
 * distribution v2.8 accepts a token until exp + 60 s (token.Leeway). The JWT exp is set 60 s early so that
 * the registry stops accepting a token exactly `expiresIn` seconds after it was issued, as advertised in expires_in.
 */
const REGISTRY_LEEWAY_S = 60;
const ALLOWED_REPOSITORY_ACTIONS = ['pull', 'push', 'delete'];

export async function startTokenIssuer(opts: {
  dir: string;
  users: Record<string, string>;
  service: string;
  issuer?: string;
  expiresIn?: number;
  tls?: { certFile: string; keyFile: string };
  address?: string;
  /** Name used in the realm URL (default: the address). */
  hostName?: string;
}): Promise<TokenIssuer> {
  const address = opts.address ?? '127.0.0.1';
  const issuer = opts.issuer ?? 'chartmirror-test-token-issuer';
  const expiresIn = opts.expiresIn ?? 300;
  const keyFile = join(opts.dir, 'token-signer.key');
  const certFile = join(opts.dir, 'token-signer.crt');
  await runOk('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30',
    '-subj', '/CN=chartmirror test token signer', '-keyout', keyFile, '-out', certFile,
  ]);
  const [keyPem, certPem] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
  const x5c = [new X509Certificate(certPem).raw.toString('base64')];
  const issued: IssuedToken[] = [];
  const refreshTokens = new Map<string, string>(); // refresh token -> account

  function sign(account: string | undefined, service: string, access: IssuedToken['access']): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c };
    const claims = {
      iss: issuer,
      sub: account ?? '',
      aud: service,
      exp: now + expiresIn - REGISTRY_LEEWAY_S,
      nbf: now,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(keyPem);
    return `${input}.${b64url(signature)}`;
  }

  function grant(account: string | undefined, scopes: string[]): IssuedToken['access'] {
    if (account === undefined) return [];
    const access: IssuedToken['access'] = [];
    for (const scope of scopes) {
      const parsed = parseScope(scope);
      if (!parsed) continue;
      let actions: string[] = [];
      if (parsed.type === 'repository') {
        const wanted = parsed.actions.includes('*') ? ALLOWED_REPOSITORY_ACTIONS : parsed.actions;
        actions = ALLOWED_REPOSITORY_ACTIONS.filter((a) => wanted.includes(a));
      } else if (parsed.type === 'registry' && parsed.name === 'catalog') {
        actions = parsed.actions.filter((a) => a === '*');
      }
      // The server grants the intersection, never an error (distribution docs: auth/token.md).
      access.push({ type: parsed.type, name: parsed.name, actions });
    }
    return access;
  }

  function issue(
    res: ServerResponse,
    account: string | undefined,
    service: string,
    scopes: string[],
    via: IssuedToken['via'],
    offline: boolean,
    oauth: boolean,
  ): void {
    const access = grant(account, scopes);
    const token = sign(account, service, access);
    const body: Record<string, unknown> = oauth
      ? { access_token: token, scope: scopes.join(' ') }
      : { token, access_token: token };
    body.expires_in = expiresIn;
    body.issued_at = new Date().toISOString();
    const withRefresh = offline && account !== undefined;
    if (withRefresh) {
      const refresh = randomBytes(24).toString('hex');
      refreshTokens.set(refresh, account);
      body.refresh_token = refresh;
    }
    issued.push({ scope: scopes, service, account, access, via, refreshToken: withRefresh, issuedAt: new Date() });
    sendJson(res, 200, body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    if (url.pathname !== '/token') return sendJson(res, 404, { error: 'not_found' });
    if (req.method === 'GET') {
      const service = url.searchParams.get('service') ?? opts.service;
      const scopes = url.searchParams.getAll('scope').flatMap(splitScopes);
      const auth = req.headers.authorization;
      let account: string | undefined;
      if (auth) {
        const creds = parseBasic(auth);
        if (!creds || opts.users[creds.username] !== creds.password) {
          res.setHeader('WWW-Authenticate', 'Basic realm="chartmirror-test-token-issuer"');
          return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
        }
        account = creds.username;
      }
      return issue(res, account, service, scopes, 'get', url.searchParams.get('offline_token') === 'true', false);
    }
    if (req.method === 'POST') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const raw = await readBody(req);
      if (type !== 'application/x-www-form-urlencoded') {
        return sendJson(res, 400, { error: 'invalid_request', error_description: 'expected a form body' });
      }
      const form = new URLSearchParams(raw);
      const service = form.get('service') ?? opts.service;
      const scopes = (form.getAll('scope') ?? []).flatMap(splitScopes);
      if (!form.get('client_id')) {
        return sendJson(res, 400, { error: 'invalid_request', error_description: 'client_id is required' });
      }
      const grantType = form.get('grant_type');
      if (grantType === 'password') {
        const username = form.get('username') ?? '';
        if (opts.users[username] === undefined || opts.users[username] !== form.get('password')) {
          return sendJson(res, 401, { error: 'invalid_grant', error_description: 'invalid username or password' });
        }
        return issue(res, username, service, scopes, 'password', form.get('access_type') === 'offline', true);
      }
      if (grantType === 'refresh_token') {
        const account = refreshTokens.get(form.get('refresh_token') ?? '');
        if (account === undefined) {
          return sendJson(res, 401, { error: 'invalid_grant', error_description: 'unknown refresh token' });
        }
        return issue(res, account, service, scopes, 'refresh_token', false, true);
      }
      return sendJson(res, 400, { error: 'unsupported_grant_type' });
    }
    res.setHeader('Allow', 'GET, POST');
    return sendJson(res, 405, { error: 'method_not_allowed' });
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e: unknown) => sendJson(res, 500, { error: String(e) }));
  };
  let server: Server;
  if (opts.tls) {
    const [cert, key] = await Promise.all([readFile(opts.tls.certFile), readFile(opts.tls.keyFile)]);
    server = createHttpsServer({ cert, key }, listener);
  } else {
    server = createHttpServer(listener);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const realm = `${opts.tls ? 'https' : 'http'}://${opts.hostName ?? address}:${port}/token`;
  return {
    realm,
    service: opts.service,
    issuer,
    certFile,
    issued: () => issued.slice(),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** Some clients send one scope parameter holding several space-separated scopes. */
function splitScopes(value: string): string[] {
  return value.split(' ').filter(Boolean);
}

/** type:name:actions, where the name may itself hold a colon (host:port/repo). */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter(Boolean),
  };
}

function parseBasic(header: string): { username: string; password: string } | undefined {
  const m = /^basic\s+(\S+)$/i.exec(header.trim());
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
