import { describe, expect, it } from 'vitest';
import { configJson, decodeInto, decodeValueInto, sanitizeString, validateMetadata, type ChartMetadata } from '../../src/chart/metadata.js';
import { ChartMirrorError } from '../../src/errors.js';
import { parseGoYaml } from '../../src/helmcompat/sigsyaml.js';

function meta(...docs: string[]): ChartMetadata {
  const md: ChartMetadata = {};
  for (const d of docs) decodeInto(md, d, 'Chart.yaml');
  return md;
}

function valid(yamlText: string): ChartMetadata {
  const md = meta(yamlText);
  md.apiVersion ||= 'v1';
  validateMetadata(md);
  return md;
}

function validationError(yamlText: string): string {
  try {
    valid(yamlText);
  } catch (e) {
    expect(e).toBeInstanceOf(ChartMirrorError);
    expect((e as ChartMirrorError).code).toBe('CHART');
    return (e as Error).message;
  }
  throw new Error('expected a validation error');
}

describe('sanitizeString (Helm: unicode.IsSpace → space, !unicode.IsPrint dropped)', () => {
  it('turns every Go space into a plain space', () => {
    expect(sanitizeString('a\tb\nc\vd\fe\rf\u0085g\u00a0h\u1680i\u2000j\u200ak\u2028l\u2029m\u202fn\u205fo\u3000p')).toBe('a b c d e f g h i j k l m n o p');
  });

  it('drops non-printable runes: controls, format characters, U+FEFF, unassigned', () => {
    expect(sanitizeString('a\u0000b\u0001c\u007fd\u0080e\u00adf\u200bg\u200dh\u202ei\ufeffj\u2066k')).toBe('abcdefghijk');
    // U+0378 is unassigned; U+1FAE9 was assigned after Unicode 15.0 (Go 1.23/1.25 tables).
    expect(sanitizeString('x\u0378y\u{1fae9}z')).toBe('xyz');
  });

  it('keeps letters, marks, numbers, punctuation, symbols and emoji', () => {
    const s = 'Über café 日本語 ½ ¿? € ≠ 😀 👍🏽 e\u0301 ！';
    expect(sanitizeString(s)).toBe(s);
  });
});

