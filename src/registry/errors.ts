import { ChartMirrorError, type ErrorCode } from '../errors.js';
import { statusError, type HttpResponse } from '../http/client.js';
import { displayUrl } from '../http/redact-url.js';

export interface OciErrorEntry {
  code?: string;
  message?: string;
}

/** `{"errors":[{code,message,detail}]}`, HTML or empty bodies, as one short phrase. */
export function describeErrorBody(body: string): { codes: string[]; text: string } {
  const trimmed = body.trim();
  if (!trimmed) return { codes: [], text: '' };
  try {
    const parsed = JSON.parse(trimmed) as { errors?: OciErrorEntry[]; message?: string };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      const codes = parsed.errors.map((e) => String(e.code ?? '')).filter(Boolean);
      const text = parsed.errors
        .map((e) => [e.code, e.message].filter(Boolean).join(': '))
        .filter(Boolean)
        .join('; ');
      return { codes, text };
    }
    if (typeof parsed.message === 'string') return { codes: [], text: parsed.message };
  } catch {
    // not JSON
  }
  if (/^<(!doctype|html)/i.test(trimmed)) {
    const title = /<title>([^<]*)<\/title>/i.exec(trimmed)?.[1]?.trim();
    return { codes: [], text: title ? `HTML page "${title}"` : 'an HTML page' };
  }
  return { codes: [], text: trimmed.replace(/\s+/g, ' ').slice(0, 200) };
}

/** Worth another attempt of the whole operation: a lost upload session, an eventually consistent backend. */
const RETRY_CODES = new Set(['BLOB_UPLOAD_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN', 'TOOMANYREQUESTS']);

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  409: 'conflict',
  412: 'precondition failed',
  413: 'too large',
  415: 'unsupported media type',
  416: 'range not satisfiable',
  429: 'too many requests',
  500: 'internal server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};

/** Read (at most 8 KiB of) an error response and build one line with a code. */
export async function registryError(
  res: HttpResponse,
  operation: string,
  opts: { hint?: (codes: string[], status: number) => string | undefined } = {},
): Promise<ChartMirrorError> {
  const body = res.status === 405 || res.headers['content-length'] === '0' ? '' : await res.peekText(8192);
  const { codes, text } = describeErrorBody(body);
  const statusText = `${res.status}${STATUS_TEXT[res.status] ? ` ${STATUS_TEXT[res.status]}` : ''}`;
  const hint = opts.hint?.(codes, res.status);
  const code: ErrorCode =
    res.status === 401 || res.status === 403 || codes.includes('DENIED') || codes.includes('UNAUTHORIZED')
      ? 'AUTH'
      : 'REGISTRY';
  const msg = `${operation} ${displayUrl(res.url)}: ${statusText}${text ? ` (${text})` : ''}${hint ? `; ${hint}` : ''}`;
  const err = statusError(code, res, msg);
  if (!err.retryable && codes.some((c) => RETRY_CODES.has(c))) {
    return new ChartMirrorError(code, err.message, { status: res.status, retryable: true, retryAfterMs: err.retryAfterMs, host: err.host });
  }
  return err;
}

/** Why a first upload may be refused, by registry family (REGISTRY-NOTES §5, §6). */
export function firstUploadHint(codes: string[], status: number): string | undefined {
  if (codes.includes('NAME_UNKNOWN') || codes.includes('DENIED') || [401, 403, 404].includes(status)) {
    return 'the repository or project may have to exist first (ECR, Harbor, GAR, Artifactory) or the path may be too deep (Docker Hub, GitLab, Quay)';
  }
  return undefined;
}

export function isNotFound(res: HttpResponse): boolean {
  return res.status === 404;
}
