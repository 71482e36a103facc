/**
 * Where a job's content comes from, as a store and a root to copy: a chart version from a
 * classic repository is downloaded, verified and built into an in-memory store (the manifest
 * `helm push` would make); a chart version in a bundle is already there.
 */
import type { ImagesConfig, SourceConfig } from '../config/load.js';
import { errorMessage } from '../errors.js';
import type { LoadedChart } from '../chart/archive.js';
import { discoverImages } from '../images/discover.js';
import type { Keyring } from '../chart/provenance-types.js';
import { MemoryStore } from '../content/memory.js';
import type { ReadOnlyStore } from '../content/store.js';
import type { ChartArtifact } from '../oci/artifact.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { ChartRepository } from '../source/repository.js';
import type { OciChartSource } from '../source/oci-source.js';
import { ChainedStore } from '../content/chained.js';
import { findReferrers, type Referrer } from '../content/referrers.js';
import { fetchVerifiedOciChart } from './oci-chart.js';
import type { FoundImage } from '../images/discover.js';
import type { ItemResult } from './events.js';
import type { PlanJob } from './plan.js';
import { prepareArtifact } from './prepare.js';
import type { BudgetLease, ByteBudget } from '../util/byte-budget.js';

export interface Materialized {
  store: ReadOnlyStore;
  /** The root to copy to a target that does (or does not) want `mediaType` in manifests. */
  root(manifestMediaType: boolean): Descriptor;
  /** sha256 of the chart archive, for the journal (a republished version is noticed). */
  archiveDigest?: string;
  /** What the results report about the job. */
  url?: string;
  provenance?: ItemResult['provenance'];
  archiveSize?: number;
  warnings: string[];
  /** Where the content lives in a registry: a destination on the same registry mounts from it. */
  origin?: { host: string; repository: string };
  /** Referrers of the root (signatures, SBOMs), copied after it, from `store`. */
  referrers?: { store: ReadOnlyStore; items: Referrer[] };
  /** Charts: the container images the chart uses (images.enabled). */
  images?: FoundImage[];
  /** Images: the digest at the source, when the copy's root differs (a platform subset). */
  sourceDigest?: string;
  /** Give back the memory the content holds (the executor calls it once every target is done). */
  release?(): void;
  /** Charts: the tag to push under when it is not the plan's (see PreparedChart.tag). */
  tag?: string;
}

/** Turns a job into content; each kind of origin has one. */
export type Materializer = (job: PlanJob, signal?: AbortSignal) => Promise<Materialized>;

/** Put a built chart artifact into a memory store; its manifest descriptor is the root. */
function intoStore(store: MemoryStore, a: ChartArtifact): Descriptor {
  for (const b of [a.config, ...a.layers]) store.add(b.descriptor.mediaType, b.bytes);
  return store.add(a.manifest.descriptor.mediaType, a.manifest.bytes);
}

/** What image discovery needs (images.enabled), or undefined when images are off. */
export type ImageDiscoverySettings = Pick<ImagesConfig, 'discover' | 'include' | 'exclude' | 'render'>;

/** The images a loaded chart uses; a renderer that fails is a warning, not a failed chart. */
async function chartImages(chart: LoadedChart, archive: Uint8Array, settings: ImageDiscoverySettings | undefined, signal?: AbortSignal): Promise<{ images?: FoundImage[]; warnings: string[] }> {
  if (!settings || !chart.tree) return { warnings: [] };
  const warnings: string[] = [];
  const discover = async (methods: ImagesConfig['discover']) =>
    discoverImages(chart.tree!, { discover: methods, include: settings.include, exclude: settings.exclude, render: { ...settings.render, archive, signal } });
  try {
    return { images: await discover(settings.discover), warnings };
  } catch (e) {
    if (!settings.discover.includes('render')) throw e;
    warnings.push(`images: ${errorMessage(e)}; found without rendering`);
    return { images: await discover(settings.discover.filter((m) => m !== 'render')), warnings };
  }
}

/** Chart versions listed in index.yaml files: download, verify, build. */
export function indexMaterializer(
  sources: Map<string, { config: SourceConfig; repo: ChartRepository }>,
  keyrings: Map<string, Keyring>,
  images?: ImageDiscoverySettings,
  budget?: ByteBudget,
): Materializer {
  return held(budget, async (job, signal, lease) => {
    if (job.origin.kind !== 'index') throw new Error(`index materializer given a ${job.origin.kind} job`);
    const { config, repo } = sources.get(job.source)!;
    const entry = { name: job.chart, version: job.version, urls: job.origin.urls, digest: job.origin.digest, created: job.origin.created, deprecated: false };
    const prepared = await prepareArtifact(config, repo, entry, keyrings, signal, lease, images !== undefined);
    const found = await chartImages(prepared.chart, prepared.archive, images, signal);
    const store = new MemoryStore(`${job.chart} ${job.version}`);
    const roots = new Map<boolean, Descriptor>();
    return {
      store,
      root(manifestMediaType) {
        let r = roots.get(manifestMediaType);
        if (!r) roots.set(manifestMediaType, (r = intoStore(store, prepared.artifact(manifestMediaType))));
        return r;
      },
      archiveDigest: prepared.archiveDigest,
      url: prepared.url,
      provenance: prepared.provenance,
      archiveSize: prepared.archive.length,
      warnings: [...prepared.warnings, ...found.warnings],
      ...(found.images ? { images: found.images } : {}),
      ...(prepared.tag ? { tag: prepared.tag } : {}),
    };
  });
}

