import { describe, expect, it } from 'vitest';
import { parseConfig, type Selection } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import {
  Selector,
  compareNewestFirst,
  comparableVersion,
  createdTime,
  globToRegExp,
  parseRange,
  type Candidate,
} from '../../src/pipeline/selection.js';

function selection(over: Partial<Selection> = {}): Selection {
  return { prereleases: true, deprecated: 'include', overrides: {}, ...over };
}

/** The versions a selection keeps for one chart, in input order. */
function kept(sel: Partial<Selection>, versions: (string | Candidate)[], chart = 'app'): string[] {
  const cands = versions.map((v) => (typeof v === 'string' ? { version: v } : v));
  const d = new Selector(selection(sel)).versionDecisions(chart, cands);
  return cands.filter((_, i) => d[i]!.selected).map((c) => c.version);
}

/** version -> reason for the versions left out. */
function reasons(sel: Partial<Selection>, versions: (string | Candidate)[], chart = 'app'): Record<string, string> {
  const cands = versions.map((v) => (typeof v === 'string' ? { version: v } : v));
  const d = new Selector(selection(sel)).versionDecisions(chart, cands);
  const out: Record<string, string> = {};
  cands.forEach((c, i) => {
    const x = d[i]!;
    if (!x.selected) out[c.version] = x.reason;
  });
  return out;
}

const CONFIG_HEAD = `
targets:
  - name: disk
    layout: ./out
`;

function configSelection(yaml: string, source = 0): Selection {
  return parseConfig(CONFIG_HEAD + yaml, '/work/cfg/mirror.config.yaml', {}).sources[source]!.selection;
}

describe('chart globs', () => {
  it('include keeps only matching charts; no include keeps all', () => {
    const s = new Selector(selection({ include: ['nginx', 'redis*'] }));
    expect(['nginx', 'redis', 'redis-cluster', 'nginx-ingress', 'postgresql'].filter((c) => s.chartDecision(c).selected)).toEqual([
      'nginx',
      'redis',
      'redis-cluster',
    ]);
    expect(s.chartDecision('postgresql')).toEqual({ selected: false, reason: 'chart not in charts.include' });
    expect(new Selector(selection()).chartDecision('anything').selected).toBe(true);
  });

  it('exclude wins over include and names the glob that matched', () => {
    const s = new Selector(selection({ include: ['*'], exclude: ['*-legacy', 'tmp?'] }));
    expect(s.chartDecision('api-legacy')).toEqual({ selected: false, reason: 'chart excluded by charts.exclude "*-legacy"' });
    expect(s.chartDecision('tmp1').selected).toBe(false);
    expect(s.chartDecision('tmp12').selected).toBe(true);
    expect(s.chartDecision('legacy-api').selected).toBe(true);
  });

  it('treats regex characters in globs literally and anchors both ends', () => {
    expect(globToRegExp('a.b').test('a.b')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('a+(b)').test('a+(b)')).toBe(true);
    expect(globToRegExp('redis').test('redis-cluster')).toBe(false);
    expect(globToRegExp('*redis').test('my-redis')).toBe(true);
  });

  it('excludes every version of an excluded chart with the chart reason', () => {
    expect(reasons({ exclude: ['app'] }, ['1.0.0', '2.0.0'])).toEqual({
      '1.0.0': 'chart excluded by charts.exclude "app"',
      '2.0.0': 'chart excluded by charts.exclude "app"',
    });
  });
});

