import { ChartMirrorError, type ErrorCode } from '../errors.js';
import { redact } from '../util/secrets.js';
import type { ProxyTarget } from './proxy.js';
import { displayUrl, urlHost } from './redact-url.js';

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'EPROTO',
]);

const TLS_HINTS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate is not trusted; set tls.ca to its CA bundle',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate is not trusted; set tls.ca to its CA bundle',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain ends in an untrusted self-signed CA; set tls.ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate; set tls.ca (or tls.insecureSkipVerify)',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name this host',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS here; is it plain HTTP (plainHttp: true)?',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the server requires a client certificate; set tls.cert and tls.key',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'TLS handshake failed (client certificate required or refused?)',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the server does not trust our client certificate',
};

const RETRYABLE_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'Z_BUF_ERROR',
]);

function errCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const c = (cur as { code?: unknown }).code;
    // undici wraps the origin's TLS failure through a proxy tunnel; the cause says what it was.
    if (typeof c === 'string' && !(c === 'UND_ERR_PRX_TLS' && (cur as { cause?: unknown }).cause)) return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function messages(e: unknown): string {
  const out: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    if (cur instanceof Error) out.push(cur.message);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out.join('\n');
}

/** Failures that can only be the proxy's when a request goes through one: it is the only host we connect to. */
const PROXY_CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A failure of a request that went through `proxy`, when it is the proxy's: its 407 (or the 401
 * some proxies send for a wrong password) to a CONNECT or a request, another refusal of a
 * CONNECT, or the proxy out of reach. One line naming the proxy, never its credentials.
 * Undefined when the failure is not the proxy's (a TLS problem with the server, say).
 */
export function proxyTransportError(e: unknown, proxy: ProxyTarget, method: string, url: string): ChartMirrorError | undefined {
  const text = messages(e);
  const u = new URL(url);
  const hostPort = `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  const proxyHost = urlHost(proxy.url);
  const tunnel = /Proxy response \((\d{3})\) !== 200 when HTTP Tunneling/.exec(text);
  const status = tunnel ? Number(tunnel[1]) : /Proxy Authentication Required \(407\)/.test(text) ? 407 : undefined;
  const request = tunnel ? `CONNECT ${hostPort}` : `${method} ${displayUrl(url)}`;
  if (status === 407 || (tunnel && status === 401)) {
    const fix = proxy.hasCredentials
      ? `check the user and password in ${proxy.from}`
      : `it wants credentials: put user:password@ before the host in ${proxy.from}`;
    return new ChartMirrorError('AUTH', redact(`proxy authentication failed: the proxy ${proxy.display} (${proxy.from}) answered ${status} to ${request}; ${fix}`), {
      cause: e,
      status,
      host: proxyHost,
    });
  }
  if (tunnel && status !== undefined) {
    const hint = status === 403 ? ' (the proxy does not allow this host or port)' : status >= 500 ? ' (the proxy could not reach the server)' : '';
    return new ChartMirrorError('NETWORK', redact(`${method} ${displayUrl(url)}: the proxy ${proxy.display} (${proxy.from}) answered ${status} to CONNECT ${hostPort}${hint}`), {
      cause: e,
      status,
      retryable: isRetryableStatus(status),
      host: proxyHost,
    });
  }
  const code = errCode(e);
  if (code && PROXY_CONNECT_CODES.has(code)) {
    return new ChartMirrorError('NETWORK', redact(`${method} ${displayUrl(url)}: cannot reach the proxy ${proxy.display} (${proxy.from}): ${FRIENDLY[code] ?? code}`), {
      cause: e,
      retryable: RETRYABLE_NETWORK.has(code),
      host: proxyHost,
    });
  }
  return undefined;
}

const FRIENDLY: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for response headers',
  UND_ERR_BODY_TIMEOUT: 'timed out waiting for the response body',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'response body truncated',
  ERR_STREAM_PREMATURE_CLOSE: 'response body truncated',
};

/** A transport failure's error code in words ("connection reset"), when it is a known one. */
export function friendlyTransportError(e: unknown): { text: string; retryable: boolean } {
  const code = errCode(e);
  const text = (code && FRIENDLY[code]) ?? (e instanceof Error ? e.message : String(e));
  return { text: `${text}${code && !FRIENDLY[code] && !text.includes(code) ? ` (${code})` : ''}`, retryable: code ? RETRYABLE_NETWORK.has(code) : true };
}

/** Turn a transport failure (no HTTP response) into one line with a code. */
export function transportError(e: unknown, method: string, url: string): ChartMirrorError {
  if (e instanceof ChartMirrorError) return e;
  const code = errCode(e);
  const where = `${method} ${displayUrl(url)}`;
  const host = urlHost(url);
  if (code && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    const hint = TLS_HINTS[code] ?? (e instanceof Error ? e.message : code);
    return new ChartMirrorError('TLS', redact(`TLS error for ${where}: ${hint} (${code})`), { cause: e, host });
  }
  if ((e as { name?: string })?.name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') {
    return new ChartMirrorError('ABORTED', `${where}: aborted`, { cause: e, host });
  }
  const msg = (code && FRIENDLY[code]) ?? (e instanceof Error ? e.message : String(e));
  const kind: ErrorCode = 'NETWORK';
  return new ChartMirrorError(kind, redact(`${where}: ${msg}${code && !FRIENDLY[code] ? ` (${code})` : ''}`), {
    cause: e,
    retryable: code ? RETRYABLE_NETWORK.has(code) : false,
    host,
  });
}

/** Statuses worth another attempt: timeouts, throttling and server-side trouble. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}
