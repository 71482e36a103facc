import semver from 'semver';
import { isStrictSemver } from '../chart/semver.js';
import type { Selection, VersionSelection } from '../config/load.js';

export interface Candidate {
  version: string;
  created?: string;
  deprecated?: boolean;
}

export type Decision = { selected: true } | { selected: false; reason: string };

/** `*` and `?` globs on chart names, anchored. */
export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/**
 * Helm accepts versions that SemVer 2 does not (`v1.2.3`, `1.2`); for ranges and ordering they
 * are read as Masterminds does: a leading `v` dropped and missing parts zero.
 */
export function comparableVersion(v: string): semver.SemVer | null {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return null;
  return semver.parse(`${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}${m[4] ?? ''}${m[5] ?? ''}`);
}

/** SemVer 2 exactly (Masterminds StrictNewVersion): what Helm's tag resolution can see. */
export function isSemver2(v: string): boolean {
  return isStrictSemver(v);
}

/** Decide, per chart, which versions a selection keeps, and why the others are left out. */
export class Selector {
  private readonly include?: RegExp[];
  private readonly exclude: RegExp[];

  constructor(private readonly sel: Selection) {
    this.include = sel.include?.map(globToRegExp);
    this.exclude = (sel.exclude ?? []).map(globToRegExp);
  }

  chartDecision(chart: string): Decision {
    if (this.exclude.some((r) => r.test(chart))) return { selected: false, reason: 'chart excluded by charts.exclude' };
    if (this.include && !this.include.some((r) => r.test(chart))) {
      return { selected: false, reason: 'chart not in charts.include' };
    }
    return { selected: true };
  }

  /** Decisions for every version of one chart, in input order. */
  versionDecisions(chart: string, versions: Candidate[]): Decision[] {
    const chartDecision = this.chartDecision(chart);
    if (!chartDecision.selected) return versions.map(() => chartDecision);
    const rules: VersionSelection = this.sel.overrides[chart] ?? this.sel;
    const range = rules.versions ? new semver.Range(rules.versions, { loose: true, includePrerelease: rules.prereleases }) : undefined;
    const out: Decision[] = versions.map((c) => {
      const parsed = comparableVersion(c.version);
      if (!rules.prereleases && parsed && parsed.prerelease.length > 0) return { selected: false, reason: 'prerelease (prereleases: false)' };
      if (range && (!parsed || !range.test(parsed))) return { selected: false, reason: `not in versions ${rules.versions}` };
      if (rules.deprecated === 'skip' && c.deprecated) return { selected: false, reason: 'deprecated (deprecated: skip)' };
      if (rules.since || rules.until) {
        const t = c.created ? Date.parse(c.created) : NaN;
        if (Number.isNaN(t)) return { selected: false, reason: 'no created date in the index (since/until)' };
        if (rules.since && t < rules.since.getTime()) return { selected: false, reason: `created before ${rules.since.toISOString().slice(0, 10)}` };
        if (rules.until && t >= rules.until.getTime()) return { selected: false, reason: `created on or after ${rules.until.toISOString().slice(0, 10)}` };
      }
      return { selected: true };
    });
    if (rules.latest !== undefined) {
      const kept = versions
        .map((c, i) => ({ i, v: comparableVersion(c.version) }))
        .filter(({ i }) => out[i]?.selected)
        .sort((a, b) => (a.v && b.v ? semver.rcompare(a.v, b.v) : a.v ? -1 : b.v ? 1 : 0));
      for (const { i } of kept.slice(rules.latest)) out[i] = { selected: false, reason: `not among the latest ${rules.latest}` };
    }
    return out;
  }
}
