import { helmBinary } from './helm.js';

/** vitest globalSetup: extract both helm binaries once (no-op when .cache/helm already has them). */
export default async function setup(): Promise<void> {
  await Promise.all([helmBinary(3), helmBinary(4)]);
}
