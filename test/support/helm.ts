import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { run } from './exec.js';
import { tmpDir } from './tmp.js';

export type HelmMajor = 3 | 4;

/** The project root (this file is test/support/helm.ts; the benchmark runs a compiled copy elsewhere). */
export const REPO_ROOT = process.env.CHARTMIRROR_REPO_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** scripts/helm.mjs: the Helm builds and their extraction, shared with the repository's scripts. */
const shared = (await import(pathToFileURL(join(REPO_ROOT, 'scripts', 'helm.mjs')).href)) as {
  HELM_BUILDS: Record<HelmMajor, { version: string; pkg: string }>;
  helmCachePath(major: HelmMajor): string;
  helmBinary(major: HelmMajor): Promise<string>;
};

/** The exact Helm builds the tests use, and the devDependency whose lib/layer.zip carries each. */
export const HELM_BUILDS = shared.HELM_BUILDS;

/** Where helmBinary() keeps the extracted binary: <repo>/.cache/helm/<version>/helm. */
export const helmCachePath = shared.helmCachePath;

const pending = new Map<HelmMajor, Promise<string>>();

/**
 * Path of the extracted helm binary (3.17.3 or 4.1.4). Extracted once into .cache/helm/<version>/helm
 * (normally by global-setup.ts), once per process however many callers ask at the same time.
 */
export function helmBinary(major: HelmMajor): Promise<string> {
  let p = pending.get(major);
  if (!p) {
    p = shared.helmBinary(major);
    pending.set(major, p);
    p.catch(() => pending.delete(major));
  }
  return p;
}

export interface HelmRunOptions {
  /** Holds HELM_CONFIG_HOME (config/), HELM_CACHE_HOME (cache/), HELM_DATA_HOME (data/), DOCKER_CONFIG (docker/)
   *  and HOME. Created if missing. Default: a fresh temporary directory for this one call, so pass the same
   *  `home` to calls that share state (registry login then push, repo add then pull). */
  home?: string;
  cwd?: string;
  /** Extra environment, applied last. */
  env?: Record<string, string>;
  input?: string;
  /** Kill helm after this long (default 120 s); the result then has code 124. */
  timeoutMs?: number;
}

/** Environment variables that would leak the developer's own setup into a test run. */
const SCRUBBED = /^(HELM_|KUBECONFIG$|DOCKER_|REGISTRY_AUTH_FILE$|XDG_|HTTPS?_PROXY$|ALL_PROXY$|NO_PROXY$)/i;

/** Environment for an isolated helm (exported for tests that spawn helm themselves). */
export async function helmEnv(home: string, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const dirs = { config: join(home, 'config'), cache: join(home, 'cache'), data: join(home, 'data'), docker: join(home, 'docker') };
  await Promise.all(Object.values(dirs).map((d) => mkdir(d, { recursive: true })));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!SCRUBBED.test(k)) env[k] = v;
  Object.assign(env, {
    HOME: home,
    TZ: 'UTC',
    HELM_CONFIG_HOME: dirs.config,
    HELM_CACHE_HOME: dirs.cache,
    HELM_DATA_HOME: dirs.data,
    DOCKER_CONFIG: dirs.docker,
    NO_PROXY: '127.0.0.1,localhost,::1',
    KUBECONFIG: join(home, 'kubeconfig-none'),
  }, extra);
  return env;
}

/**
 * Runs helm with an isolated HELM_CONFIG_HOME/HELM_CACHE_HOME/HELM_DATA_HOME (under `home`), TZ=UTC.
 * Never throws on a non-zero exit.
 */
export async function runHelm(
  major: HelmMajor,
  args: string[],
  opts: HelmRunOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [bin, home] = await Promise.all([helmBinary(major), opts.home ?? tmpDir('helm-home-')]);
  const env = await helmEnv(home, opts.env);
  return run(bin, args, { cwd: opts.cwd, env, input: opts.input, timeoutMs: opts.timeoutMs });
}
