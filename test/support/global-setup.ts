import type { TestProject } from 'vitest/node';
import { ensureBuilt } from './build.js';
import { helmBinary } from './helm.js';

/**
 * vitest globalSetup: build dist/ when src/ changed (the integration tests run the built CLI) and
 * extract both helm binaries (no-op when .cache/helm already has them). In watch mode dist/ is
 * brought up to date before every rerun too.
 */
export default async function setup(project: TestProject): Promise<void> {
  await Promise.all([ensureBuilt(), helmBinary(3), helmBinary(4)]);
  project.onTestsRerun(async () => {
    await ensureBuilt();
  });
}
