/**
 * A process-wide registry of secret strings, so that every log line, report and error message
 * can be scrubbed with one call (renovate's addSecretForSanitizing does the same).
 *
 * The auth code registers every password, token, identity token and Authorization value the
 * moment it learns one: from the config, a config.json, a credential helper or a token service.
 * Anything that prints text that might echo them (the HTTP layer's error formatting, loggers,
 * report writers) passes it through `redactSecrets()`.
 */

const REDACTED = '***';

/**
 * Secrets shorter than this are remembered but not scrubbed by value: replacing every "ab" in
 * a message would destroy it. The patterns below still hide them after `Basic`/`Bearer`, in
 * `Authorization:` lines and in URL user-info.
 */
const MIN_SCRUB_LENGTH = 4;

const secrets = new Set<string>();
let sorted: string[] | undefined;

/**
 * Remember `value` as a secret. By default its URL-encoded and base64 forms too (a password can
 * end up in a form body or a Basic header); `{ encoded: false }` for issued tokens, which are
 * many, only ever travel as they are, and would otherwise triple the list.
 */
export function registerSecret(value: string | undefined, opts: { encoded?: boolean } = {}): void {
  if (value === undefined || value === '') return;
  const forms = opts.encoded === false ? [value] : [value, encodeURIComponent(value), Buffer.from(value, 'utf8').toString('base64')];
  for (const v of forms) {
    if (!secrets.has(v)) {
      secrets.add(v);
      sorted = undefined;
    }
  }
}

/** Every secret registered so far, longest first (the order to replace them in). */
export function knownSecrets(): string[] {
  sorted ??= [...secrets].sort((a, b) => b.length - a.length);
  return [...sorted];
}

// `Basic dXNlcjpwYXNz`, `Bearer eyJ...`: case-sensitive, 16+ characters with a digit, so that
// prose such as "Bearer authentication" survives.
const CREDENTIAL_AFTER_SCHEME = /\b(Basic|Bearer) (?=[A-Za-z0-9\-._~+/]*[0-9])[A-Za-z0-9\-._~+/]{16,}=*/g;
// `"access_token":"..."`, `?password=...`, `refresh_token=...` in bodies, forms and URLs.
const SECRET_FIELD =
  /((?:^|[?&"'\s{,])(?:access_token|refresh_token|identitytoken|registrytoken|password|secret|token)["']?\s*[:=]\s*["']?)[^\s"'&,}]+/gi;

/**
 * `text` with every known secret replaced by `***`, plus anything that looks like credentials
 * whether registered or not: `Authorization: ...` values, `Basic x` / `Bearer x`, URL user-info,
 * and token-ish query or JSON fields.
 */
export function redactSecrets(text: string): string {
  let out = text;
  sorted ??= [...secrets].sort((a, b) => b.length - a.length);
  for (const s of sorted) {
    if (s.length < MIN_SCRUB_LENGTH) continue;
    if (out.includes(s)) out = out.split(s).join(REDACTED);
  }
  return out
    .replace(/(authorization["']?\s*[:=]\s*["']?)[^\r\n"',}]+/gi, `$1${REDACTED}`)
    .replace(CREDENTIAL_AFTER_SCHEME, `$1 ${REDACTED}`)
    // The scheme is bounded: with `*`, text like "a.a.a.a…" (a word boundary at every letter)
    // costs time quadratic in its length.
    .replace(/(\b[a-z][a-z0-9+.-]{0,31}:\/\/)[^/\s:@]*:[^/\s@]*@/gi, `$1${REDACTED}@`)
    .replace(SECRET_FIELD, `$1${REDACTED}`);
}

/** Short name used across the tool for {@link redactSecrets}. */
export const redact = redactSecrets;

/** For tests. */
export function clearSecrets(): void {
  secrets.clear();
  sorted = undefined;
}