describe('versions (a semver range)', () => {
  it('keeps versions in the range', () => {
    expect(kept({ versions: '>=1.0.0 <3.0.0' }, ['0.9.0', '1.0.0', '2.5.1', '3.0.0'])).toEqual(['1.0.0', '2.5.1']);
    expect(reasons({ versions: '>=1.0.0 <3.0.0' }, ['3.0.0'])).toEqual({ '3.0.0': 'not in versions ">=1.0.0 <3.0.0"' });
  });

  it('reads versions Helm accepts but SemVer 2 does not as Masterminds does', () => {
    expect(kept({ versions: '>=1.2.0 <2.0.0' }, ['v1.2.3', '1.3', '1', '01.5.0', 'v2.0.0'])).toEqual(['v1.2.3', '1.3', '01.5.0']);
  });

  it('with prereleases (the default) a range takes the prereleases it spans, in plain semver order', () => {
    expect(kept({ versions: '>=1.0.0 <2.0.0' }, ['1.1.0-rc.1', '1.0.0-rc.1', '0.9.0-beta'])).toEqual(['1.1.0-rc.1']);
    // 2.0.0-rc.1 sorts before 2.0.0, so `<2.0.0` takes it; `<2.0.0-0` is how to leave it out.
    expect(kept({ versions: '>=1.0.0 <2.0.0' }, ['2.0.0-rc.1'])).toEqual(['2.0.0-rc.1']);
    expect(kept({ versions: '>=1.0.0 <2.0.0-0' }, ['2.0.0-rc.1', '1.9.0'])).toEqual(['1.9.0']);
  });

  it('reads Masterminds commas as AND, and refuses what it cannot read instead of dropping it', () => {
    expect(kept({ versions: '>= 1.0.0, < 3.0.0' }, ['0.9.0', '1.0.0', '3.0.0'])).toEqual(['1.0.0']);
    expect(parseRange('>=1.0.0,<3.0.0', false)?.range).toBe('>=1.0.0 <3.0.0');
    // node-semver's loose mode would quietly read these as ">=1.0.0" and ">=1.1.0".
    for (const bad of ['>=1.0.0 <<2', '>1.0 !=1.5', '1.x || banana', '']) {
      expect(parseRange(bad, true), bad).toBeUndefined();
    }
    expect(() => new Selector(selection({ versions: '>=1.0.0 <<2' }), 'sources[1]')).toThrow(
      new ConfigError('sources[1].versions: ">=1.0.0 <<2" is not a valid semver range (e.g. ">=1.0.0 <3.0.0")'),
    );
    expect(() => new Selector(selection({ overrides: { nginx: { versions: 'banana', prereleases: true, deprecated: 'include' } } }), 'sources[0]')).toThrow(
      /^sources\[0\]\.charts\.overrides\.nginx\.versions: "banana" is not a valid semver range/,
    );
  });

  it('a version nothing can compare never matches a range', () => {
    expect(comparableVersion('latest')).toBeNull();
    expect(kept({ versions: '*' }, ['latest', '1.0.0'])).toEqual(['1.0.0']);
    expect(kept({}, ['latest', '1.0.0'])).toEqual(['latest', '1.0.0']);
  });
});

describe('prereleases', () => {
  it('false drops every prerelease, before and regardless of the range', () => {
    expect(kept({ prereleases: false }, ['1.0.0', '1.1.0-rc.1', 'v2.0.0-alpha', '2.0.0+build.1'])).toEqual(['1.0.0', '2.0.0+build.1']);
    expect(reasons({ prereleases: false, versions: '>=1.0.0-0' }, ['1.1.0-rc.1'])).toEqual({ '1.1.0-rc.1': 'prerelease (prereleases: false)' });
  });
});

describe('deprecated', () => {
  const versions: Candidate[] = [{ version: '1.0.0', deprecated: true }, { version: '1.1.0' }];
  it('include (the default) keeps deprecated versions', () => {
    expect(kept({}, versions)).toEqual(['1.0.0', '1.1.0']);
  });
  it('skip leaves them out', () => {
    expect(reasons({ deprecated: 'skip' }, versions)).toEqual({ '1.0.0': 'deprecated (deprecated: skip)' });
  });
});

