import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIndex } from '../../src/source/index-file.js';
import { decodeInto, validateMetadata, type ChartMetadata } from '../../src/chart/metadata.js';
import { haveTestdata, HELM_TESTDATA } from '../support/testdata.js';
import { AWKWARD_CHARTS } from '../chart/fixtures-awkward.js';

const TESTDATA = join(HELM_TESTDATA, 'repo');

function parse(text: string) {
  return parseIndex(Buffer.from(text), 'test');
}

const summary = (r: ReturnType<typeof parse>) => r.entries.map((e) => `${e.name}@${e.version}`).sort();

describe.skipIf(!haveTestdata())("Helm's own index vectors", () => {
  it('reads local-index.yaml and its JSON twin the same way', async () => {
    const y = parseIndex(await readFile(join(TESTDATA, 'local-index.yaml')), 'yaml');
    const j = parseIndex(await readFile(join(TESTDATA, 'local-index.json')), 'json');
    expect(summary(y)).toEqual(['alpine@1.0.0', 'chartWithNoURL@1.0.0', 'nginx@0.1.0', 'nginx@0.2.0']);
    expect(y.entries).toEqual(j.entries);
    const alpine = y.entries.find((e) => e.name === 'alpine')!;
    expect(alpine.urls).toEqual(['https://charts.helm.sh/stable/alpine-1.0.0.tgz', 'http://storage2.googleapis.com/kubernetes-charts/alpine-1.0.0.tgz']);
    expect(y.entries.find((e) => e.name === 'chartWithNoURL')!.urls).toEqual([]);
    // "sha256:1234567890abcdef" is not a usable digest: it is not checked rather than failing everything.
    expect(alpine.digest).toBeUndefined();
  });

  it.each(['chartmuseum-index.yaml', 'local-index-unordered.yaml', 'local-index-annotations.yaml', 'server/index.yaml'])('reads %s', async (file) => {
    const r = parseIndex(await readFile(join(TESTDATA, file)), file);
    expect(r.problems).toEqual([]);
    expect(r.entries.length).toBeGreaterThan(0);
    for (const e of r.entries) expect(e.version).toMatch(/^\d/);
  });
});

describe('index entries', () => {
  it('reads YAML 1.1 scalars as Helm does', () => {
    const r = parse(`apiVersion: v1
entries:
  a:
  - {name: a, version: 1.1.0, urls: [a-1.10.tgz], created: 2024-01-02T03:04:05.678Z, digest: ${'AB'.repeat(32)}}
  - {name: a, version: "1.10", urls: [a.tgz], deprecated: yes}
`);
    expect(r.entries.map((e) => e.version)).toEqual(['1.1.0', '1.10']);
    expect(r.entries[0]!.created).toBe('2024-01-02T03:04:05.678Z');
    expect(r.entries[0]!.digest).toBe(`sha256:${'ab'.repeat(32)}`);
    expect(r.entries[1]!.deprecated).toBe(true);
  });

  it.each([
    ['version: 1.10', '1.1'],
    ['version: 010', '8'],
    ['version: 1e2', '100'],
    ['version: 2', '2'],
    ['version: yes', 'true'],
  ])('refuses the whole index over %s, not a string (Helm cannot read it either), in one line', (line, shown) => {
    const text = `apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, urls: [a.tgz]}\n  - name: a\n    ${line}\n    urls: [b.tgz]\n`;
    for (const t of [text, `${text}# *whole\n`]) {
      expect(() => parse(t)).toThrow(new RegExp(`^test: index.yaml refused: chart "a" has version ${shown} as a YAML (number|boolean), not a string.*quote it`));
    }
    expect(() => parseIndex(Buffer.from('{"apiVersion": "v1", "entries": {"a": [{"name": "a", "version": 1.1}]}}'), 'json')).toThrow(/refused: chart "a" has version 1.1 as a YAML number/);
    expect(parse(text.replace(line, 'version: "1.10"')).entries.map((e) => e.version)).toEqual(['1.0.0', '1.10']);
  });

  it('reports entries Helm drops, with the reason, and keeps the rest', () => {
    const r = parse(`apiVersion: v1
entries:
  ok: [{name: ok, version: 1.0.0, urls: [ok.tgz]}]
  nover: [{name: nover, urls: [x.tgz]}]
  badver: [{name: badver, version: not-semver, urls: [x.tgz]}]
  slash: [{name: "a/b", version: 1.0.0}]
  badtype: [{name: badtype, version: 1.0.0, type: daemon}]
  nullmaint: [{name: nullmaint, version: 1.0.0, maintainers: [~]}]
  dupdep: [{name: dupdep, version: 1.0.0, dependencies: [{name: x, repository: r}, {name: x, repository: r}]}]
  empty: [~]
`);
    expect(summary(r)).toEqual(['dupdep@1.0.0', 'ok@1.0.0']); // duplicate dependencies: ignored by Helm's index loader (helm#12748)
    const reasons = Object.fromEntries(r.problems.map((p) => [p.chart, p.reason]));
    expect(reasons.nover).toMatch(/version is required/);
    expect(reasons.badver).toMatch(/version "not-semver" is invalid/);
    expect(reasons['a/b']).toMatch(/name "a\/b" is invalid/);
    expect(reasons.badtype).toMatch(/type must be application or library/);
    expect(reasons.nullmaint).toMatch(/maintainers must not contain empty or null nodes/);
    expect(reasons.empty).toMatch(/empty entry/);
  });

  it('treats a version listed twice as one item', () => {
    const r = parse('apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, urls: [first.tgz]}\n  - {name: a, version: 1.0.0, urls: [second.tgz]}\n');
    expect(r.entries).toHaveLength(1);
    expect(r.entries[0]!.urls).toEqual(['first.tgz']);
  });

  it('tolerates unknown keys with a warning (Helm refuses the whole index)', () => {
    const r = parse('apiVersion: v1\nsomething: else\nentries:\n  a:\n  - {name: a, version: 1.0.0, flavour: mint}\n');
    expect(summary(r)).toEqual(['a@1.0.0']);
    expect(r.warnings.join(' ')).toMatch(/unknown keys tolerated.*something.*a\[\]\.flavour/);
  });

  it('refuses what is not an index, in one line', () => {
    expect(() => parse('')).toThrow(/empty index\.yaml/);
    expect(() => parse('entries: [1, 2')).toThrow(/not valid YAML/);
    expect(() => parse('- a\n- b\n')).toThrow(/not a mapping/);
  });

  it('decides like the exact Chart.yaml decoder on every awkward fixture', () => {
    // The index reader's fast path must keep and drop exactly what Helm's full decoding would.
    let compared = 0;
    for (const c of AWKWARD_CHARTS) {
      const chartYaml = c.files['Chart.yaml'];
      if (!chartYaml) continue;
      const md: ChartMetadata = {};
      try {
        decodeInto(md, chartYaml, 'Chart.yaml');
      } catch {
        continue; // Helm fails the whole index on such an entry; we tolerate it on purpose
      }
      md.apiVersion ||= 'v1';
      let exact: ChartMetadata | undefined = md;
      try {
        validateMetadata(md);
      } catch (e) {
        // Helm's index loader ignores exactly one validation error (helm#12748).
        if (!/more than one dependency/.test((e as Error).message)) exact = undefined;
      }
      const indented = chartYaml.split('\n').map((l) => (l ? `    ${l}` : l)).join('\n');
      let fast;
      try {
        fast = parse(`apiVersion: v1\nentries:\n  x:\n  -\n${indented}\n`);
      } catch {
        continue; // YAML the fast reader rejects outright (libyaml-only quirks): not an index concern
      }
      compared++;
      if (exact) {
        expect(fast.entries.map((e) => [e.name, e.version]), c.id).toEqual([[exact.name, exact.version]]);
      } else {
        expect(fast.entries, c.id).toEqual([]);
      }
    }
    expect(compared).toBeGreaterThan(12);
  });
});

