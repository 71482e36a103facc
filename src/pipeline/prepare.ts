import { ChartMirrorError, errorMessage, isChartMirrorError } from '../errors.js';
import type { SourceConfig } from '../config/load.js';
import { loadChartArchive, type LoadedChart } from '../chart/archive.js';
import { checkProvenance, type Keyring } from '../chart/provenance.js';
import { buildChartArtifact, createdFromIndex, type ChartArtifact } from '../oci/artifact.js';
import type { IndexEntry } from '../source/index-file.js';
import type { ChartRepository } from '../source/repository.js';
import { archiveFileName, provenanceUrl } from '../source/resolve-url.js';
import { displayUrl } from '../http/redact-url.js';
import { sha256Digest } from '../util/digest.js';
import { LIMITS } from '../defaults.js';
import type { BudgetLease } from '../util/byte-budget.js';
import { tagForVersion } from '../oci/reference.js';
import { resolvePlainScalar } from '../helmcompat/goyaml.js';
import { formatFloat } from '../helmcompat/gostrconv.js';

/** A chart version fetched, verified and built, ready for every target. */
export interface PreparedChart {
  url: string;
  archive: Buffer;
  archiveDigest: string;
  provenance: 'ignored' | 'absent' | 'checked' | 'verified';
  warnings: string[];
  /** The artifact, with or without `mediaType` in the manifest body (per target). */
  artifact(manifestMediaType: boolean): ChartArtifact;
  /** The loaded chart (its files and subcharts, for image discovery). */
  chart: LoadedChart;
  /**
   * The tag `helm push` gives this archive when it is not the index version's: Chart.yaml's
   * version is a YAML number (`version: 1.10`, which Helm reads as 1.1) that the index quotes.
   */
  tag?: string;
}

/**
 * The version Helm reads from Chart.yaml when its text is `version` unquoted: YAML 1.1 makes
 * `1.10` the number 1.1, which sigs.k8s.io/yaml turns into the string "1.1". Undefined when the
 * text is no number (the same string then).
 */
export function versionAsYamlNumber(version: string): string | undefined {
  const v = resolvePlainScalar(version);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloat(v, 32);
  return undefined;
}

/**
 * Download the archive (each of `urls` in turn) and its .prov, verify everything that can be
 * verified, and build the helm-identical artifact. Throws with a reason that says which check
 * failed; nothing is pushed for a chart version that fails here.
 */
