import { describe, expect, it } from 'vitest';
import { compareUtf8, goJsonFloat64, goJsonString, goMarshal } from '../../src/helmcompat/gojson.js';

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