describe('reading large indexes chart by chart', () => {
  // A trailing comment with an alias-like token makes the reader take the whole-document path.
  const whole = (text: string) => parseIndex(Buffer.from(`${text}\n# *whole\n`), 'whole');

  const sample = `apiVersion: v1
entries:
  alpha:
  - apiVersion: v2
    name: alpha
    version: "1.10"
    urls: [alpha-1.10.tgz]
    digest: ${'AB'.repeat(32)}
    description: |
      multi-line: with a colon
      and "quotes"
  - {name: alpha, version: 1.0.0, urls: [a.tgz], flavour: mint}
  "beta":
    - name: beta
      version: not-semver
    - name: beta
      version: 2.0.0
      urls:
      - beta-2.0.0.tgz

  # a comment between charts
  gamma:
  - name: gamma
    version: 0.1.0
    deprecated: yes
generated: "2024-01-01T00:00:00Z"
serverInfo: {contextPath: /charts}
`;

  it('splits a helm-style index into one document per chart', async () => {
    const { splitEntries } = await import('../../src/source/index-file.js');
    const split = splitEntries(sample)!;
    expect(split).toBeDefined();
    expect([...split.charts]).toHaveLength(3);
    expect(splitEntries(`${sample}# *alias\n`)).toBeUndefined();
    expect(splitEntries('apiVersion: v1\nentries: {a: [{name: a, version: 1.0.0}]}\n')).toBeUndefined();
    expect(splitEntries(sample.replace('  gamma:', '  alpha:'))).toBeUndefined(); // duplicate chart key
  });

  it('gives exactly what reading the whole document gives', () => {
    const chunked = parse(sample);
    expect(chunked).toEqual(whole(sample));
    expect(summary(chunked)).toEqual(['alpha@1.0.0', 'alpha@1.10', 'beta@2.0.0', 'gamma@0.1.0']);
    expect(chunked.problems.map((p) => p.chart)).toEqual(['beta']);
    expect(chunked.warnings.join(' ')).toMatch(/alpha\[\]\.flavour/);
  });

  it.skipIf(!haveTestdata())("gives the same on Helm's vectors", async () => {
    for (const f of ['local-index.yaml', 'chartmuseum-index.yaml', 'local-index-unordered.yaml', 'local-index-annotations.yaml']) {
      const text = await readFile(join(TESTDATA, f), 'utf8');
      expect(parse(text), f).toEqual(whole(text));
    }
  });

  it('falls back to the whole document when a chunk is not what it seemed, and still reports YAML errors', () => {
    const broken = `apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: "1.0.0\n  b:\n  - name: b\n    version: 1.0.0\n`;
    expect(() => parse(broken)).toThrow(/not valid YAML/);
  });
});
