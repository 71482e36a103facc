/**
 * Start-up: the commands that only read the config (`--version`, `validate`, `schema`) load
 * neither undici, openpgp, listr2 nor prom-client; each is loaded where it is first needed (a
 * request, a keyring or signature, a terminal, metrics asked for). How long start-up takes is measured by `npm run bench`,
 * not here.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';
import { run } from '../support/exec.js';
import { REPO_ROOT } from '../support/helm.js';
import { tmpDir } from '../support/tmp.js';

const HOOK = join(REPO_ROOT, 'test', 'fixtures', 'trace-imports.mjs');
const HEAVY = ['undici', 'openpgp', 'listr2', 'prom-client'];

async function packagesLoaded(args: string[], cwd: string): Promise<Set<string>> {
  const trace = join(cwd, `trace-${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(trace, '');
  const r = await run(process.execPath, ['--import', HOOK, CLI, ...args], { cwd, env: { ...process.env, TRACE_IMPORTS_FILE: trace, NO_COLOR: '1' } });
  expect(r.code, r.stderr).toBe(0);
  return new Set((await readFile(trace, 'utf8')).split('\n').filter(Boolean));
}

describe('start-up loads only what the command needs', () => {
  it('the tracer sees what a full run loads (so its silence below means something)', async () => {
    const dir = await tmpDir('startup-');
    await writeFile(join(dir, 'c.yaml'), `sources: [{name: ex, url: ${join(REPO_ROOT, 'examples', 'repo')}, verify: {keyring: ${join(REPO_ROOT, 'examples', 'keys', 'pubring.gpg')}}}]\ntargets: [{name: reg, url: "oci://127.0.0.1:9/x", plainHttp: true}]\nhttp: {retries: {attempts: 1}}\n`);
    // A registry that refuses connections: the run fails, but it had to load undici and openpgp to get there.
    const trace = join(dir, 'trace.txt');
    await writeFile(trace, '');
    await run(process.execPath, ['--import', HOOK, CLI, 'sync', '--config', 'c.yaml', '--quiet', '--metrics-file', 'm.prom'], { cwd: dir, env: { ...process.env, TRACE_IMPORTS_FILE: trace } });
    const loaded = new Set((await readFile(trace, 'utf8')).split('\n'));
    expect(loaded.has('undici')).toBe(true);
    expect(loaded.has('openpgp')).toBe(true);
    expect(loaded.has('prom-client')).toBe(true);
    expect(loaded.has('yargs')).toBe(true);
  });

  for (const args of [['--version'], ['schema'], ['validate', '--config', 'c.yaml'], ['--help']]) {
    it(`chartmirror ${args.join(' ')} loads none of ${HEAVY.join(', ')}`, async () => {
      const dir = await tmpDir('startup-');
      await writeFile(join(dir, 'c.yaml'), 'sources: [{name: ex, url: ./repo}]\ntargets: [{name: disk, layout: ./out}]\n');
      const loaded = await packagesLoaded(args, dir);
      expect(loaded.has('yargs')).toBe(true);
      for (const pkg of HEAVY) expect(loaded.has(pkg), `${pkg} was loaded`).toBe(false);
    });
  }

  it('validate loads openpgp only when the config names a keyring', async () => {
    const dir = await tmpDir('startup-');
    await writeFile(join(dir, 'c.yaml'), `sources: [{name: ex, url: ./repo, verify: {keyring: ${join(REPO_ROOT, 'examples', 'keys', 'pubring.gpg')}}}]\ntargets: [{name: disk, layout: ./out}]\n`);
    const loaded = await packagesLoaded(['validate', '--config', 'c.yaml'], dir);
    expect(loaded.has('openpgp')).toBe(true);
    expect(loaded.has('undici')).toBe(false);
  });

  it('a sync from files into a layout, with no terminal and no metrics, loads neither undici, listr2 nor prom-client', async () => {
    const dir = await tmpDir('startup-');
    await writeFile(join(dir, 'c.yaml'), `sources: [{name: ex, url: ${join(REPO_ROOT, 'examples', 'repo')}, verify: {provenance: ignore}}]\ntargets: [{name: disk, layout: ./out}]\n`);
    const loaded = await packagesLoaded(['sync', '--config', 'c.yaml'], dir);
    expect(loaded.has('undici')).toBe(false);
    expect(loaded.has('listr2')).toBe(false);
    expect(loaded.has('openpgp')).toBe(false);
    expect(loaded.has('prom-client')).toBe(false);
  });
});