export async function prepareArtifact(
  source: SourceConfig,
  repo: ChartRepository,
  entry: IndexEntry,
  keyrings: Map<string, Keyring>,
  signal?: AbortSignal,
  lease?: BudgetLease,
  keepFiles = true,
): Promise<PreparedChart> {
  if (entry.urls.length === 0) {
    throw new ChartMirrorError('INDEX', 'the index lists no URLs for this version');
  }
  const mode = source.provenance.mode;
  // The .prov beside the first URL is fetched while the archive downloads (the usual case);
  // when the archive had to come from another URL, its own .prov is fetched after.
  const firstUrl = safeChartUrl(repo, entry.urls[0]!);
  const early = mode === 'ignore' || !firstUrl ? undefined : settle(repo.download(provenanceUrl(firstUrl), { what: 'provenance', signal }));
  let archiveDownload: { url: string; archive: Buffer };
  try {
    archiveDownload = await downloadArchive(repo, entry, signal, lease);
  } catch (e) {
    await early;
    throw e;
  }
  const { url, archive } = archiveDownload;
  const warnings: string[] = [];
  const archiveDigest = sha256Digest(archive);
  if (entry.urls.length > LIMITS.archiveUrls) warnings.push(`the index lists ${entry.urls.length} URLs for this version; ${untriedText(entry.urls.length - LIMITS.archiveUrls)}`);
  let prov: Buffer | undefined;
  if (mode !== 'ignore') {
    const got = url === firstUrl ? await early! : await settle(repo.download(provenanceUrl(url), { what: 'provenance', signal }));
    if (!got.ok) throw got.error;
    prov = got.value;
  }

  const chart = await loadChartArchive(archive, { keepFiles });
  const md = chart.metadata;
  if (md.name !== entry.name) {
    throw new ChartMirrorError('CHART', `Chart.yaml name "${md.name}" does not match the index name "${entry.name}"`);
  }
  let tag: string | undefined;
  if (md.version !== entry.version) {
    // The index quotes "1.10", Chart.yaml says `version: 1.10`: Helm reads 1.1 and `helm pull`
    // + `helm push` tags it 1.1. Do the same, and say so; any other difference is an error.
    if (md.version === undefined || versionAsYamlNumber(entry.version) !== md.version) {
      throw new ChartMirrorError('CHART', `Chart.yaml version "${md.version}" does not match the index version "${entry.version}"`);
    }
    tag = tagForVersion(md.version);
    warnings.push(
      `the index lists version "${entry.version}", but Chart.yaml's version is the YAML number ${entry.version}, which Helm reads as "${md.version}": ` +
        `mirrored with tag ${tag}, as helm pull + helm push would (quote the version in Chart.yaml to keep ${entry.version})`,
    );
  }

  let provenance: PreparedChart['provenance'] = 'ignored';
  if (mode !== 'ignore') {
    const keyring = source.provenance.keyring.length ? keyrings.get(JSON.stringify(source.provenance.keyring)) : undefined;
    const result = await checkProvenance({
      mode,
      prov,
      archiveSha256: archiveDigest.slice('sha256:'.length),
      archiveFileName: archiveFileName(url),
      chartName: md.name ?? entry.name,
      chartVersion: md.version ?? entry.version,
      keyring,
    });
    provenance = result.status;
    warnings.push(...result.warnings);
  }

  const created = createdFromIndex(entry.created);
  const built = new Map<boolean, ChartArtifact>();
  return {
    chart,
    url,
    archive,
    archiveDigest,
    provenance,
    warnings,
    ...(tag ? { tag } : {}),
    artifact(manifestMediaType: boolean) {
      let a = built.get(manifestMediaType);
      if (!a) {
        a = buildChartArtifact({ chart, archive, provenance: mode === 'ignore' ? undefined : prov, created, manifestMediaType });
        built.set(manifestMediaType, a);
      }
      return a;
    },
  };
}

function safeChartUrl(repo: ChartRepository, ref: string): string | undefined {
  try {
    return repo.chartUrl(ref);
  } catch {
    return undefined;
  }
}

/** A promise that never rejects (so a download started early cannot go unhandled). */
function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/**
 * The first of `urls` that answers wins (Helm uses only the first; we fall back). A download
 * that does not match the index digest is fetched once more before it is called corrupt.
 */
async function downloadArchive(
  repo: ChartRepository,
  entry: IndexEntry,
  signal?: AbortSignal,
  lease?: BudgetLease,
): Promise<{ url: string; archive: Buffer }> {
  const failures: string[] = [];
  // Helm uses the first URL only; a few more are tried, never all of a list a source made long.
  const tried = entry.urls.slice(0, LIMITS.archiveUrls);
  const untried = entry.urls.length - tried.length;
  for (const ref of tried) {
    let url: string;
    try {
      url = repo.chartUrl(ref);
    } catch {
      failures.push(`"${ref}" is not a valid URL`);
      continue;
    }
    try {
      let archive = await repo.download(url, { what: 'archive', signal, lease });
      if (!archive) {
        failures.push(`GET ${displayUrl(url)}: 404 not found`);
        continue;
      }
      if (entry.digest && sha256Digest(archive) !== entry.digest) {
        archive = await repo.download(url, { what: 'archive', signal, lease });
        if (archive && sha256Digest(archive) !== entry.digest) {
          throw new ChartMirrorError(
            'DIGEST',
            `archive digest mismatch: ${displayUrl(url)} has ${sha256Digest(archive)}, the index says ${entry.digest}`,
          );
        }
        if (!archive) {
          failures.push(`GET ${displayUrl(url)}: 404 not found`);
          continue;
        }
      }
      return { url, archive };
    } catch (e) {
      if (isChartMirrorError(e) && (e.code === 'DIGEST' || e.code === 'ABORTED')) throw e;
      failures.push(errorMessage(e));
    }
  }
  const reason = failures.length === 1 ? failures[0]! : `${failures.join('; ')}`;
  throw new ChartMirrorError('DOWNLOAD', `download failed: ${reason}${untried ? `; ${untriedText(untried)}` : ''}`);
}

function untriedText(n: number): string {
  return `${n} more URL${n === 1 ? '' : 's'} in the index not tried (at most ${LIMITS.archiveUrls} are)`;
}
