import { describe, expect, it } from 'vitest';
import { formatFloat, shortestFloat64Digits } from '../../src/helmcompat/gostrconv.js';

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
