import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { IN_CI } from './bins.js';
import { REPO_ROOT } from './helm.js';

/**
 * Helm's own test vectors (a copy of helm/helm's pkg testdata, never committed here): by default
 * `<repo>/../shared/helm-testdata`; CHARTMIRROR_HELM_TESTDATA points elsewhere (e.g. from a worktree).
 */
export const HELM_TESTDATA: string = resolve(process.env.CHARTMIRROR_HELM_TESTDATA || join(REPO_ROOT, '..', 'shared', 'helm-testdata'));

let noticed = false;

/**
 * HELM_TESTDATA when it exists, else undefined. Same semantics as requireBinary(): with CI=true a
 * missing directory throws (naming it and the override); otherwise ONE visible notice goes to
 * stderr and the caller skips. A directory that is there but incomplete is not skipped: the
 * tests reading it fail.
 */
export function requireTestdata(): string | undefined {
  if (existsSync(HELM_TESTDATA)) return HELM_TESTDATA;
  const message = `Helm's test vectors not found at ${HELM_TESTDATA} (default <repo>/../shared/helm-testdata; set CHARTMIRROR_HELM_TESTDATA to point elsewhere)`;
  if (IN_CI) throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  if (!noticed) {
    noticed = true;
    process.stderr.write(`\n[chartmirror tests] SKIPPING: ${message}\n`);
  }
  return undefined;
}

/** For use in describe blocks: `describe.skipIf(!haveTestdata())(...)`, same CI semantics. */
export function haveTestdata(): boolean {
  return requireTestdata() !== undefined;
}
