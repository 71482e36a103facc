/**
 * Go `strconv` (Go 1.23 builds Helm 3.17.3, Go 1.25 Helm 4.1.4), the parts Helm's YAML and
 * JSON handling goes through:
 * - `FormatFloat(v, 'g', -1, bits)` (ftoa.go, ftoaryu.go): sigs.k8s.io/yaml writes YAML floats
 *   into string fields and map keys with it at float32 precision.
 * - `ParseInt`/`ParseUint` with base 0 and `ParseFloat` (atoi.go, atof.go): goyaml v2's
 *   resolve() decides int or float with them.
 * - `Quote` (quote.go), as `%q` puts strings in Helm's error messages.
 *
 * JS has none of these: Number-to-String is float64 only and differs in the exponent form,
 * and BigInt/Number parsing accept other syntaxes.
 */
import { goIsPrint } from './gounicode.js';

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------
// ParseInt, ParseUint, ParseFloat

/** Go strconv.ParseInt/ParseUint digits in a base (no prefix, no sign); undefined on syntax error. */
export function parseDigits(s: string, base: number): bigint | undefined {
  if (s === '') return undefined;
  const valid = base === 16 ? /^[0-9a-fA-F]+$/ : base === 8 ? /^[0-7]+$/ : base === 2 ? /^[01]+$/ : /^[0-9]+$/;
  if (!valid.test(s)) return undefined;
  const prefix = base === 16 ? '0x' : base === 8 ? '0o' : base === 2 ? '0b' : '';
  return BigInt(prefix + s);
}

/** Go strconv.ParseInt(s, 0, 64) (base prefixes 0x 0o 0b and leading-0 octal, optional sign). */
export function goParseInt0(s: string): bigint | undefined {
  let neg = false;
  let t = s;
  if (t[0] === '+' || t[0] === '-') {
    neg = t[0] === '-';
    t = t.slice(1);
  }
  const v = parseBase0(t);
  if (v === undefined) return undefined;
  const r = neg ? -v : v;
  return r < INT64_MIN || r > INT64_MAX ? undefined : r;
}

/** Go strconv.ParseUint(s, 0, 64): no sign allowed. */
export function goParseUint0(s: string): bigint | undefined {
  const v = parseBase0(s);
  return v === undefined || v > UINT64_MAX ? undefined : v;
}

function parseBase0(t: string): bigint | undefined {
  if (t.length >= 2 && t[0] === '0') {
    const p = t[1].toLowerCase();
    if (p === 'x') return parseDigits(t.slice(2), 16);
    if (p === 'o') return parseDigits(t.slice(2), 8);
    if (p === 'b') return parseDigits(t.slice(2), 2);
    return parseDigits(t.slice(1), 8);
  }
  return parseDigits(t, 10);
}

/**
 * Go strconv.ParseFloat(s, 64) for decimal input; undefined on error (including overflow).
 * Hex floats and the inf/nan spellings are not handled: goyaml's resolve() never passes them.
 */
export function goParseFloat(s: string): number | undefined {
  // Decimal forms with optional '_' between digits (Go float literal syntax).
  if (!/^[-+]?(?:[0-9](?:_?[0-9])*)?(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][-+]?[0-9](?:_?[0-9])*)?$/.test(s)) return undefined;
  const t = s.replace(/_/g, '');
  if (!/[0-9]/.test(t.replace(/[eE].*$/, ''))) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// FormatFloat(v, 'g', -1, bitSize)

interface Decimal {
  digits: string; // no leading or trailing zeros
  dp: number; // value = 0.digits × 10^dp
}

const F64 = new DataView(new ArrayBuffer(8));

