import type { ArtifactContent } from '../content/target.js';
import type { ChartArtifact } from './artifact.js';

/** A built chart artifact as content to copy: the config first, then the layers. */
export function artifactContent(a: ChartArtifact): ArtifactContent {
  return {
    manifest: a.manifest,
    blobs: [a.config, ...a.layers].map((b) => ({ descriptor: b.descriptor, bytes: b.bytes })),
  };
}
