/**
 * Discovery: what each source offers, as chart versions with their origin. A classic source's
 * index is read (conditionally, from the index cache on a 304); an oci:// source's charts are
 * listed (charts.include, else the catalog) and their tags read. Any failure here is fatal
 * before work starts: a plan is only made from sources that were read.
 */
import PQueue from 'p-queue';
import { ConfigError, errorMessage } from '../errors.js';
import type { SourceConfig } from '../config/load.js';
import { parseReferrerTag } from '../content/referrers-tag.js';
import { parseIndex } from '../source/index-file.js';
import type { OciChartSource } from '../source/oci-source.js';
import type { ChartRepository } from '../source/repository.js';
import type { IndexCache } from './index-cache.js';
import type { JobOrigin } from './plan.js';
import { isSemver2, type Selector } from './selection.js';
import { describeOciChart } from './oci-chart.js';

/** One chart version a source offers. */
export interface ListedVersion {
  chart: string;
  version: string;
  /** RFC 3339, for since/until: the index `created`, or the manifest's `org.opencontainers.image.created`. */
  created?: string;
  deprecated: boolean;
  origin: JobOrigin;
}

export interface LoadedSource {
  source: SourceConfig;
  versions: ListedVersion[];
  /** Versions that fail as listed (an index entry Helm would drop). */
  problems: { chart: string; version: string; reason: string }[];
  /** Tags that are not versions (`latest`, `v1`): reported as excluded, with the reason. */
  excluded: { chart: string; version: string; reason: string }[];
  /** Chart names the source has (for warnings about include globs that match nothing). */
  charts: string[];
  /** Where charts were looked for, in warnings ("the index", "the registry"). */
  inWhat: string;
  /** Where since/until times come from, in reasons. */
  createdIn: string;
  warnings: string[];
  notModified: boolean;
  /** How long reading the listing took: the index (fetched or read), or the catalog and tag lists. */
  seconds: number;
  /** Keep this index and its validators for the next run's conditional fetch (runs that write only). */
  remember?: () => Promise<void>;
}

/** The absolute URL of a version's first archive URL (the one Helm uses), when it is one. */
export function archiveUrl(repo: ChartRepository, urls: readonly string[]): string | undefined {
  const ref = urls[0];
  if (ref === undefined) return undefined;
  try {
    return repo.chartUrl(ref);
  } catch {
    return undefined;
  }
}

export async function loadIndex(source: SourceConfig, repo: ChartRepository, cache: IndexCache, signal?: AbortSignal): Promise<LoadedSource> {
  const cached = repo.isLocal ? undefined : await cache.get(repo.indexUrl());
  let bytes: Buffer;
  let notModified = false;
  let remember: LoadedSource['remember'];
  const started = performance.now();
  let seconds: number;
  try {
    const fetched = await repo.fetchIndex(cached, signal);
    seconds = (performance.now() - started) / 1000;
    if (fetched.bytes) {
      const body = fetched.bytes;
      bytes = body;
      if (!repo.isLocal) remember = () => cache.put(fetched.url, fetched, body).catch(() => undefined);
    } else {
      bytes = cached!.bytes;
      notModified = true;
    }
  } catch (e) {
    throw new ConfigError(`sources.${source.name}: cannot read the index: ${errorMessage(e)}`, { cause: e });
  }
  let parsed;
  try {
    parsed = parseIndex(bytes, `source ${source.name}`);
  } catch (e) {
    throw new ConfigError(`sources.${source.name}: ${errorMessage(e)}`, { cause: e });
  }
  const versions: ListedVersion[] = parsed.entries.map((e) => {
    const url = archiveUrl(repo, e.urls);
    return {
      chart: e.name,
      version: e.version,
      created: e.created,
      deprecated: e.deprecated,
      origin: { kind: 'index', urls: e.urls, ...(url ? { url } : {}), ...(e.digest ? { digest: e.digest } : {}), ...(e.created ? { created: e.created } : {}) },
    };
  });
  return {
    source,
    versions,
    problems: parsed.problems,
    excluded: [],
    charts: [...new Set(parsed.entries.map((e) => e.name))],
    inWhat: 'the index',
    createdIn: 'the index',
    warnings: parsed.warnings.map((w) => `source ${source.name}: ${w}`),
    notModified,
    seconds,
    remember,
  };
}

