/**
 * How a run handles images (images.enabled, unless --no-images): where each lands at each
 * target (images.repository under the target's path), how each image registry is reached
 * (registries.ts), and the pieces the planner and executor take.
 */
import type { MirrorConfig, TargetConfig } from '../config/load.js';
import { imageMaterializer } from '../images/materialize.js';
import { pathSafeRegistry } from '../images/reference.js';
import { joinRepository } from '../oci/reference.js';
import { registryConnection } from './registries.js';
import type { RunContext } from './context.js';
import { retryReporter } from './context.js';
import type { EventSink } from './events.js';
import type { ImageDestinations } from './image-jobs.js';
import { sourceMaterializer, type Materializer } from './materialize.js';
import type { PlanOptions } from './planner.js';

export function imagesOn(cfg: MirrorConfig, images: boolean | undefined): boolean {
  return cfg.images.enabled && images !== false;
}

export function imageDestinations(cfg: MirrorConfig, targets: readonly TargetConfig[]): ImageDestinations {
  return {
    destinations(ref, names) {
      const repo = cfg.images.repository.replaceAll('{registry}', pathSafeRegistry(ref.registry)).replaceAll('{repository}', ref.repository);
      return names.map((name) => {
        const t = targets.find((x) => x.name === name)!;
        // A digest-only image is pushed by digest: the digest stands in for the tag.
        return { target: name, repository: t.kind === 'registry' ? joinRepository(t.basePath, repo) : repo, tag: ref.tag ?? ref.digest! };
      });
    },
  };
}

/** The one materializer of a run: charts from classic and oci:// sources, and (when on) images. */
export function runMaterializer(cfg: MirrorConfig, ctx: RunContext, images: boolean, emit: EventSink = () => undefined): Materializer {
  const sources = new Map(cfg.sources.filter((s) => s.kind === 'classic').map((s) => [s.name, { config: s, repo: ctx.repositories.get(s.name)! }]));
  const on = imagesOn(cfg, images);
  return sourceMaterializer({
    sources,
    ociSources: ctx.ociSources,
    keyrings: ctx.keyrings,
    budget: ctx.budget,
    maxArchiveBytes: cfg.limits.archiveBytes,
    ...(on
      ? {
          images: cfg.images,
          imageCopy: imageMaterializer({
            connector: ctx.connector,
            connection: registryConnection(cfg),
            platforms: cfg.images.platforms,
            retry: cfg.retry,
            onRetry: retryReporter('images', emit),
          }),
        }
      : {}),
  });
}

/** What the planner takes for images: where they land, extras, and (for plans to show) how to find them. */
export function imagePlanOptions(
  cfg: MirrorConfig,
  ctx: RunContext,
  targets: readonly TargetConfig[],
  opts: { images: boolean | undefined; discover: boolean; materialize: Materializer },
): Pick<PlanOptions, 'imageJobs' | 'imageSizes'> {
  if (!imagesOn(cfg, opts.images)) return {};
  const connection = registryConnection(cfg);
  return {
    imageJobs: {
      destinations: imageDestinations(cfg, targets),
      extra: cfg.images.extra,
      ...(opts.discover ? { discover: opts.materialize } : {}),
    },
    imageSizes: { client: (registry) => ctx.connector.client(connection(registry)), platforms: cfg.images.platforms, retry: cfg.retry },
  };
}