describe('decodeInto (sigs.k8s.io/yaml + encoding/json semantics)', () => {
  it('matches keys case-insensitively, exact match preferred, keys applied in sorted order', () => {
    expect(meta('NAME: a\n').name).toBe('a');
    // "Description" < "description" bytewise: the exact-case key is applied last.
    expect(meta('description: lower\nDescription: upper\n').description).toBe('lower');
    expect(meta('DESCRIPTION: all\nDescription: upper\n').description).toBe('upper');
  });

  it('folds ſ onto s and the Kelvin sign onto k, but not ı/İ onto i', () => {
    const md = meta('\u017Fources: [s]\n\u212Aeywords: [k]\n\u0131con: dotless\n');
    expect(md.sources).toEqual(['s']);
    expect(md.keywords).toEqual(['k']);
    expect(md.icon).toBeUndefined();
  });

  it('null leaves strings and bools alone, clears slices and maps', () => {
    const md = meta('description: d\ndeprecated: true\nkeywords: [a]\nannotations: {a: b}\n', 'description: ~\ndeprecated: ~\nkeywords: ~\nannotations: ~\n');
    expect(md.description).toBe('d');
    expect(md.deprecated).toBe(true);
    expect(md.keywords).toBeUndefined();
    expect(md.annotations).toBeUndefined();
  });

  it('merges maps across documents and replaces slices', () => {
    const md = meta('annotations: {a: "1", b: "2"}\nkeywords: [x, y, z]\n', 'annotations: {b: "3", c: "4"}\nkeywords: [w]\n');
    expect(md.annotations).toEqual({ a: '1', b: '3', c: '4' });
    expect(md.keywords).toEqual(['w']);
  });

  it('decodes a second list into the existing elements (requirements.yaml after Chart.yaml)', () => {
    const md = meta(
      'dependencies:\n  - {name: a, version: 1.0.0, repository: ra, condition: a.on, tags: [t1, t2]}\n  - {name: b, repository: rb}\n',
      'dependencies:\n  - {name: a, version: 2.0.0, tags: [x]}\n',
    );
    expect(md.dependencies).toEqual([{ name: 'a', version: '2.0.0', repository: 'ra', condition: 'a.on', tags: ['x'] }]);
  });

  it('keeps stale elements in spare capacity, as Go slices do', () => {
    // [a b c] gets capacity 4. [~] shrinks it to [a] (null into a string is a no-op) but the
    // backing array still holds b and c; [~, ~] then re-exposes b. (A YAML key `n` would be
    // false, hence the odd names elsewhere.)
    const md = meta('keywords: [a, b, c]\n', 'keywords: [~]\n', 'keywords: [~, ~]\n');
    expect(md.keywords).toEqual(['a', 'b']);
  });

  it('annotation values that are null become empty strings', () => {
    expect(meta('annotations: {a: ~, b: }\n').annotations).toEqual({ a: '', b: '' });
  });

  it.each([
    ['tags: [a, b]\n', /cannot unmarshal array into Go struct field Metadata.tags of type string/],
    ['annotations: {a: {b: c}}\n', /cannot unmarshal object/],
    ['maintainers: [abc]\n', /cannot unmarshal string into Go struct field Metadata.maintainers of type chart.Maintainer/],
    ['deprecated: "true"\n', /cannot unmarshal string into Go struct field Metadata.deprecated of type bool/],
    ['dependencies: [{name: a, enabled: 1}]\n', /of type bool/],
    ['- a\n', /cannot unmarshal array into Go value of type chart.Metadata/],
    ['extra: .inf\n', /unsupported value: \+Inf/],
    ['extra: {~: a}\n', /unsupported map key/],
  ])('rejects %j', (text, re) => {
    expect(() => meta(text)).toThrow(re);
  });

  it('ignores unknown keys and decodes an empty document to nothing', () => {
    expect(meta('engine: gotpl\ntillerVersion: ">2"\nname: a\n')).toEqual({ name: 'a' });
    expect(meta('')).toEqual({});
    expect(meta('# only a comment\n')).toEqual({});
  });

  it('decodeValueInto takes an already parsed value with the same rules', () => {
    const md: ChartMetadata = {};
    decodeValueInto(md, parseGoYaml('name: x\nVersion: 1.10\nkeywords: [1, yes]\n'), 'index entry x');
    expect(md).toEqual({ name: 'x', version: '1.1', keywords: ['1', 'true'] });
  });
});