describe('since / until on the index created time', () => {
  const v = (version: string, created?: string): Candidate => ({ version, created });
  const versions = [
    v('1.0.0', '2023-12-31T23:59:59.999999999Z'),
    v('1.1.0', '2024-01-01T00:00:00Z'),
    // 2024-01-01T01:00:00+02:00 is 2023-12-31T23:00:00Z: the offset counts.
    v('1.2.0', '2024-01-01T01:00:00+02:00'),
    v('1.3.0', '2024-06-30T12:00:00.123456789-07:00'),
    v('1.4.0', '2024-07-01T00:00:00Z'),
  ];

  it('since is inclusive, until exclusive, both instants in UTC', () => {
    const sel = { since: new Date('2024-01-01'), until: new Date('2024-07-01') };
    expect(kept(sel, versions)).toEqual(['1.1.0', '1.3.0']);
    expect(reasons(sel, versions)).toEqual({
      '1.0.0': 'created 2023-12-31T23:59:59.999Z, before since 2024-01-01',
      '1.2.0': 'created 2023-12-31T23:00:00Z, before since 2024-01-01',
      '1.4.0': 'created 2024-07-01, not before until 2024-07-01',
    });
  });

  it('a version without a usable created time is left out, saying why', () => {
    const r = reasons({ since: new Date('2020-01-01') }, [v('1.0.0'), v('1.1.0', 'yesterday'), v('1.2.0', '2024-05-01 10:00:00'), v('1.3.0', '2024-05-01T10:00:00Z')]);
    expect(r).toEqual({
      '1.0.0': 'no usable created time in the index (needed by since)',
      '1.1.0': 'no usable created time in the index (needed by since)',
      '1.2.0': 'no usable created time in the index (needed by since)',
    });
  });

  it('parses created as RFC 3339 only (no local-time guessing)', () => {
    expect(createdTime('2016-10-06T16:23:20.499814565-06:00')).toBe(Date.UTC(2016, 9, 6, 22, 23, 20, 499));
    expect(createdTime('2024-05-01t10:20:30z')).toBe(Date.UTC(2024, 4, 1, 10, 20, 30));
    expect(createdTime('2024-05-01T10:20:30')).toBeNaN();
    expect(createdTime('2024-05-01')).toBeNaN();
    expect(createdTime(undefined)).toBeNaN();
  });
});

describe('latest', () => {
  it('keeps the newest N in semver order, not index order or string order', () => {
    expect(kept({ latest: 2 }, ['1.9.0', '1.10.0', '1.2.0', '0.20.0'])).toEqual(['1.9.0', '1.10.0']);
    expect(reasons({ latest: 2 }, ['1.9.0', '1.10.0', '1.2.0'])).toEqual({ '1.2.0': 'not among the latest 2 in semver order' });
  });

  it('applies after the range (and the other rules)', () => {
    const versions: Candidate[] = [
      { version: '3.0.0' },
      { version: '2.2.0' },
      { version: '2.1.0', deprecated: true },
      { version: '2.0.0' },
      { version: '2.3.0-rc.1' },
      { version: '1.0.0' },
    ];
    expect(kept({ versions: '<3.0.0', latest: 2, deprecated: 'skip', prereleases: false }, versions)).toEqual(['2.2.0', '2.0.0']);
  });

  it('a prerelease ranks below its release; Helm-only spellings compare by their numbers', () => {
    expect(kept({ latest: 1 }, ['2.0.0-rc.1', '2.0.0', '1.9.9'])).toEqual(['2.0.0']);
    expect(kept({ latest: 2 }, ['v1.10', '1.9.0', '1.2'])).toEqual(['v1.10', '1.9.0']);
  });

  it('orders ties on build metadata deterministically and unparsable versions last', () => {
    expect(['1.0.0+b', '1.0.0+a', 'latest', '1.0.1'].sort(compareNewestFirst)).toEqual(['1.0.1', '1.0.0+b', '1.0.0+a', 'latest']);
    const a = kept({ latest: 1 }, ['1.0.0+a', '1.0.0+b']);
    const b = kept({ latest: 1 }, ['1.0.0+b', '1.0.0+a']);
    expect(a).toEqual(b);
  });

  it('more than there are keeps them all', () => {
    expect(kept({ latest: 10 }, ['1.0.0', '2.0.0'])).toEqual(['1.0.0', '2.0.0']);
  });
});

