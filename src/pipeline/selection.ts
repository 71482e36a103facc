import semver from 'semver';
import type { Selection, VersionSelection } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { isStrictSemver } from '../helmcompat/semver.js';

export interface Candidate {
  version: string;
  /** The index `created` value, as written (RFC 3339). */
  created?: string;
  deprecated?: boolean;
}

export type Decision = { selected: true } | { selected: false; reason: string };

/** `*` and `?` globs on chart names, anchored; every other character is literal. */
export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/**
 * Helm accepts versions that SemVer 2 does not (`v1.2.3`, `1.2`, `01.2.3`); for ranges and
 * ordering they are read as Masterminds does: a leading `v` dropped, missing parts zero.
 */
export function comparableVersion(v: string): semver.SemVer | null {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return null;
  try {
    return new semver.SemVer(`${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}${m[4] ?? ''}${m[5] ?? ''}`, { loose: true });
  } catch {
    return null;
  }
}

/** SemVer 2 exactly (Masterminds StrictNewVersion): what Helm's tag resolution can see. */
export function isSemver2(v: string): boolean {
  return isStrictSemver(v);
}

/**
 * Newest first, in semver precedence; build metadata and then the raw string break ties, so
 * the order is total and stable. Versions that cannot be compared sort last.
 */
export function compareNewestFirst(a: string, b: string): number {
  const va = comparableVersion(a);
  const vb = comparableVersion(b);
  if (va && vb) return semver.compareBuild(vb, va) || (a < b ? 1 : a > b ? -1 : 0);
  if (va) return -1;
  if (vb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The instant an index `created` value names, in ms; NaN when it is not RFC 3339 (Go's
 * time.Time marshalling, which `helm repo index` writes). No local-time guessing: a value
 * without a zone is not an instant.
 */
export function createdTime(created: string | undefined): number {
  if (!created) return NaN;
  const m = RFC3339.exec(created.trim());
  if (!m) return NaN;
  // Date.parse handles any fraction length and offset once the shape is known to be RFC 3339.
  return Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${(m[7] ?? '').slice(0, 4)}${m[8]!.toUpperCase()}`);
}

/**
 * A `versions` range. Commas mean AND, as in Masterminds constraints (`>= 1.0.0, < 3.0.0`,
 * common in Helm docs); everything else is node-semver syntax, parsed strictly: loose parsing
 * silently drops what it cannot read (`>= 1.0.0, < 3.0.0` would become `<3.0.0`).
 * Undefined when the text is not a range.
 */
export function parseRange(text: string, includePrerelease: boolean): semver.Range | undefined {
  const normalised = text.replace(/,/g, ' ').trim();
  if (normalised === '' || semver.validRange(normalised) === null) return undefined;
  return new semver.Range(normalised, { includePrerelease });
}

function day(d: Date): string {
  const iso = d.toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.replace('.000Z', 'Z');
}

interface Rules extends VersionSelection {
  /** `charts.overrides.<name>` when these rules come from an override, for reasons. */
  origin?: string;
}

/**
 * Decide, per chart, which versions a selection keeps, and why the others are left out.
 *
 * Order of the rules: charts.include/exclude (exclude wins), then per version prereleases,
 * the `versions` range, deprecated and since/until, and last `latest` among the versions the
 * other rules kept, in semver order. `charts.overrides.<chart>` replaces the version rules for
 * that chart (config loading fills what an override leaves out from the source or top level).
 */
export class Selector {
  private readonly include?: { glob: string; re: RegExp }[];
  private readonly exclude: { glob: string; re: RegExp }[];
  private readonly baseRange?: semver.Range;
  private readonly overrideRanges = new Map<string, semver.Range>();

  /**
   * Throws a ConfigError naming `where` (e.g. `sources[0]`) for a `versions` that is not a
   * range; callers build Selectors right after loading the config, before any work.
   */
  constructor(
    private readonly sel: Selection,
    where = 'selection',
  ) {
    this.include = sel.include?.map((glob) => ({ glob, re: globToRegExp(glob) }));
    this.exclude = (sel.exclude ?? []).map((glob) => ({ glob, re: globToRegExp(glob) }));
    const range = (rules: VersionSelection, path: string): semver.Range | undefined => {
      if (rules.versions === undefined) return undefined;
      const r = parseRange(rules.versions, rules.prereleases);
      if (!r) throw new ConfigError(`${path}.versions: "${rules.versions}" is not a valid semver range (e.g. ">=1.0.0 <3.0.0")`);
      return r;
    };
    this.baseRange = range(sel, where);
    for (const [name, o] of Object.entries(sel.overrides)) {
      const r = range(o, `${where}.charts.overrides.${name}`);
      if (r) this.overrideRanges.set(name, r);
    }
  }

  chartDecision(chart: string): Decision {
    const ex = this.exclude.find((g) => g.re.test(chart));
    if (ex) return { selected: false, reason: `chart excluded by charts.exclude "${ex.glob}"` };
    if (this.include && !this.include.some((g) => g.re.test(chart))) {
      return { selected: false, reason: 'chart not in charts.include' };
    }
    return { selected: true };
  }

  private rulesFor(chart: string): Rules & { range?: semver.Range } {
    const o = Object.hasOwn(this.sel.overrides, chart) ? this.sel.overrides[chart] : undefined;
    if (o) return { ...o, origin: `charts.overrides.${chart}`, range: this.overrideRanges.get(chart) };
    return { ...this.sel, range: this.baseRange };
  }

  /** What deciding this chart's versions needs beyond the versions themselves. */
  needs(chart: string): { created: boolean; deprecated: boolean } {
    const rules = this.rulesFor(chart);
    return { created: Boolean(rules.since || rules.until), deprecated: rules.deprecated === 'skip' };
  }

  /**
   * Decisions for every version of one chart, in input order. `createdIn` names where the
   * created times come from, for reasons ("the index", "the manifest").
   */
  versionDecisions(chart: string, versions: readonly Candidate[], createdIn = 'the index'): Decision[] {
    const chartDecision = this.chartDecision(chart);
    if (!chartDecision.selected) return versions.map(() => chartDecision);
    const rules = this.rulesFor(chart);
    const from = rules.origin ? ` (${rules.origin})` : '';
    const also = rules.origin ? `, ${rules.origin}` : '';
    // prereleases: true widens a range to prereleases ("a migration takes everything");
    // false drops them before the range is looked at.
    const range = rules.range;
    const out: Decision[] = versions.map((c) => {
      const parsed = comparableVersion(c.version);
      if (!rules.prereleases && parsed && parsed.prerelease.length > 0) {
        return { selected: false, reason: `prerelease (prereleases: false${also})` };
      }
      if (range && (!parsed || !range.test(parsed))) return { selected: false, reason: `not in versions "${rules.versions}"${from}` };
      if (rules.deprecated === 'skip' && c.deprecated) return { selected: false, reason: `deprecated (deprecated: skip${also})` };
      if (rules.since || rules.until) {
        const t = createdTime(c.created);
        if (Number.isNaN(t)) {
          return { selected: false, reason: `no usable created time in ${createdIn} (needed by ${rules.since ? 'since' : 'until'})${from}` };
        }
        if (rules.since && t < rules.since.getTime()) {
          return { selected: false, reason: `created ${day(new Date(t))}, before since ${day(rules.since)}${from}` };
        }
        if (rules.until && t >= rules.until.getTime()) {
          return { selected: false, reason: `created ${day(new Date(t))}, not before until ${day(rules.until)}${from}` };
        }
      }
      return { selected: true };
    });
    if (rules.latest !== undefined) {
      const kept = versions
        .map((c, i) => ({ i, version: c.version }))
        .filter(({ i }) => out[i]!.selected)
        .sort((a, b) => compareNewestFirst(a.version, b.version));
      for (const { i } of kept.slice(rules.latest)) {
        out[i] = { selected: false, reason: `not among the latest ${rules.latest} in semver order${from}` };
      }
    }
    return out;
  }

  /**
   * Warnings for selection entries that name no chart of a source: an include glob that
   * matches nothing, an override for a chart the index does not have (usually a typo).
   */
  unmatched(charts: Iterable<string>, where: string, inWhat = 'the index'): string[] {
    const names = [...charts];
    const warnings: string[] = [];
    for (const g of this.include ?? []) {
      if (!names.some((n) => g.re.test(n))) warnings.push(`${where}: charts.include "${g.glob}" matches no chart in ${inWhat}`);
    }
    for (const name of Object.keys(this.sel.overrides)) {
      if (!names.includes(name)) warnings.push(`${where}: charts.overrides.${name} names no chart in ${inWhat}`);
    }
    return warnings;
  }
}

/** Every source's selection compiles (strict ranges): a ConfigError otherwise, before any network. */
export function checkSelections(cfg: { sources: { selection: Selection }[] }): void {
  cfg.sources.forEach((s, i) => new Selector(s.selection, `sources[${i}]`));
}
