import { describe, expect, it } from 'vitest';
import { configJson, decodeInto, type ChartMetadata } from '../../src/chart/metadata.js';
import { ChartMirrorError } from '../../src/errors.js';
import type { GoType } from '../../src/helmcompat/gotype.js';
import { parseGoYaml, yamlToJson } from '../../src/helmcompat/sigsyaml.js';

const STRING_FIELD: GoType = { kind: 'struct', pkg: 'main', name: 'T', fields: [{ json: 'v', prop: 'v', type: { kind: 'string' } }] };

/** What a Go string field receives for `v: <scalar>`. */
function asString(scalar: string): unknown {
  const j = yamlToJson(`v: ${scalar}\n`, STRING_FIELD) as Map<string, unknown>;
  return j.get('v');
}

function meta(yamlText: string): ChartMetadata {
  const md: ChartMetadata = {};
  decodeInto(md, yamlText, 'Chart.yaml');
  return md;
}

describe('YAML 1.1 scalars into a Go string field (spec §1.2 table)', () => {
  it.each([
    ['1.10', '1.1'],
    ['1.0', '1'],
    ['20240101.1', '2.0240102e+07'],
    ['1000000.5', '1.0000005e+06'],
    ['3.14159265358979', '3.1415927'],
    ['yes', 'true'],
    ['on', 'true'],
    ['y', 'true'],
    ['true', 'true'],
    ['no', 'false'],
    ['off', 'false'],
    ['n', 'false'],
    ['010', '8'],
    ['0x1F', '31'],
    ['1_000', '1000'],
  ])('%s → %s', (scalar, want) => {
    expect(asString(scalar)).toBe(want);
  });

  it.each([
    ['Y', 'true'],
    ['YES', 'true'],
    ['On', 'true'],
    ['NO', 'false'],
    ['OFF', 'false'],
    ['tRUE', 'tRUE'], // not in goyaml's table: a string
    ['0o17', '15'],
    ['0b101', '5'],
    ['-0b101', '-5'],
    ['+12', '12'],
    ['08', '8'], // not octal: falls through to float 8
    ['0_7', '7'],
    ['12345678901234567890', '12345678901234567890'], // uint64, exact
    ['-9223372036854775808', '-9223372036854775808'],
    ['+18446744073709551615', '1.8446744e+19'], // ParseUint takes no sign: a float
    ['1e999', '1e999'], // overflow: ParseFloat fails, a string
    ['1e-400', '0'],
    ['.5', '0.5'],
    ['-0.0', '-0'],
    ['.inf', '+Inf'],
    ['-.Inf', '-Inf'],
    ['.NaN', 'NaN'],
    ['2024-01-01', '2024-01-01'], // timestamps stay strings (goyaml v2 into interface{})
    ['2001-12-14t21:59:43.10-05:00', '2001-12-14t21:59:43.10-05:00'],
    ['"123"', '123'],
    ["'yes'", 'yes'],
    ['!!str 1.0', '1.0'],
    ['!!float 1', '1'],
    ['!!int "12"', '12'],
    ['!!binary aGVsbG8=', 'hello'],
    ['!custom foo', 'foo'],
    ['0x', '0x'],
  ])('%s → %s', (scalar, want) => {
    expect(asString(scalar)).toBe(want);
  });

  it('null and empty leave the value null (the field keeps its value)', () => {
    expect(asString('~')).toBe(null);
    expect(asString('')).toBe(null);
    expect(asString('Null')).toBe(null);
  });

  it('a tag that does not fit fails like goyaml', () => {
    expect(() => asString('!!int foo')).toThrow(/cannot decode !!str `foo` as a !!int/);
    expect(() => asString('!!bool 1')).toThrow(ChartMirrorError);
  });
});

