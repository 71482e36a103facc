/**
 * Go `encoding/json` output, byte for byte: Helm's config blob and the OCI manifest are Go
 * `json.Marshal` output, and their digests are what a registry (and `helm push`) records.
 * Also Go's `strconv.FormatFloat` shortest formatting, which sigs.k8s.io/yaml uses to turn YAML
 * floats into strings (float32 precision) and which `json.Marshal` uses for float64.
 */

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
export function goMarshal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return goJsonString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return goJsonFloat64(value);
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      throw new TypeError(`json: unsupported type: ${typeof value}`);
  }
  if (Array.isArray(value)) return '[' + value.map((v) => goMarshal(v)).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of goSortedKeys(obj)) {
    const v = obj[k];
    if (v === undefined) continue;
    parts.push(goJsonString(k) + ':' + goMarshal(v));
  }
  return '{' + parts.join(',') + '}';
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

// ---------------------------------------------------------------------------------------------
// strconv.FormatFloat(v, 'g', -1, bitSize)

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