/**
 * A materializer whose content counts against the run's memory budget: the lease is released
 * when the executor is done with the content, or at once when materializing fails.
 */
function held(budget: ByteBudget | undefined, make: (job: PlanJob, signal: AbortSignal | undefined, lease: BudgetLease | undefined) => Promise<Materialized>): Materializer {
  return async (job, signal) => {
    const lease = budget?.lease();
    try {
      const m = await make(job, signal, lease);
      return lease ? { ...m, release: () => lease.release() } : m;
    } catch (e) {
      lease?.release();
      throw e;
    }
  };
}

/**
 * Chart versions in an OCI registry: verified in memory (manifest, config, chart and .prov
 * layers), copied by digest; anything else the manifest names comes from the registry itself.
 */
export function ociMaterializer(
  sources: Map<string, OciChartSource>,
  keyrings: Map<string, Keyring>,
  images?: ImageDiscoverySettings,
  budget?: ByteBudget,
  maxArchiveBytes?: number,
): Materializer {
  return held(budget, async (job, signal, lease) => {
    if (job.origin.kind !== 'oci') throw new Error(`oci materializer given a ${job.origin.kind} job`);
    const oci = sources.get(job.source)!;
    const verify = oci.config.provenance;
    const keyring = verify.keyring.length ? keyrings.get(JSON.stringify(verify.keyring)) : undefined;
    const origin = oci.store(job.chart);
    const chart = await fetchVerifiedOciChart(
      origin,
      { chart: job.chart, version: job.version, tag: job.origin.tag, digest: job.origin.digest },
      { mode: verify.mode, keyring },
      signal,
      { lease, maxArchiveBytes, keepFiles: images !== undefined },
    );
    const referrers = oci.config.referrers ? await findReferrers(origin, chart.manifest, await oci.tags(job.chart, signal), signal) : [];
    const found = await chartImages(chart.chart, chart.archive, images, signal);
    return {
      store: new ChainedStore([chart.store, origin]),
      root: () => chart.manifest,
      archiveDigest: chart.chartLayer.digest,
      url: oci.reference(job.chart, { digest: chart.manifest.digest }),
      provenance: chart.provenance,
      archiveSize: chart.chartLayer.size,
      warnings: [...chart.warnings, ...found.warnings],
      ...(found.images ? { images: found.images } : {}),
      origin: { host: oci.client.host, repository: origin.repository },
      ...(referrers.length ? { referrers: { store: origin, items: referrers } } : {}),
    };
  });
}

/** One materializer for a run: charts from classic and oci:// sources, and container images. */
export function sourceMaterializer(ctx: {
  sources: Map<string, { config: SourceConfig; repo: ChartRepository }>;
  ociSources: Map<string, OciChartSource>;
  keyrings: Map<string, Keyring>;
  images?: ImageDiscoverySettings;
  imageCopy?: Materializer;
  /** Archive bytes all versions in flight may hold together. */
  budget?: ByteBudget;
  maxArchiveBytes?: number;
}): Materializer {
  const index = indexMaterializer(ctx.sources, ctx.keyrings, ctx.images, ctx.budget);
  const oci = ociMaterializer(ctx.ociSources, ctx.keyrings, ctx.images, ctx.budget, ctx.maxArchiveBytes);
  return (job, signal) => {
    if (job.origin.kind === 'oci') return oci(job, signal);
    if (job.origin.kind === 'image') {
      if (!ctx.imageCopy) throw new Error('an image job in a run without images');
      return ctx.imageCopy(job, signal);
    }
    return index(job, signal);
  };
}

/** Chart versions in a bundle: the bundle is the store, the manifest the root. */
export function bundleMaterializer(bundle: ReadOnlyStore): Materializer {
  return async (job) => {
    if (job.origin.kind !== 'bundle') throw new Error(`bundle materializer given a ${job.origin.kind} job`);
    const o = job.origin;
    return {
      store: bundle,
      root: () => o.manifest,
      archiveDigest: o.archiveDigest,
      url: o.url,
      provenance: o.provenance,
      archiveSize: o.archiveSize,
      warnings: [],
      ...(o.referrers?.length ? { referrers: { store: bundle, items: o.referrers } } : {}),
    };
  };
}