describe('parseGoYaml', () => {
  it('keeps ints exact as bigint, floats as number, keys stringified the sigs.k8s.io way', () => {
    const v = parseGoYaml('a: 12345678901234567890\nb: 1.5\n1.5: x\n1e6: yy\ntrue: z\n3: w\nn: norway\n') as Record<string, unknown>;
    expect(v).toEqual({ a: 12345678901234567890n, b: 1.5, '1.5': 'x', '1e+06': 'yy', true: 'z', '3': 'w', false: 'norway' });
  });

  it('applies duplicate keys and << merges in document order (goyaml v2: last wins)', () => {
    const v = parseGoYaml('base: &b {x: 1, q: 2}\nm1:\n  <<: *b\n  x: 3\nm2:\n  x: 3\n  <<: *b\nm3:\n  <<: [{x: 1}, {x: 2, z: 3}]\ndup: 1\ndup: 2\n') as Record<string, Record<string, unknown>>;
    expect(v.m1).toEqual({ x: 3n, q: 2n }); // (a key y would be true: YAML 1.1)
    expect(v.m2).toEqual({ x: 1n, q: 2n });
    expect(v.m3).toEqual({ x: 1n, z: 3n });
    expect(v.dup).toBe(2n);
  });

  it('reads only the first document, ignoring a broken second one', () => {
    expect(parseGoYaml('a: 1\n---\nb: [\n')).toEqual({ a: 1n });
    expect(parseGoYaml('---\na: 1\n---\nb: 2\n')).toEqual({ a: 1n });
    expect(parseGoYaml('')).toBe(null);
  });

  it('keeps the aliases of scalars with their resolution', () => {
    expect(parseGoYaml('- &s x\n- *s\n- &n 5\n- *n\n')).toEqual(['x', 'x', 5n, 5n]);
  });

  it.each([
    ['~: b\n', /unsupported map key of type: <nil>/],
    ['? [a]\n: b\n', /invalid map key/],
    ['18446744073709551615: x\n', /unsupported map key of type: uint64/],
    ['a: &a [*a]\n', /contains itself/],
    ['a: "\\ud800"\n', /invalid Unicode character escape/],
    ['a: "\\uD83D\\uDE00"\n', /invalid Unicode character escape/],
    ['a: "\\/"\n', /unknown escape character/],
    ['%YAML 1.2\n---\na: 1\n', /incompatible YAML document/],
    ['a: "x\u007fy"\n', /control characters are not allowed/],
    ['a: [\n', /yaml: line/],
  ])('rejects %j like goyaml / sigs.k8s.io/yaml', (text, re) => {
    expect(() => parseGoYaml(text)).toThrow(re);
  });

  it("accepts libyaml's \\' escape in double quotes", () => {
    expect(parseGoYaml('a: "it\\\'s"\n')).toEqual({ a: "it's" });
  });

  it('treats NEL as a YAML 1.1 line break', () => {
    expect(parseGoYaml('a: x\u0085  y\n')).toEqual({ a: 'x y' });
  });

  it('errors are one-line ChartMirrorError(CHART)', () => {
    try {
      parseGoYaml('a: b: c\n');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ChartMirrorError);
      expect((e as ChartMirrorError).code).toBe('CHART');
      expect((e as Error).message).not.toContain('\n');
    }
  });
});

describe('Chart.yaml through the whole chain', () => {
  it('coerces numbers and bools in string fields, string maps and string slices', () => {
    const md = meta('name: x\nversion: 1.0\nappVersion: 1.10\nkeywords: [1.5, yes, 010]\nannotations: {a: 1e6, b: no, c: 12345678901234567890}\n');
    expect(md.version).toBe('1');
    expect(md.appVersion).toBe('1.1');
    expect(md.keywords).toEqual(['1.5', 'true', '8']);
    expect(md.annotations).toEqual({ a: '1e+06', b: 'false', c: '12345678901234567890' });
  });

  it('keeps import-values numbers as float64', () => {
    const md = meta('dependencies:\n  - name: d\n    repository: r\n    import-values: [{a: 1, b: 1.10, c: 12345678901234567890, d: 2024-01-01}]\n');
    expect(configJson(md)).toContain('"import-values":[{"a":1,"b":1.1,"c":12345678901234567000,"d":"2024-01-01"}]');
  });

  it('reads a raw U+2028 in quotes as libyaml does: a line break kept in content, the indentation after it dropped', () => {
    expect(meta('name: x\ndescription: "a\u2028   b"\n').description).toBe('a\u2028b');
    expect(meta("name: x\ndescription: 'a\u2029\u2029 b'\n").description).toBe('a\u2029\u2029b');
    expect(meta('name: x\ndescription: "a\\u2028b"\n').description).toBe('a\u2028b');
  });
});