/** mantissa and binary exponent with value = mant × 2^exp, as Go's genericFtoa splits them. */
function decompose(v: number, bits: 32 | 64): { mant: bigint; exp: number; mantBits: number; minExp: number } {
  if (bits === 32) {
    F64.setFloat32(0, v);
    const b = F64.getUint32(0);
    const e = (b >>> 23) & 0xff;
    const f = b & 0x7fffff;
    const minExp = 1 - 127 - 23;
    if (e === 0) return { mant: BigInt(f), exp: minExp, mantBits: 23, minExp };
    return { mant: BigInt(f | 0x800000), exp: e - 127 - 23, mantBits: 23, minExp };
  }
  F64.setFloat64(0, v);
  const b = F64.getBigUint64(0);
  const e = Number((b >> 52n) & 0x7ffn);
  const f = b & ((1n << 52n) - 1n);
  const minExp = 1 - 1023 - 52;
  if (e === 0) return { mant: f, exp: minExp, mantBits: 52, minExp };
  return { mant: f | (1n << 52n), exp: e - 1023 - 52, mantBits: 52, minExp };
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

function trimDecimal(d: bigint, k: number): Decimal {
  let s = d.toString();
  let z = 0;
  while (s.length - z > 1 && s[s.length - 1 - z] === '0') z++;
  if (z > 0) s = s.slice(0, s.length - z);
  return { digits: s, dp: s.length + k + z };
}

/**
 * Shortest decimal that reads back as the same float (Go's Ryu `ryuFtoaShortest`): the
 * coarsest scale 10^k whose multiples fall inside the rounding interval (bounds included when
 * the mantissa is even), then the multiple closest to the exact value (ties to even).
 * Exact BigInt arithmetic; |v| must be finite and non-zero.
 */
function shortestDecimal(v: number, bits: 32 | 64): Decimal {
  const { mant, exp, mantBits, minExp } = decompose(Math.abs(v), bits);
  // Exact integers with fewer bits than the mantissa print as that integer.
  if (exp <= 0) {
    const shift = BigInt(-exp);
    if ((mant & ((1n << shift) - 1n)) === 0n) return trimDecimal(mant >> shift, 0);
  }
  let lo: bigint, mid: bigint, hi: bigint, e2: number;
  if (mant !== 1n << BigInt(mantBits) || exp === minExp) {
    lo = 2n * mant - 1n;
    mid = 2n * mant;
    hi = 2n * mant + 1n;
    e2 = exp - 1;
  } else {
    // At a power of two the gap below is half the gap above.
    lo = 4n * mant - 1n;
    mid = 4n * mant;
    hi = 4n * mant + 2n;
    e2 = exp - 2;
  }
  const inclusive = (mant & 1n) === 0n;
  // value = X × 2^e2; work with numerators over a common denominator.
  let den = 1n;
  if (e2 >= 0) {
    const m = 1n << BigInt(e2);
    lo *= m;
    mid *= m;
    hi *= m;
  } else {
    den = 1n << BigInt(-e2);
  }
  const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;
  const bounds = (k: number): [bigint, bigint, bigint, bigint] => {
    // [lo, hi, mid, den] of value / 10^k
    if (k >= 0) return [lo, hi, mid, den * pow10(k)];
    const m = pow10(-k);
    return [lo * m, hi * m, mid * m, den];
  };
  let k = Math.floor(Math.log10(Math.abs(v))) + 2;
  for (;;) {
    const [l, h, c, d] = bounds(k);
    let dmin: bigint, dmax: bigint;
    if (inclusive) {
      dmin = ceilDiv(l, d);
      dmax = h / d;
    } else {
      dmin = l / d + 1n;
      dmax = ceilDiv(h, d) - 1n;
    }
    if (dmin <= dmax) {
      let q = c / d;
      const r = c % d;
      if (2n * r > d || (2n * r === d && (q & 1n) === 1n)) q += 1n;
      if (q > dmax) q = dmax;
      if (q < dmin) q = dmin;
      return trimDecimal(q, k);
    }
    k--;
  }
}

function fmtE(neg: boolean, d: Decimal): string {
  let s = neg ? '-' : '';
  s += d.digits[0];
  if (d.digits.length > 1) s += '.' + d.digits.slice(1);
  let e = d.dp - 1;
  s += 'e';
  if (e < 0) {
    s += '-';
    e = -e;
  } else {
    s += '+';
  }
  return s + (e < 10 ? '0' + e : String(e));
}

function fmtF(neg: boolean, d: Decimal): string {
  let s = neg ? '-' : '';
  const nd = d.digits.length;
  if (d.dp > 0) {
    s += d.digits.slice(0, Math.min(nd, d.dp)) + '0'.repeat(Math.max(0, d.dp - nd));
  } else {
    s += '0';
  }
  const prec = Math.max(nd - d.dp, 0);
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = d.dp + i - 1;
      s += j < 0 || j >= nd ? '0' : d.digits[j];
    }
  }
  return s;
}

/**
 * Go `strconv.FormatFloat(v, 'g', -1, bits)`: shortest digits that round-trip at that
 * precision; `%e` when the decimal exponent is < -4 or >= 6 (Go's rule for shortest `g`),
 * else `%f`. With bits = 32 the value is first rounded to float32, as Go's float32 path does.
 * `NaN`, `+Inf`, `-Inf`, `-0` as Go writes them.
 */
export function formatFloat(v: number, bits: 32 | 64): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const x = bits === 32 ? Math.fround(v) : v;
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  if (x === 0) return neg ? '-0' : '0';
  const d = shortestDecimal(x, bits);
  const exp = d.dp - 1;
  return exp < -4 || exp >= 6 ? fmtE(neg, d) : fmtF(neg, d);
}

/** Shortest float64 digits via the same algorithm (exported for cross-checking in tests). */
export function shortestFloat64Digits(v: number): { digits: string; dp: number } {
  return shortestDecimal(v, 64);
}

// ---------------------------------------------------------------------------------------------
// Quote

/** Go's %q (strconv.Quote), close enough for error messages. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp === 0x0a) out += '\\n';
    else if (cp === 0x09) out += '\\t';
    else if (cp === 0x0d) out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (goIsPrint(cp)) out += ch;
    else if (cp <= 0xffff) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}
