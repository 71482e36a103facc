/**
 * How a run handles images (images.enabled, unless --no-images): where each lands at each
 * target (images.repository under the target's path), how each image registry is reached
 * (registries.<host>, else the settings of a source or target on that host, else HTTPS with
 * Helm's and Docker's credential stores), and the pieces the planner and executor take.
 */
import type { MirrorConfig, TargetConfig } from '../config/load.js';
import { DEFAULTS } from '../defaults.js';
import { imageMaterializer } from '../images/materialize.js';
import { pathSafeRegistry } from '../images/reference.js';
import { joinRepository } from '../oci/reference.js';
import type { RegistryConnection } from '../registry/connect.js';
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

export function imageConnection(cfg: MirrorConfig): (registry: string) => RegistryConnection {
  return (registry) => {
    const host = registry.toLowerCase();
    const r = cfg.registries.get(host);
    if (r) return { registry, plainHttp: r.plainHttp, auth: r.auth, tls: r.tls, connections: r.connections, requestsPerSecond: r.requestsPerSecond };
    const t = cfg.targets.find((x) => x.kind === 'registry' && x.host?.toLowerCase() === host);
    if (t) return { registry, plainHttp: t.plainHttp, auth: t.auth, tls: t.tls, connections: t.connections, requestsPerSecond: t.requestsPerSecond };
    const s = cfg.sources.find((x) => x.kind === 'oci' && x.registry?.toLowerCase() === host);
    if (s) return { registry, plainHttp: s.plainHttp, auth: s.auth, tls: s.tls, connections: s.connections };
    return { registry, plainHttp: false, connections: DEFAULTS.connections.registries };
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
    ...(on
      ? {
          images: cfg.images,
          imageCopy: imageMaterializer({
            connector: ctx.connector,
            connection: imageConnection(cfg),
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
  const connection = imageConnection(cfg);
  return {
    imageJobs: {
      destinations: imageDestinations(cfg, targets),
      extra: cfg.images.extra,
      ...(opts.discover ? { discover: opts.materialize } : {}),
    },
    imageSizes: { client: (registry) => ctx.connector.client(connection(registry)), platforms: cfg.images.platforms, retry: cfg.retry },
  };
}
