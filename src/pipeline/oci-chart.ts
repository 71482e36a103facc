/**
 * A chart in an OCI registry, read and verified before anything is copied: the manifest must
 * be a Helm chart's (Helm's config media type, one chart layer of the current or the legacy
 * type), the chart layer must load by Helm's rules and name the repository's chart and the tag's
 * version, and the provenance layer passes `verify.provenance`. Every byte is checked against
 * its digest while it is read. Nothing is rebuilt: the copy keeps the source's manifest digest.
 */
import { ChartMirrorError } from '../errors.js';
import { LIMITS } from '../defaults.js';
import type { BudgetLease } from '../util/byte-budget.js';
import { loadChartArchive, type LoadedChart } from '../chart/archive.js';
import { checkProvenance } from '../chart/provenance.js';
import type { Keyring, ProvenanceMode } from '../chart/provenance-types.js';
import { parseManifest, type ParsedManifest } from '../content/graph.js';
import { MemoryStore } from '../content/memory.js';
import type { ReadOnlyStore } from '../content/store.js';
import { readVerified } from '../content/verify.js';
import type { Descriptor } from '../oci/descriptor.js';
import {
  ANNOTATION_CREATED,
  HELM_CHART_MEDIA_TYPE,
  HELM_CONFIG_MEDIA_TYPE,
  HELM_PROV_MEDIA_TYPE,
  LEGACY_CHART_MEDIA_TYPE,
  isIndexMediaType,
} from '../oci/media-types.js';
import type { ItemResult } from './events.js';

const CHART_LAYER_TYPES = [HELM_CHART_MEDIA_TYPE, LEGACY_CHART_MEDIA_TYPE];

function chartLayers(m: ParsedManifest): Descriptor[] {
  return m.layers.filter((l) => CHART_LAYER_TYPES.includes(l.mediaType));
}

async function read(store: ReadOnlyStore, d: Descriptor, max: number, what: string, signal?: AbortSignal): Promise<Buffer> {
  return readVerified(await store.fetch(d, signal), d, max, what);
}

export interface OciChartSummary {
  digest: string;
  created?: string;
  /** Size of the chart layer. */
  chartSize?: number;
  deprecated?: boolean;
}

/**
 * What a plan needs to know of a tag without copying it: its digest, `created` annotation and
 * chart layer size (and, with `config`, whether Chart.yaml says deprecated). Undefined when
 * the tag is gone; a manifest that is not a chart says nothing more than its digest here (the
 * copy refuses it with the reason).
 */
export async function describeOciChart(store: ReadOnlyStore, tag: string, opts: { config?: boolean; signal?: AbortSignal } = {}): Promise<OciChartSummary | undefined> {
  const d = await store.resolve(tag, opts.signal);
  if (!d) return undefined;
  if (isIndexMediaType(d.mediaType)) return { digest: d.digest };
  let m: ParsedManifest;
  try {
    m = parseManifest(await read(store, d, LIMITS.manifestBytes, 'manifest', opts.signal), d.mediaType);
  } catch {
    return { digest: d.digest };
  }
  const out: OciChartSummary = { digest: d.digest };
  const created = m.annotations[ANNOTATION_CREATED];
  if (typeof created === 'string') out.created = created;
  const layer = chartLayers(m)[0];
  if (layer) out.chartSize = layer.size;
  if (opts.config && m.config?.mediaType === HELM_CONFIG_MEDIA_TYPE) {
    try {
      const cfg = JSON.parse((await read(store, m.config, LIMITS.manifestBytes, 'config', opts.signal)).toString('utf8')) as { deprecated?: unknown };
      if (cfg.deprecated === true) out.deprecated = true;
    } catch {
      // Not this function's to judge: the copy checks the config.
    }
  }
  return out;
}

export interface VerifiedOciChart {
  /** The chart's manifest, config and layers, verified, ready to copy from. */
  store: MemoryStore;
  manifest: Descriptor;
  parsed: ParsedManifest;
  chartLayer: Descriptor;
  provenance: NonNullable<ItemResult['provenance']>;
  warnings: string[];
  /** The chart as Helm loads it, and its archive. */
  chart: LoadedChart;
  archive: Buffer;
}

function refuse(reason: string): never {
  throw new ChartMirrorError('CHART', reason);
}

