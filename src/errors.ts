/**
 * Structured errors. Code checks `code`, never message text (oras errcode, undici Errors.md).
 * Messages are single human lines that never contain secrets; callers redact URLs before
 * building them (see http/redact.ts).
 */
export type ErrorCode =
  | 'CONFIG' // the config file or command line is wrong (exit 2)
  | 'USAGE' // command line misuse (exit 2)
  | 'INDEX' // a source's index.yaml could not be fetched or parsed
  | 'DOWNLOAD' // an archive or .prov could not be downloaded
  | 'DIGEST' // bytes do not match an expected digest
  | 'CHART' // the archive is not a chart Helm would accept
  | 'PROVENANCE' // a .prov check failed
  | 'REGISTRY' // the registry answered with an error
  | 'AUTH' // authentication or authorization failed
  | 'TLS' // a TLS handshake or certificate problem
  | 'NETWORK' // connection reset, refused, timeout, truncated body
  | 'CONFLICT' // a tag already holds different content
  | 'LAYOUT' // an OCI layout or bundle is damaged or unwritable
  | 'MANIFEST' // a manifest or index is not one (malformed JSON, bad descriptors)
  | 'NOT_FOUND' // a reference or content the operation needs does not exist
  | 'ABORTED' // the run was interrupted
  | 'LOCKED' // another run holds the state's lock (exit 2)
  | 'INTERNAL';

export class ChartMirrorError extends Error {
  readonly code: ErrorCode;
  /** Whether repeating the same operation may succeed (network faults, 429, 5xx). */
  readonly retryable: boolean;
  /** HTTP status when the error came from a response. */
  readonly status?: number;
  /** Seconds to wait before retrying, from a Retry-After header. */
  readonly retryAfterMs?: number;
  /** The host (`host[:port]`, never credentials) that answered or failed, when the error came from a request. */
  readonly host?: string;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; retryable?: boolean; status?: number; retryAfterMs?: number; host?: string } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ChartMirrorError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
    this.host = opts.host;
  }
}

/** A config or command-line problem: one line naming the key path, exit 2, before any work. */
export class ConfigError extends ChartMirrorError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('CONFIG', message, opts);
    this.name = 'ConfigError';
  }
}

/** A run stopped by SIGINT/SIGTERM before it did anything (while reading the indexes, say). */
export class InterruptedError extends ChartMirrorError {
  constructor(readonly signal: string) {
    super('ABORTED', `interrupted by ${signal} before any chart version was tried; nothing was written`);
    this.name = 'InterruptedError';
  }
}

export function isChartMirrorError(e: unknown): e is ChartMirrorError {
  return e instanceof ChartMirrorError;
}

/** One line for a user: the message of a known error, or a short description of an unknown one. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}
