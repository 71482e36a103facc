import { describe, expect, it } from 'vitest';
import { compareUtf8, formatFloat, goJsonFloat64, goJsonString, goMarshal, shortestFloat64Digits } from '../../src/util/gojson.js';

describe('goJsonString (Go encoding/json with HTML escaping)', () => {
  it('escapes < > & and U+2028/U+2029 as \\u escapes', () => {
    expect(goJsonString('<a href="x">&</a>')).toBe('"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"');
    expect(goJsonString('a\u2028b\u2029c')).toBe('"a\\u2028b\\u2029c"');
  });

  it('uses short escapes for \\b \\f \\n \\r \\t and lower-case \\u00xx for other C0, leaves DEL alone', () => {
    expect(goJsonString('\b\f\n\r\t')).toBe('"\\b\\f\\n\\r\\t"');
    expect(goJsonString('\u0000\u0001\u001b\u001f')).toBe('"\\u0000\\u0001\\u001b\\u001f"');
    expect(goJsonString('x\u007fy')).toBe('"x\u007fy"');
  });

  it('keeps non-ASCII (NEL, NBSP, emoji) as UTF-8, and turns lone surrogates into \\ufffd', () => {
    expect(goJsonString('\u0085\u00a0é😀')).toBe('"\u0085\u00a0é😀"');
    expect(goJsonString('a\ud800b\udc00')).toBe('"a\\ufffdb\\ufffd"');
  });

  it('escapes quote and backslash', () => {
    expect(goJsonString('"\\')).toBe('"\\"\\\\"');
  });
});

describe('map key order', () => {
  it('sorts by UTF-8 bytes: é < ！ < 😀 (JS default sort puts 😀 before ！)', () => {
    const keys = ['😀', '！', 'é', 'z', 'A'];
    expect([...keys].sort(compareUtf8)).toEqual(['A', 'z', 'é', '！', '😀']);
    expect([...keys].sort()).not.toEqual([...keys].sort(compareUtf8));
    expect(goMarshal({ '😀': 1n, '！': 2n, é: 3n })).toBe('{"é":3,"！":2,"😀":1}');
  });
});

describe('goMarshal', () => {
  it('marshals nested plain values like json.Marshal', () => {
    expect(goMarshal({ b: [true, null, 'x<'], a: { d: 1.5, c: 12345678901234567890n } })).toBe('{"a":{"c":12345678901234567890,"d":1.5},"b":[true,null,"x\\u003c"]}');
  });

  it('writes float64 like Go: %f style inside [1e-6, 1e21), exponent outside, -0 kept', () => {
    expect(goJsonFloat64(1e21)).toBe('1e+21');
    expect(goJsonFloat64(1e20)).toBe('100000000000000000000');
    expect(goJsonFloat64(0.000001)).toBe('0.000001');
    expect(goJsonFloat64(1e-7)).toBe('1e-7');
    expect(goJsonFloat64(-0)).toBe('-0');
    expect(goJsonFloat64(12345678901234567890)).toBe('12345678901234567000');
    expect(() => goJsonFloat64(Infinity)).toThrow(/unsupported value: \+Inf/);
    expect(() => goMarshal({ a: NaN })).toThrow(/NaN/);
  });
});

describe('formatFloat (strconv.FormatFloat(v, g, -1, bits))', () => {
  it.each([
    [1.1, '1.1'],
    [1.0, '1'],
    [20240101.1, '2.0240102e+07'],
    [1000000.5, '1.0000005e+06'],
    [3.14159265358979, '3.1415927'],
    [1e6, '1e+06'],
    [123456, '123456'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [1.8446744073709552e19, '1.8446744e+19'],
    [16777216, '1.6777216e+07'],
    [3.4028234663852886e38, '3.4028235e+38'],
    [1.4e-45, '1e-45'],
    [-0, '-0'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
    [1e39, '+Inf'],
  ])('float32 %s → %s', (v, want) => {
    expect(formatFloat(v, 32)).toBe(want);
  });

  it('float64 uses the same rules at float64 precision', () => {
    expect(formatFloat(20240101.1, 64)).toBe('2.02401011e+07');
    expect(formatFloat(0.1, 64)).toBe('0.1');
    expect(formatFloat(1e21, 64)).toBe('1e+21');
  });

  it('the exact shortest-digit algorithm agrees with ECMAScript on random doubles', () => {
    const view = new DataView(new ArrayBuffer(8));
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0), seed);
    for (let i = 0; i < 20000; i++) {
      view.setUint32(0, rnd());
      view.setUint32(4, rnd());
      const v = Math.abs(view.getFloat64(0));
      if (!Number.isFinite(v) || v === 0) continue;
      const [m, e] = v.toExponential().split('e');
      const d = shortestFloat64Digits(v);
      expect({ digits: d.digits, dp: d.dp }).toEqual({ digits: m.replace('.', '').replace(/0+$/, '') || '0', dp: Number(e) + 1 });
    }
  });
});
