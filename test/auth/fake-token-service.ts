import type { AuthHttpResponse, AuthRequest } from '../../src/registry/auth/authenticator.js';

export interface RecordedCall {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  form?: URLSearchParams;
}

export interface FakeTokenService {
  request: AuthRequest;
  calls: RecordedCall[];
  /** Tokens handed out so far, in order. */
  issued: string[];
}

/**
 * An in-process token service (distribution token.md / oauth.md) for unit tests.
 * GET: Basic credentials checked against `users` (wrong -> 401), anonymous allowed.
 * POST: grant_type=refresh_token with a token from `refreshTokens`; `oauth: false` answers 404/405.
 */
export function fakeTokenService(
  opts: {
    users?: Record<string, string>;
    refreshTokens?: string[];
    oauth?: boolean | 404 | 405;
    /** Extra fields for every token response (expires_in, issued_at, ...). */
    extra?: Record<string, unknown>;
    headers?: Record<string, string>;
    /** Token field name: 'token', 'access_token' or both (default both for GET, access_token for POST). */
    field?: 'token' | 'access_token';
    delayMs?: number;
    status?: number;
    errorBody?: string;
  } = {},
): FakeTokenService {
  const calls: RecordedCall[] = [];
  const issued: string[] = [];
  const respond = (status: number, body: unknown, headers: Record<string, string> = {}): AuthHttpResponse => ({
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const tokenResponse = (post: boolean): AuthHttpResponse => {
    const token = `issued-token-${issued.length + 1}-abcdef`;
    issued.push(token);
    const field = opts.field ?? (post ? 'access_token' : undefined);
    const body = field ? { [field]: token } : { token, access_token: token };
    return respond(200, { ...body, ...opts.extra }, opts.headers);
  };
  const request: AuthRequest = async (req) => {
    const call: RecordedCall = { method: req.method, url: new URL(req.url), headers: req.headers };
    if (req.body !== undefined) call.form = new URLSearchParams(req.body);
    calls.push(call);
    await new Promise((r) => setTimeout(r, opts.delayMs ?? 2));
    if (opts.status !== undefined) return respond(opts.status, opts.errorBody ?? { errors: [{ code: 'UNAVAILABLE', message: 'try later' }] }, { 'retry-after': '7' });
    if (req.method === 'POST') {
      if (opts.oauth === false || opts.oauth === 404) return respond(404, '404 page not found');
      if (opts.oauth === 405) return respond(405, '');
      const form = call.form!;
      if (form.get('client_id') === null || form.get('grant_type') !== 'refresh_token') return respond(400, { error: 'invalid_request' });
      if (!(opts.refreshTokens ?? []).includes(form.get('refresh_token') ?? '')) {
        return respond(401, { error: 'invalid_grant', error_description: `bad refresh token ${form.get('refresh_token')}` });
      }
      return tokenResponse(true);
    }
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const [user, ...rest] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
      const pass = rest.join(':');
      if (!auth.startsWith('Basic ') || opts.users?.[user!] !== pass) {
        return respond(401, { details: `incorrect username or password (got ${pass})` });
      }
    }
    return tokenResponse(false);
  };
  return { request, calls, issued };
}
