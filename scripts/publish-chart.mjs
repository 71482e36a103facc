#!/usr/bin/env node
// npm run chart:publish -- oci://HOST/PATH [--plain-http] [--ca-file FILE] [--dry-run] [--keep]
//
// Publishes chartmirror's own Helm chart (deploy/chart) the way chartmirror's users publish
// theirs: Helm packages it into a classic repository directory (helm package, helm repo index),
// and chartmirror (dist/, as built by npm ci or npm run build) mirrors that directory into the
// registry. The chart lands at PATH/chartmirror:<version>, as `helm push` would put it.
//
// Credentials: CHART_REGISTRY_USERNAME and CHART_REGISTRY_PASSWORD when both are set (read by
// chartmirror from the environment; they are never written to a file), else whatever
// `helm registry login` or `docker login` stored for the host.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { helmBinary, REPO_ROOT } from './helm.mjs';

const USAGE = 'usage: npm run chart:publish -- oci://HOST/PATH [--plain-http] [--ca-file FILE] [--dry-run] [--keep]';
const CHART_DIR = join(REPO_ROOT, 'deploy', 'chart');
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

class PublishError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** Stops the script with one message and an exit code (2: a usage error, 1: a failed step). */
function fail(message, code = 2) {
  throw new PublishError(message, code);
}

/** Runs a command; resolves with its exit code (stdout and stderr go to ours, or are captured). */
function run(command, args, { env = process.env, capture = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'] });
    let out = '';
    if (capture) {
      child.stdout.on('data', (b) => (out += b));
      child.stderr.on('data', (b) => (out += b));
    }
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), out }));
  });
}

async function helm(bin, args, helmHome) {
  const env = {
    ...process.env,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  const r = await run(bin, args, { env, capture: true });
  if (r.code !== 0) fail(`helm ${args.join(' ')} exited ${r.code}:\n${r.out.trim()}`, 1);
  return r.out;
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        'plain-http': { type: 'boolean', default: false },
        'ca-file': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    fail(`${e.message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1 || !/^oci:\/\/[^/]+(\/.*)?$/.test(positionals[0])) fail(`name one target, oci://HOST/PATH\n${USAGE}`);
  const target = positionals[0].replace(/\/+$/, '');
  if (!existsSync(CLI)) fail(`${CLI} is missing: run npm ci (or npm run build) first`);

  const work = await mkdtemp(join(tmpdir(), 'chartmirror-publish-'));
  try {
    const bin = await helmBinary();
    const repo = join(work, 'repo');
    await mkdir(repo);
    await helm(bin, ['lint', '--strict', CHART_DIR], join(work, 'helm'));
    await helm(bin, ['package', CHART_DIR, '--destination', repo], join(work, 'helm'));
    await helm(bin, ['repo', 'index', repo], join(work, 'helm'));
    const [archive] = (await readdir(repo)).filter((f) => f.endsWith('.tgz'));
    process.stderr.write(`chart:publish: packaged ${archive} into a repository directory; mirroring it to ${target}\n`);

    const destination = { name: 'target', url: target };
    if (values['plain-http']) destination.plainHttp = true;
    if (values['ca-file']) destination.tls = { ca: resolve(values['ca-file']) };
    if (process.env.CHART_REGISTRY_USERNAME && process.env.CHART_REGISTRY_PASSWORD) {
      destination.auth = { username: '${CHART_REGISTRY_USERNAME}', password: '${CHART_REGISTRY_PASSWORD}' };
    }
    const config = join(work, 'publish.config.yaml');
    await writeFile(config, yaml.dump({ sources: [{ name: 'chartmirror', url: pathToFileURL(repo).href }], targets: [destination] }));

    const report = join(work, 'report.json');
    const args = [CLI, values['dry-run'] ? 'plan' : 'sync', '--config', config, '--state', join(work, 'state'), '--report', report];
    const { code } = await run(process.execPath, args);
    if (!values['dry-run'] && existsSync(report)) {
      const { items } = JSON.parse(await readFile(report, 'utf8'));
      for (const i of items) {
        if (i.status === 'pushed' || i.status === 'present') process.stdout.write(`${i.status}: ${target}/${i.chart}:${i.tag} ${i.digest}\n`);
        // helm package stamps the time into the archive: a version is published once, then bumped.
        if (i.status === 'failed' && i.code === 'CONFLICT') {
          process.stderr.write(`chart:publish: ${i.chart} ${i.version} is already published with other content; published versions are not replaced: raise version in deploy/chart/Chart.yaml\n`);
        }
      }
    }
    return code;
  } finally {
    if (values.keep) process.stderr.write(`chart:publish: kept ${work}\n`);
    else await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`chart:publish: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof PublishError ? e.code : 1;
  },
);