/** Read a chart version from its repository, verify all of it, and hold it in memory. */
export async function fetchVerifiedOciChart(
  src: ReadOnlyStore,
  want: { chart: string; version: string; tag: string; digest?: string },
  verify: { mode: ProvenanceMode; keyring?: Keyring },
  signal?: AbortSignal,
  hold?: { lease?: BudgetLease; maxArchiveBytes?: number; keepFiles?: boolean },
): Promise<VerifiedOciChart> {
  const manifest = await src.resolve(want.digest ?? want.tag, signal);
  if (!manifest) throw new ChartMirrorError('NOT_FOUND', `${src.display}:${want.tag} is no longer there${want.digest ? ` (as ${want.digest})` : ''}`);
  if (isIndexMediaType(manifest.mediaType)) refuse(`not a Helm chart: ${want.tag} is an image index, not a chart manifest`);
  const store = new MemoryStore(`${want.chart} ${want.version}`);
  const manifestBytes = await read(src, manifest, LIMITS.manifestBytes, 'manifest', signal);
  store.add(manifest.mediaType, manifestBytes);
  const parsed = parseManifest(manifestBytes, manifest.mediaType, `manifest ${manifest.digest}`);
  const config = parsed.config!;
  if (config.mediaType !== HELM_CONFIG_MEDIA_TYPE) refuse(`not a Helm chart: its config is ${config.mediaType}, not ${HELM_CONFIG_MEDIA_TYPE}`);
  const layers = chartLayers(parsed);
  if (layers.length === 0) refuse(`not a Helm chart: no layer of type ${HELM_CHART_MEDIA_TYPE} (or the legacy ${LEGACY_CHART_MEDIA_TYPE})`);
  if (layers.length > 1) refuse(`not a Helm chart Helm can pull: ${layers.length} chart layers`);
  const chartLayer = layers[0]!;
  const warnings: string[] = [];
  if (chartLayer.mediaType === LEGACY_CHART_MEDIA_TYPE) {
    warnings.push(`the chart layer has the legacy media type ${LEGACY_CHART_MEDIA_TYPE} (an old Helm pushed it); copied as it is, Helm pulls it with a deprecation warning`);
  }

  const configBytes = await read(src, config, LIMITS.manifestBytes, 'config', signal);
  try {
    const doc = JSON.parse(configBytes.toString('utf8')) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
  } catch {
    refuse('not a Helm chart: its config blob is not a JSON object');
  }
  store.add(config.mediaType, configBytes);

  const maxArchive = hold?.maxArchiveBytes ?? LIMITS.archiveBytes;
  if (chartLayer.size <= maxArchive) await hold?.lease?.ensure(chartLayer.size, signal);
  const archive = await read(src, chartLayer, maxArchive, 'chart layer', signal);
  store.add(chartLayer.mediaType, archive);
  const chart = await loadChartArchive(archive, { keepFiles: hold?.keepFiles ?? true });
  const md = chart.metadata;
  if (md.name !== want.chart) refuse(`Chart.yaml name "${md.name}" does not match the repository name "${want.chart}"`);
  if (md.version !== want.version) refuse(`Chart.yaml version "${md.version}" does not match the tag "${want.tag}"`);

  const provLayer = parsed.layers.find((l) => l.mediaType === HELM_PROV_MEDIA_TYPE);
  let provenance: VerifiedOciChart['provenance'] = 'ignored';
  if (verify.mode !== 'ignore') {
    const prov = provLayer ? await read(src, provLayer, LIMITS.provenanceBytes, 'provenance layer', signal) : undefined;
    if (prov) store.add(provLayer!.mediaType, prov);
    const r = await checkProvenance({
      mode: verify.mode,
      prov,
      archiveSha256: chartLayer.digest.slice('sha256:'.length),
      // `helm pull --verify` saves the chart as <name>-<version>.tgz and looks that name up.
      archiveFileName: `${md.name}-${md.version}.tgz`,
      chartName: md.name ?? want.chart,
      chartVersion: md.version ?? want.version,
      keyring: verify.keyring,
    });
    provenance = r.status;
    warnings.push(...r.warnings);
  }
  return { store, manifest, parsed, chartLayer, provenance, warnings, chart, archive };
}