describe('per-chart overrides', () => {
  it('replace the version rules for that chart only and say so in reasons', () => {
    const sel = { versions: '>=2.0.0', overrides: { nginx: { versions: '>=15.0.0', latest: 1, prereleases: true, deprecated: 'include' as const } } };
    expect(kept(sel, ['14.0.0', '15.0.0', '15.1.0'], 'nginx')).toEqual(['15.1.0']);
    expect(kept(sel, ['1.0.0', '2.0.0'], 'redis')).toEqual(['2.0.0']);
    expect(reasons(sel, ['14.0.0', '15.0.0', '15.1.0'], 'nginx')).toEqual({
      '14.0.0': 'not in versions ">=15.0.0" (charts.overrides.nginx)',
      '15.0.0': 'not among the latest 1 in semver order (charts.overrides.nginx)',
    });
  });

  it('do not bring back a chart that charts.exclude leaves out', () => {
    const sel = { exclude: ['nginx'], overrides: { nginx: { prereleases: true, deprecated: 'include' as const } } };
    expect(kept(sel, ['1.0.0'], 'nginx')).toEqual([]);
  });

  it('an override for a chart the index lacks, or an include matching nothing, is a warning', () => {
    const s = new Selector(selection({ include: ['ngnix', 'redis*'], overrides: { ngnix: { prereleases: true, deprecated: 'include' } } }));
    expect(s.unmatched(['nginx', 'redis'], 'source bitnami')).toEqual([
      'source bitnami: charts.include "ngnix" matches no chart in the index',
      'source bitnami: charts.overrides.ngnix names no chart in the index',
    ]);
    expect(new Selector(selection({ include: ['*'] })).unmatched(['a'], 'x')).toEqual([]);
  });

  it('an override named like an Object.prototype key is not inherited', () => {
    expect(kept({ latest: 1 }, ['1.0.0', '2.0.0'], 'constructor')).toEqual(['2.0.0']);
  });
});

describe('top-level defaults vs per-source selection (as config loading resolves them)', () => {
  const twoSources = `
versions: ">=1.0.0"
latest: 5
prereleases: false
since: 2024-01-01
charts:
  exclude: ["*-legacy"]
  overrides:
    nginx: {latest: 3}
sources:
  - name: a
    url: https://a.example.com
  - name: b
    url: https://b.example.com
    latest: 2
    prereleases: true
    deprecated: skip
    charts:
      include: ["nginx", "redis*"]
`;

  it('a source without its own keys takes the top-level ones', () => {
    const a = configSelection(twoSources, 0);
    expect(a).toMatchObject({ versions: '>=1.0.0', latest: 5, prereleases: false, deprecated: 'include', exclude: ['*-legacy'] });
    expect(a.since?.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    // An override fills what it leaves out from the source's resolved rules.
    expect(a.overrides.nginx).toMatchObject({ versions: '>=1.0.0', latest: 3, prereleases: false });
    expect(new Selector(a).chartDecision('api-legacy').selected).toBe(false);
  });

  it('a source key wins over the top-level one, key by key; `charts` is taken as a whole', () => {
    const b = configSelection(twoSources, 1);
    expect(b).toMatchObject({ versions: '>=1.0.0', latest: 2, prereleases: true, deprecated: 'skip', include: ['nginx', 'redis*'] });
    expect(b.exclude).toBeUndefined();
    expect(b.overrides).toEqual({});
  });

  it('defaults: everything, prereleases and deprecated versions included', () => {
    const s = configSelection('sources:\n  - name: a\n    url: https://a.example.com\n');
    expect(s).toEqual({ versions: undefined, latest: undefined, since: undefined, until: undefined, prereleases: true, deprecated: 'include', include: undefined, exclude: undefined, overrides: {} });
    expect(kept(s, ['1.0.0-rc.1', { version: '0.1.0', deprecated: true }, 'v2'])).toEqual(['1.0.0-rc.1', '0.1.0', 'v2']);
  });

  it('rejects an invalid date with the key path', () => {
    expect(() => configSelection('sources:\n  - name: a\n    url: https://a.example.com\n    until: "next tuesday"\n')).toThrow(/sources\[0\]\.until: "next tuesday" is not a date/);
  });
});
