/**
 * Go `encoding/json` Marshal output, byte for byte (encode.go: appendString with HTML
 * escaping, floatEncoder, map keys sorted by their bytes; Go 1.23 / 1.25 as in Helm 3.17.3 /
 * 4.1.4). Helm's config blob and the OCI manifest are `json.Marshal` output, and their digests
 * are what a registry (and `helm push`) records; JSON.stringify escapes and orders differently.
 */
import { formatFloat } from './gostrconv.js';

const HEX = '0123456789abcdef';

/**
 * A JSON string exactly as Go's encoder writes it with HTML escaping on (the default):
 * `<`, `>`, `&`, U+2028, U+2029 as `\u003c`…; `\b \f \n \r \t` short; other C0 as `\u00xx`
 * (lower-case hex); DEL as is. A lone surrogate (invalid UTF-8 in Go terms) becomes `\ufffd`.
 */
export function goJsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      switch (c) {
        case 0x22:
          rep = '\\"';
          break;
        case 0x5c:
          rep = '\\\\';
          break;
        case 0x08:
          rep = '\\b';
          break;
        case 0x0c:
          rep = '\\f';
          break;
        case 0x0a:
          rep = '\\n';
          break;
        case 0x0d:
          rep = '\\r';
          break;
        case 0x09:
          rep = '\\t';
          break;
        default:
          rep = '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
      }
    } else if (c === 0x2028 || c === 0x2029) {
      rep = c === 0x2028 ? '\\u2028' : '\\u2029';
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair: copied as is
        continue;
      }
      rep = '\\ufffd';
    }
    if (rep !== undefined) {
      out += s.slice(start, i) + rep;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

/** Compare two strings by their UTF-8 bytes (= code point order), as Go sorts map keys. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+10000 and up) sort after every BMP code point in UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** Keys of a plain object sorted as Go's `json.Marshal` sorts map keys. */
export function goSortedKeys(obj: object): string[] {
  return Object.keys(obj).sort(compareUtf8);
}

/**
 * Go `json.Marshal` of a value made of plain maps (objects), slices (arrays), strings, bools,
 * nil (null), float64 (number) and int64 (bigint). Object keys are sorted by UTF-8 bytes;
 * properties whose value is `undefined` are left out. NaN and ±Inf throw, as in Go.
 */
export function goMarshal(root: unknown): string {
  // Iterative (an explicit stack of pending text and values): import-values may be nested
  // 10,000 deep, deeper than JS recursion goes.
  const out: string[] = [];
  const work: unknown[] = [root];
  const TEXT = Symbol('text');
  while (work.length) {
    const value = work.pop();
    if (value !== null && typeof value === 'object' && (value as { [TEXT]?: string })[TEXT] !== undefined) {
      out.push((value as { [TEXT]: string })[TEXT]);
      continue;
    }
    const text = (t: string) => ({ [TEXT]: t });
    if (value === null || value === undefined) {
      out.push('null');
      continue;
    }
    switch (typeof value) {
      case 'string':
        out.push(goJsonString(value));
        continue;
      case 'boolean':
        out.push(value ? 'true' : 'false');
        continue;
      case 'number':
        out.push(goJsonFloat64(value));
        continue;
      case 'bigint':
        out.push(value.toString());
        continue;
      case 'object':
        break;
      default:
        throw new TypeError(`json: unsupported type: ${typeof value}`);
    }
    const pending: unknown[] = [];
    if (Array.isArray(value)) {
      pending.push(text('['));
      value.forEach((v, i) => {
        if (i > 0) pending.push(text(','));
        pending.push(v);
      });
      pending.push(text(']'));
    } else {
      const obj = value as Record<string, unknown>;
      pending.push(text('{'));
      let first = true;
      for (const k of goSortedKeys(obj)) {
        const v = obj[k];
        if (v === undefined) continue;
        pending.push(text((first ? '' : ',') + goJsonString(k) + ':'), v);
        first = false;
      }
      pending.push(text('}'));
    }
    for (let i = pending.length - 1; i >= 0; i--) work.push(pending[i]);
  }
  return out.join('');
}

/**
 * A float64 as Go's JSON encoder writes it: shortest round-trip digits, `%f` style unless the
 * magnitude is < 1e-6 or >= 1e21, exponent without zero padding (`1e-7`, `1e+21`). That is
 * ECMAScript's Number-to-String, except that Go keeps the sign of negative zero.
 */
export function goJsonFloat64(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`json: unsupported value: ${formatFloat(v, 64)}`);
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return String(v);
}