describe('libyaml corners, as goyaml v2 reads them (each also checked against real helm push in helm-identity)', () => {
  const desc = (yamlText: string | Buffer) => {
    const md: ChartMetadata = {};
    decodeInto(md, yamlText, 'Chart.yaml');
    return md.description;
  };

  it.each([
    ['description: |\n  text', 'text'],
    ['description: |+\n  text', 'text'],
    ['description: >\n  text\n  more', 'text more'],
    ['description: >+\n  text', 'text'],
    ['description: |-\n  text', 'text'],
    ['description: |\r\n  a\r\n  b', 'a\nb'],
    ['description: |+\n  text\n\n  ', 'text\n\n'],
    ['description: |\n  text\n', 'text\n'],
  ])('a block scalar at the end of the input: %j → %j', (yamlText, want) => {
    expect(desc(yamlText)).toBe(want);
  });

  it('!!binary: one U+FFFD per byte Go cannot decode, as encoding/json writes it', () => {
    expect(desc('description: !!binary YeKCYg==\n')).toBe('a\ufffd\ufffdb'); // E2 82: two bytes, two U+FFFD
    expect(desc('description: !!binary 8J+Y\n')).toBe('\ufffd\ufffd\ufffd');
    expect(desc('description: !!binary wIBh\n')).toBe('\ufffd\ufffda'); // overlong C0 80
    expect(desc('description: !!binary 7aCA\n')).toBe('\ufffd\ufffd\ufffd'); // a UTF-8 surrogate
    expect(desc('description: !!binary 4oKs\n')).toBe('€');
  });

  it('nests 5,000 deep without a JS stack overflow, and refuses past 10,000 (flow, indentation, JSON)', () => {
    const flow = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(() => meta(`name: x\nx: ${flow(5000)}\n`)).not.toThrow();
    expect(() => meta(`name: x\nx: ${flow(10001)}\n`)).toThrow(/exceeded max depth of 10000/);
    expect(() => meta(`name: x\nx:\n${'- '.repeat(10001)}v\n`)).toThrow(/exceeded max depth of 10000/);
    expect(() => meta(`dependencies:\n  - {name: d, repository: r, import-values: [${flow(9997)}]}\n`)).toThrow(/exceeded max depth/);
    const md = meta(`dependencies:\n  - {name: d, repository: r, import-values: [${flow(9996)}]}\n`);
    expect(configJson(md)).toContain('"import-values":[' + flow(9996) + ']');
  });

  it('U+2028 and U+2029 are line breaks kept in content; tabs, long keys and unknown directives are refused', () => {
    expect(meta('name: x\ndescription: a\u2029home: b\n')).toMatchObject({ description: 'a', home: 'b' });
    expect(desc('description: a\u2029  b\n')).toBe('a\u2029b');
    expect(() => meta('name: x\ndescription: |\n  \ttext\n')).toThrow(/tab character where an indentation space is expected/);
    expect(desc('description: |2\n  \ttext\n')).toBe('\ttext\n');
    expect(() => meta('keywords:\n- \ta\n')).toThrow(/cannot start any token/);
    expect(() => meta(`annotations:\n  ${'k'.repeat(1025)}: v\n`)).toThrow(/mapping values are not allowed/);
    expect(meta(`annotations:\n  ${'k'.repeat(1024)}: v\n`).annotations).toEqual({ ['k'.repeat(1024)]: 'v' });
    expect(() => meta('%FOO bar\n---\nname: x\n')).toThrow(/found unknown directive name/);
  });

  it('reads UTF-16 as libyaml does, 512 bytes at a time: a bad code unit counts only where the scanner reads', () => {
    const le = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);
    const loneHigh = Buffer.from([0x3d, 0xd8]);
    expect(() => desc(Buffer.concat([le('description: a'), loneHigh, le('b\n').subarray(2)]))).toThrow(/expected low surrogate area/);
    expect(desc(Buffer.concat([le('description: a\n---\n' + '#'.repeat(600)), loneHigh]))).toBe('a');
    expect(() => desc(Buffer.concat([le('description: a'), Buffer.from([0x41])]))).toThrow(/incomplete UTF-16 character/);
  });
});
