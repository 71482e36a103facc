/**
 * Chart files for the YAML corners where chartmirror and Helm disagreed (issue 15), several
 * variants per class. Each becomes a tgz under `e/` and goes through real `helm push` (3.17.3
 * and 4.1.4) in helm-identity.test.ts: the digest must equal ours where Helm pushes, and ours
 * must refuse where Helm refuses. RECORDED_FIDELITY is what both Helm versions did.
 */
import type { HelmOutcome } from './fixtures-awkward.js';

const H = 'apiVersion: v2\nname: e\nversion: 0.1.0\n';
const NO_NL = (s: string) => s.replace(/\n$/, '');
const utf16le = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);
const utf16be = (s: string) => {
  const le = Buffer.from(s, 'utf16le');
  for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
  return Buffer.concat([Buffer.from([0xfe, 0xff]), le]);
};
/** A UTF-16LE document with the raw code unit `unit` spliced in where `@` is. */
const utf16leWith = (s: string, unit: number) => {
  const [a, b] = s.split('@') as [string, string];
  const u = Buffer.alloc(2);
  u.writeUInt16LE(unit);
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(a, 'utf16le'), u, Buffer.from(b, 'utf16le')]);
};
const nestedBlockMap = (depth: number) => Array.from({ length: depth }, (_, i) => `${' '.repeat(2 * i)}k${i}:`).join('\n') + ' leaf\n';
const flowSeq = (depth: number) => '['.repeat(depth) + 'x' + ']'.repeat(depth);
const flowMap = (depth: number) => '{a: '.repeat(depth) + '1' + '}'.repeat(depth);
const dep = (importValues: string) => `dependencies:\n  - name: d\n    repository: r\n    import-values:\n      - ${importValues}\n`;