/** Look-ups in flight per oci:// source while discovering (tag lists, manifests for since/until). */
const OCI_DISCOVERY_CONCURRENCY = 8;

/**
 * An oci:// source's chart versions: one tag listing per chart repository (and a manifest per
 * version only when since/until or `deprecated: skip` need what it says). Tags that are
 * referrers (`sha256-<hex>[.sig|.att|.sbom]`) are not versions; other tags that are not SemVer
 * versions are excluded with the reason.
 */
export async function loadOciSource(
  source: SourceConfig,
  oci: OciChartSource,
  selector: Selector,
  signal?: AbortSignal,
  owns: (chart: string) => boolean = () => true,
): Promise<LoadedSource> {
  const started = performance.now();
  const include = source.selection.include;
  const exact = include !== undefined && include.every((g) => !/[*?]/.test(g));
  const named = exact ? [...new Set(include)] : await oci.charts(signal);
  // Another shard's charts are listed by that shard; for the include warnings they count as found.
  const elsewhere = named.filter((chart) => !owns(chart));
  const versions: ListedVersion[] = [];
  const excluded: LoadedSource['excluded'] = [];
  const found: string[] = [];
  const queue = new PQueue({ concurrency: OCI_DISCOVERY_CONCURRENCY });
  const perChart = await Promise.all(
    named
      // Charts the selection leaves out (or another shard owns) cost no request.
      .filter((chart) => owns(chart) && selector.chartDecision(chart).selected)
      .map((chart) =>
        queue.add(async () => {
          let tags: string[];
          try {
            tags = await oci.tags(chart, signal);
          } catch (e) {
            throw new ConfigError(`sources.${source.name}: cannot list the tags of ${oci.reference(chart)}: ${errorMessage(e)}`, { cause: e });
          }
          return { chart, tags };
        }, { throwOnTimeout: true }),
      ),
  );
  // The listing is the catalog and the tag lists; manifests read for since/until are not.
  const seconds = (performance.now() - started) / 1000;
  for (const { chart, tags } of perChart) {
    const listed = tags.filter((t) => !parseReferrerTag(t));
    // A chart the registry does not have: the include entry is reported as matching nothing.
    if (listed.length === 0) continue;
    found.push(chart);
    const chartVersions: ListedVersion[] = [];
    for (const tag of listed.sort()) {
      const version = tag.split('_').join('+');
      if (!isSemver2(version)) {
        excluded.push({ chart, version: tag, reason: `tag "${tag}" is not a SemVer version` });
        continue;
      }
      chartVersions.push({
        chart,
        version,
        deprecated: false,
        origin: { kind: 'oci', registry: oci.registry, repository: oci.repositoryOf(chart), tag, url: oci.reference(chart, { tag }) },
      });
    }
    const needs = selector.needs(chart);
    if (needs.created || needs.deprecated) {
      await Promise.all(
        chartVersions.map((v) =>
          queue.add(async () => {
            const o = v.origin as Extract<JobOrigin, { kind: 'oci' }>;
            const d = await describeOciChart(oci.store(chart), o.tag, { config: needs.deprecated, signal });
            if (!d) return;
            o.digest = d.digest;
            if (d.chartSize !== undefined) o.size = d.chartSize;
            if (d.created) v.created = d.created;
            if (d.deprecated) v.deprecated = true;
          }),
        ),
      );
    }
    versions.push(...chartVersions);
  }
  return {
    source,
    versions,
    problems: [],
    excluded,
    charts: exact ? [...found, ...elsewhere] : named,
    inWhat: 'the registry',
    createdIn: 'the manifest',
    warnings: [],
    notModified: false,
    seconds,
  };
}
