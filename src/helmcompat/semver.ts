/**
 * github.com/Masterminds/semver/v3 `NewVersion` and `StrictNewVersion` (version.go), v3.3.0 in
 * Helm 3.17.3 and v3.4.0 in Helm 4.1.4: v3.4.0's default `CoerceNewVersion = true` keeps
 * v3.3.0's NewVersion behaviour, and its extra empty-identifier checks cannot trigger behind
 * the regexp. Helm validates chart versions with NewVersion; node-semver's rules differ
 * (`v1`, `1.2`, leading zeros).
 */

// looseSemVerRegex: optional lower-case v, 1 to 3 numeric parts, then -pre and +meta.
const LOOSE = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;
const NUM = /^[0-9]+$/;
const ALLOWED = /^[0-9A-Za-z-]+$/;
const UINT64_MAX = (1n << 64n) - 1n;

function fitsUint64(digits: string): boolean {
  return BigInt(digits) <= UINT64_MAX;
}

function validPrerelease(p: string): boolean {
  for (const part of p.split('.')) {
    if (part === '') return false;
    if (NUM.test(part)) {
      if (part.length > 1 && part[0] === '0') return false;
    } else if (!ALLOWED.test(part)) {
      return false;
    }
  }
  return true;
}

function validMetadata(m: string): boolean {
  return m.split('.').every((part) => part !== '' && ALLOWED.test(part));
}

/**
 * `semver.NewVersion(v) == nil error`: `v1.2.3`, `1`, `1.2`, leading zeros in the numeric
 * parts are accepted; numeric prerelease identifiers must not have leading zeros; each
 * numeric part must fit in uint64.
 */
export function isLenientSemver(v: string): boolean {
  const m = LOOSE.exec(v);
  if (!m) return false;
  if (!fitsUint64(m[1])) return false;
  if (m[2] && !fitsUint64(m[2].slice(1))) return false;
  if (m[3] && !fitsUint64(m[3].slice(1))) return false;
  if (m[5] && !validPrerelease(m[5])) return false;
  if (m[8] && !validMetadata(m[8])) return false;
  return true;
}

/** `semver.StrictNewVersion(v) == nil error`: exactly MAJOR.MINOR.PATCH[-pre][+meta], no `v`. */
export function isStrictSemver(v: string): boolean {
  if (v.length === 0) return false;
  const parts = splitN(v, '.', 3);
  if (parts.length !== 3) return false;
  let last = parts[2];
  if (last.includes('+')) {
    const [head, meta] = splitN(last, '+', 2);
    if (!validMetadataStrict(meta)) return false;
    last = head;
  }
  if (last.includes('-')) {
    const [head, pre] = splitN(last, '-', 2);
    if (!validPrerelease(pre)) return false;
    last = head;
  }
  for (const p of [parts[0], parts[1], last]) {
    if (!NUM.test(p)) return false; // also rejects ""; Go's containsOnly("") is true, ParseUint("") fails
    if (p.length > 1 && p[0] === '0') return false;
    if (!fitsUint64(p)) return false;
  }
  return true;
}

// v3.3.0's validateMetadata lets an empty identifier through ("1.2.3+a..b" passes there);
// v3.4.0 rejects it. Be strict: Helm 4 is the stricter reader.
function validMetadataStrict(m: string): boolean {
  return validMetadata(m);
}

/** Go strings.SplitN. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}