export const YAML_FIDELITY_CASES: Array<{ id: string; files: Record<string, string | Buffer> }> = [
  // A block scalar that ends the file without a final line break.
  { id: 'eof-literal', files: { 'Chart.yaml': NO_NL(H + 'description: |\n  text\n') } },
  { id: 'eof-folded', files: { 'Chart.yaml': NO_NL(H + 'description: >\n  text\n  more\n') } },
  { id: 'eof-literal-keep', files: { 'Chart.yaml': NO_NL(H + 'description: |+\n  text\n') } },
  { id: 'eof-folded-keep', files: { 'Chart.yaml': NO_NL(H + 'description: >+\n  text\n') } },
  { id: 'eof-literal-strip', files: { 'Chart.yaml': NO_NL(H + 'description: |-\n  text\n') } },
  { id: 'eof-keep-trailing-blank-lines', files: { 'Chart.yaml': H + 'description: |+\n  text\n\n  ' } },
  { id: 'eof-literal-crlf', files: { 'Chart.yaml': NO_NL((H + 'description: |\n  a\n  b\n').replace(/\n/g, '\r\n')) } },
  { id: 'eof-folded-crlf', files: { 'Chart.yaml': NO_NL((H + 'description: >\n  a\n  b\n').replace(/\n/g, '\r\n')) } },
  { id: 'eof-annotation-value', files: { 'Chart.yaml': NO_NL(H + 'annotations:\n  note: |\n    hello\n') } },
  { id: 'eof-annotation-folded-keep', files: { 'Chart.yaml': NO_NL(H + 'annotations:\n  note: >+\n    hello\n    world\n') } },
  { id: 'eof-indent-indicator', files: { 'Chart.yaml': NO_NL(H + 'description: |2\n   x\n') } },
  { id: 'eof-after-comment', files: { 'Chart.yaml': H + 'description: |\n  text\n# done' } },
  { id: 'eof-values-block', files: { 'Chart.yaml': H, 'values.yaml': 'a: |\n  text' } },

  // !!binary values that decode to invalid UTF-8: one U+FFFD per invalid byte.
  { id: 'binary-ff', files: { 'Chart.yaml': H + 'description: !!binary /w==\n' } },
  { id: 'binary-truncated-3', files: { 'Chart.yaml': H + 'description: !!binary YeKCYg==\n' } },
  { id: 'binary-surrogate', files: { 'Chart.yaml': H + 'description: !!binary 7aCA\n' } },
  { id: 'binary-overlong', files: { 'Chart.yaml': H + 'description: !!binary wIBh\n' } },
  { id: 'binary-truncated-4', files: { 'Chart.yaml': H + 'description: !!binary 8J+Y\n' } },
  { id: 'binary-annotation', files: { 'Chart.yaml': H + 'annotations:\n  k: !!binary 4oKs4oI=\nkeywords: [!!binary gA==, !!binary 9Y+/vw==]\n' } },

  // Nesting deeper than 100 (goyaml: 10,000 flow levels, 10,000 indentation levels).
  { id: 'deep-block-map-101', files: { 'Chart.yaml': H + 'x:\n' + nestedBlockMap(101).replace(/^/gm, '  ') } },
  { id: 'deep-block-seq-200', files: { 'Chart.yaml': H + 'x:\n' + '- '.repeat(200) + 'v\n' } },
  { id: 'deep-flow-seq-5000', files: { 'Chart.yaml': H + `x: ${flowSeq(5000)}\n` } },
  { id: 'deep-flow-map-5000', files: { 'Chart.yaml': H + `x: ${flowMap(5000)}\n` } },
  { id: 'deep-import-values-150', files: { 'Chart.yaml': H + dep(flowMap(150)) } },
  { id: 'deep-import-values-9996', files: { 'Chart.yaml': H + dep(flowSeq(9996)) } },
  { id: 'deep-import-values-json-10001', files: { 'Chart.yaml': H + dep(flowSeq(9997)) } },
  { id: 'deep-values-5000', files: { 'Chart.yaml': H, 'values.yaml': `a: ${flowSeq(5000)}\n` } },
  { id: 'deep-values-json-10000', files: { 'Chart.yaml': H, 'values.yaml': `a: ${flowSeq(9999)}\n` } },
  { id: 'deep-values-json-10001', files: { 'Chart.yaml': H, 'values.yaml': `a:\n  b: ${flowSeq(9999)}\n` } },
  { id: 'deep-flow-10001', files: { 'Chart.yaml': H + `x: ${flowSeq(10001)}\n` } },
  { id: 'deep-indents-10001', files: { 'Chart.yaml': H + 'x:\n' + '- '.repeat(10001) + 'v\n' } },

  // Raw U+2028 / U+2029: YAML 1.1 line breaks, kept in content by libyaml.
  { id: 'ls-single-quoted', files: { 'Chart.yaml': H + "description: 'a\u2028  b'\n" } },
  { id: 'ps-double-quoted-two', files: { 'Chart.yaml': H + 'description: "a\u2029\u2029  b"\n' } },
  { id: 'ps-as-line-break', files: { 'Chart.yaml': H + 'description: a\u2029home: b\n' } },
  { id: 'ps-in-plain-multiline', files: { 'Chart.yaml': H + 'description: a\u2029  b\n' } },
  { id: 'ls-ends-comment', files: { 'Chart.yaml': H + '# c\u2028description: d\n' } },
  { id: 'ls-annotation-key', files: { 'Chart.yaml': H + 'annotations:\n  "k\u2028 x": "v\u2029y"\n' } },
  { id: 'ls-quoted-then-folded', files: { 'Chart.yaml': H + 'description: "a\u2028\n  b"\n' } },

  // Tabs where goyaml refuses them (and where it does not).
  { id: 'tab-block-scalar-first-line', files: { 'Chart.yaml': H + 'description: |\n  \ttext\n' } },
  { id: 'tab-block-scalar-column-0', files: { 'Chart.yaml': H + 'description: |\n\ttext\n' } },
  { id: 'tab-block-scalar-explicit-indent', files: { 'Chart.yaml': H + 'description: |2\n  \ttext\n' } },
  { id: 'tab-after-dash', files: { 'Chart.yaml': H + 'keywords:\n- \ta\n' } },
  { id: 'tab-as-dash-separator', files: { 'Chart.yaml': H + 'keywords:\n  -\ta\n' } },
  { id: 'tab-after-simple-key', files: { 'Chart.yaml': H + 'description:\tvalue\n' } },
  { id: 'tab-after-explicit-key', files: { 'Chart.yaml': H + '? \tdescription\n: x\n' } },
  { id: 'tab-in-flow', files: { 'Chart.yaml': H + 'keywords: [\ta,\tb ]\n' } },

  // Implicit keys: at most 1,024 characters from the key's start to its ':'.
  { id: 'key-1024', files: { 'Chart.yaml': H + `annotations:\n  ${'k'.repeat(1024)}: v\n` } },
  { id: 'key-1025', files: { 'Chart.yaml': H + `annotations:\n  ${'k'.repeat(1025)}: v\n` } },
  { id: 'key-1025-top-level', files: { 'Chart.yaml': H + `${'k'.repeat(1025)}: v\n` } },
  { id: 'key-dq-1025', files: { 'Chart.yaml': H + `annotations:\n  "${'k'.repeat(1023)}": v\n` } },
  { id: 'key-flow-1025', files: { 'Chart.yaml': H + `annotations: {${'k'.repeat(1025)}: v}\n` } },
  { id: 'key-1000-multibyte', files: { 'Chart.yaml': H + `annotations:\n  ${'日'.repeat(1000)}: v\n` } },

  // Directives: only %YAML 1.1 and %TAG.
  { id: 'directive-unknown', files: { 'Chart.yaml': '%FOO bar\n---\n' + H } },
  { id: 'directive-unknown-bare', files: { 'Chart.yaml': '%FOO\n---\n' + H } },
  { id: 'directive-in-document', files: { 'Chart.yaml': H + '%FOO\n' } },
  { id: 'directive-after-document-end', files: { 'Chart.yaml': H + '...\n%FOO bar\n---\nx: y\n' } },
  { id: 'directive-yaml-twice', files: { 'Chart.yaml': '%YAML 1.1\n%YAML 1.1\n---\n' + H } },
  { id: 'directive-yaml-comment', files: { 'Chart.yaml': '%YAML 1.1 # c\n---\n' + H } },

  // UTF-16, and where the reader notices bad input (it decodes 512 bytes at a time).
  { id: 'utf16le-lone-high', files: { 'Chart.yaml': utf16leWith(H + 'description: a@b\n', 0xd83d) } },
  { id: 'utf16le-lone-low', files: { 'Chart.yaml': utf16leWith(H + 'description: a@b\n', 0xde00) } },
  { id: 'utf16le-odd-length', files: { 'Chart.yaml': Buffer.concat([utf16le(H), Buffer.from([0x41])]) } },
  { id: 'utf16be-pair', files: { 'Chart.yaml': utf16be(H + 'description: "😀 ok"\n') } },
  { id: 'utf16le-lone-after-document', files: { 'Chart.yaml': utf16leWith(H + '---\n' + '#'.repeat(600) + '@\n', 0xd83d) } },
  { id: 'utf8-invalid-same-chunk', files: { 'Chart.yaml': Buffer.concat([Buffer.from(H + '---\n# '), Buffer.from([0xff]), Buffer.from('\n')]) } },
  { id: 'utf8-invalid-next-chunk', files: { 'Chart.yaml': Buffer.concat([Buffer.from(H + '---\n#' + ' '.repeat(1100)), Buffer.from([0xff]), Buffer.from('\n')]) } },
  { id: 'control-char-after-document', files: { 'Chart.yaml': H + '---\n#' + ' '.repeat(1100) + '\x01\n' } },
];

