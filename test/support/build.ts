import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { run } from './exec.js';
import { REPO_ROOT } from './helm.js';

/** What dist/ was last built from (a hash of the compiler's inputs) and tsc's incremental state. */
const STATE_DIR = join(REPO_ROOT, '.cache', 'tsbuild');
const STAMP = join(STATE_DIR, 'dist.inputs');
const BUILD_INFO = join(STATE_DIR, 'dist.tsbuildinfo');
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

async function sources(dir = join(REPO_ROOT, 'src')): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else out.push(p);
  }
  return out.sort();
}

/** dist/ file for each src/ file (src/a/b.ts -> dist/a/b.js). */
function outputsOf(files: string[]): string[] {
  return files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => join(REPO_ROOT, 'dist', relative(join(REPO_ROOT, 'src'), f).replace(/\.ts$/, '.js')));
}

/**
 * Makes dist/ (what the integration tests run as `chartmirror`) match src/: a no-op when the
 * inputs hash to what dist/ was last built from, else an incremental `tsc -p tsconfig.build.json`.
 * So `npx vitest run test/x.test.ts` after an edit in src/ never runs stale code. Throws with
 * tsc's output when the build fails.
 */
export async function ensureBuilt(): Promise<void> {
  const require = createRequire(import.meta.url);
  const tscPackage = require.resolve('typescript/package.json');
  const files = await sources();
  const inputs = [...files, ...CONFIGS.map((c) => join(REPO_ROOT, c))];
  const hash = createHash('sha256');
  hash.update(`typescript ${(JSON.parse(await readFile(tscPackage, 'utf8')) as { version: string }).version}\n`);
  for (const f of inputs) hash.update(`${relative(REPO_ROOT, f)}\n`).update(await readFile(f)).update('\n');
  const key = hash.digest('hex');

  const outputs = outputsOf(files);
  const complete = outputs.every((o) => existsSync(o));
  const stamp = await readFile(STAMP, 'utf8').catch(() => undefined);
  if (complete && stamp === key) return;
  await mkdir(STATE_DIR, { recursive: true });
  // No stamp yet (a fresh clone, where `npm ci` just built dist/ in `prepare`): trust a dist/
  // that is newer than every input rather than build it a second time.
  if (complete && stamp === undefined) {
    const newestInput = Math.max(...inputs.map((f) => statSync(f).mtimeMs));
    const oldestOutput = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
    if (oldestOutput > newestInput) {
      await writeFile(STAMP, key);
      return;
    }
  }
  // tsc --incremental does not re-emit an output that was deleted: start over when one is missing.
  if (!complete) await rm(BUILD_INFO, { force: true });
  process.stderr.write('[chartmirror tests] dist/ is out of date with src/: building it (tsc -p tsconfig.build.json)\n');
  const tsc = join(dirname(tscPackage), 'bin', 'tsc');
  const r = await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', BUILD_INFO], {
    cwd: REPO_ROOT,
    timeoutMs: 300_000,
  });
  if (r.code !== 0) {
    await writeFile(STAMP, 'failed'); // tsc emits despite type errors: never trust that dist/ by its mtimes
    throw new Error(`building dist/ failed (tsc -p tsconfig.build.json exited ${r.code}); the tests would run stale code:\n${(r.stdout + r.stderr).trim()}`);
  }
  await pruneStale(files);
  await writeFile(STAMP, key);
}

/** Outputs of src/ files that are gone (moved or deleted): tsc never removes them. */
async function pruneStale(files: string[]): Promise<void> {
  const wanted = new Set(outputsOf(files).map((f) => f.replace(/\.js$/, '')));
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name);
      if (e.isDirectory()) out.push(...(await walk(p)));
      else out.push(p);
    }
    return out;
  };
  for (const f of await walk(join(REPO_ROOT, 'dist'))) {
    const base = f.replace(/(\.d\.ts|\.js)(\.map)?$/, '');
    if (!wanted.has(base)) await rm(f, { force: true });
  }
}