describe('validateMetadata (Helm Validate)', () => {
  it('sanitises exactly Helm’s field list in place', () => {
    const md = valid(
      [
        'name: "a\\u200bb"',
        'version: "1.0.0"',
        'description: "multi\\nline\\u00ad"',
        'home: "h\\tx"',
        'icon: "i\\u0001"',
        'condition: "c\\u2028"',
        'tags: "t\\u200b"',
        'appVersion: "v\\u00a0"',
        'kubeVersion: "k\\u3000"',
        'sources: ["s\\u200b"]',
        'keywords: ["k\\u200b"]',
        'maintainers: [{name: "n\\u200b", email: "e\\u200b", url: "u\\u200b"}]',
        'dependencies: [{name: "d\\u200b", version: "v\\u200b", repository: "r\\u200b", condition: "c\\u200b", tags: ["t\\u200b"], alias: "al", import-values: ["iv\\u200b"]}]',
        'annotations: {k: "kept\\u200b"}',
        'type: application',
      ].join('\n'),
    );
    expect(md).toMatchObject({
      name: 'ab',
      description: 'multi line',
      home: 'h x',
      icon: 'i',
      condition: 'c ',
      tags: 't',
      appVersion: 'v ',
      kubeVersion: 'k ',
      sources: ['s'],
      keywords: ['k'],
      maintainers: [{ name: 'n', email: 'e', url: 'u' }],
      dependencies: [{ name: 'd', version: 'v', repository: 'r', condition: 'c', tags: ['t'], alias: 'al', importValues: ['iv\u200b'] }],
      annotations: { k: 'kept\u200b' },
    });
  });

  it('does not sanitise version', () => {
    expect(validationError('name: a\nversion: "1.0.0\\u200b"\n')).toBe('Chart.yaml: validation: chart.metadata.version "1.0.0\\u200b" is invalid');
  });

  it.each([
    ['version: 1.0.0\n', 'chart.metadata.name is required'],
    ['name: a\n', 'chart.metadata.version is required'],
    ['name: a/b\nversion: 1.0.0\n', 'chart.metadata.name "a/b" is invalid'],
    ['name: .\nversion: 1.0.0\n', 'chart.metadata.name "." is not allowed'],
    ['name: a\nversion: 1.2.3-01\n', 'chart.metadata.version "1.2.3-01" is invalid'],
    ['name: a\nversion: 1.0.0\ntype: Application\n', 'chart.metadata.type must be application or library'],
    ['name: a\nversion: 1.0.0\nmaintainers: [~]\n', 'maintainers must not contain empty or null nodes'],
    ['name: a\nversion: 1.0.0\ndependencies: [~]\n', 'dependencies must not contain empty or null nodes'],
    ['name: a\nversion: 1.0.0\ndependencies: [{name: d, repository: r, alias: "x y"}]\n', 'dependency "d" has disallowed characters in the alias'],
    ['name: a\nversion: 1.0.0\ndependencies: [{name: d, repository: r}, {name: e, alias: d, repository: r}]\n', 'more than one dependency with name or alias "d"'],
  ])('%j → %s', (text, msg) => {
    expect(validationError(text)).toBe(`Chart.yaml: validation: ${msg}`);
  });

  it('requires apiVersion (the loader defaults it to v1 first)', () => {
    const md = meta('name: a\nversion: 1.0.0\n');
    expect(() => validateMetadata(md)).toThrow('chart.metadata.apiVersion is required');
  });
});

describe('configJson (json.Marshal(*Metadata))', () => {
  it('writes fields in struct order', () => {
    const md = valid(
      'type: application\ndependencies: [{name: d, repository: r}]\nkubeVersion: ">=1"\nannotations: {z: "1", a: "2"}\ndeprecated: true\nappVersion: "2"\ntags: t\ncondition: c\napiVersion: v2\nicon: i\nmaintainers: [{url: u, email: e, name: mn}]\nkeywords: [k]\ndescription: d\nversion: 1.0.0\nsources: [s]\nhome: h\nname: nm\n',
    );
    expect(configJson(md)).toBe(
      '{"name":"nm","home":"h","sources":["s"],"version":"1.0.0","description":"d","keywords":["k"],"maintainers":[{"name":"mn","email":"e","url":"u"}],"icon":"i","apiVersion":"v2","condition":"c","tags":"t","appVersion":"2","deprecated":true,"annotations":{"a":"2","z":"1"},"kubeVersion":"\\u003e=1","dependencies":[{"name":"d","repository":"r"}],"type":"application"}',
    );
  });

  it('omits empty fields, empty lists and maps, false; keeps dependency name and repository', () => {
    const md = valid('name: nm\nversion: 1.0.0\nsources: []\nkeywords: []\nannotations: {}\nmaintainers: [{}]\ndeprecated: false\ndependencies: [{name: "", repository: "", tags: [], enabled: false, import-values: []}]\n');
    expect(configJson(md)).toBe('{"name":"nm","version":"1.0.0","maintainers":[{}],"apiVersion":"v1","dependencies":[{"name":"","repository":""}]}');
  });

  it('writes every dependency field in order, import-values as JSON', () => {
    const md = valid('name: nm\nversion: 1.0.0\ndependencies: [{alias: al, import-values: [x, {child: c, parent: p}], enabled: true, tags: [t], condition: c, repository: r, version: ">1", name: d}]\n');
    expect(configJson(md)).toContain('"dependencies":[{"name":"d","version":"\\u003e1","repository":"r","condition":"c","tags":["t"],"enabled":true,"import-values":["x",{"child":"c","parent":"p"}],"alias":"al"}]');
  });
});