export const RECORDED_FIDELITY: Record<string, HelmOutcome> = {
  'binary-annotation': 'ok',
  'binary-ff': 'ok',
  'binary-overlong': 'ok',
  'binary-surrogate': 'ok',
  'binary-truncated-3': 'ok',
  'binary-truncated-4': 'ok',
  'control-char-after-document': 'ok',
  'deep-block-map-101': 'ok',
  'deep-block-seq-200': 'ok',
  'deep-flow-10001': 'fail',
  'deep-flow-map-5000': 'ok',
  'deep-flow-seq-5000': 'ok',
  'deep-import-values-150': 'ok',
  'deep-import-values-9996': 'ok',
  'deep-import-values-json-10001': 'fail',
  'deep-indents-10001': 'fail',
  'deep-values-5000': 'ok',
  'deep-values-json-10000': 'ok',
  'deep-values-json-10001': 'fail',
  'directive-after-document-end': 'ok',
  'directive-in-document': 'fail',
  'directive-unknown': 'fail',
  'directive-unknown-bare': 'fail',
  'directive-yaml-comment': 'ok',
  'directive-yaml-twice': 'fail',
  'eof-after-comment': 'ok',
  'eof-annotation-folded-keep': 'ok',
  'eof-annotation-value': 'ok',
  'eof-folded': 'ok',
  'eof-folded-crlf': 'ok',
  'eof-folded-keep': 'ok',
  'eof-indent-indicator': 'ok',
  'eof-keep-trailing-blank-lines': 'ok',
  'eof-literal': 'ok',
  'eof-literal-crlf': 'ok',
  'eof-literal-keep': 'ok',
  'eof-literal-strip': 'ok',
  'eof-values-block': 'ok',
  'key-1000-multibyte': 'ok',
  'key-1024': 'ok',
  'key-1025': 'fail',
  'key-1025-top-level': 'fail',
  'key-dq-1025': 'fail',
  'key-flow-1025': 'fail',
  'ls-annotation-key': 'fail',
  'ls-ends-comment': 'ok',
  'ls-quoted-then-folded': 'ok',
  'ls-single-quoted': 'ok',
  'ps-as-line-break': 'ok',
  'ps-double-quoted-two': 'ok',
  'ps-in-plain-multiline': 'ok',
  'tab-after-dash': 'fail',
  'tab-after-explicit-key': 'fail',
  'tab-after-simple-key': 'ok',
  'tab-as-dash-separator': 'fail',
  'tab-block-scalar-column-0': 'fail',
  'tab-block-scalar-explicit-indent': 'ok',
  'tab-block-scalar-first-line': 'fail',
  'tab-in-flow': 'ok',
  'utf16be-pair': 'ok',
  'utf16le-lone-after-document': 'ok',
  'utf16le-lone-high': 'fail',
  'utf16le-lone-low': 'fail',
  'utf16le-odd-length': 'fail',
  'utf8-invalid-next-chunk': 'ok',
  'utf8-invalid-same-chunk': 'fail',
};
