/**
 * `discover: render`: run `helm template` on a chart (the configured Helm binary, the chart's
 * own values plus the configured values files) and read the image of every container of every
 * pod spec it renders: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob.
 * Operators that create pods at run time are not seen (a limit every renderer has).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ChartMirrorError } from '../errors.js';

/** helm template output read at most (a chart renders to a few hundred KiB). */
const MAX_OUTPUT = 64 * 1024 * 1024;
const TIMEOUT_MS = 120_000;

const POD_SPECS: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export async function renderImages(archive: Uint8Array, opts: { helm: string; values: readonly string[]; signal?: AbortSignal }): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'chartmirror-render-'));
  try {
    const chart = join(dir, 'chart.tgz');
    await writeFile(chart, archive);
    const args = ['template', 'chartmirror-render', chart, ...opts.values.flatMap((v) => ['--values', v])];
    const out = await run(opts.helm, args, dir, opts.signal);
    const images: string[] = [];
    yaml.loadAll(out, (doc) => {
      const d = doc as { kind?: unknown } | null;
      const path = d && typeof d.kind === 'string' ? POD_SPECS[d.kind] : undefined;
      if (!path) return;
      let spec: unknown = d;
      for (const k of path) spec = spec && typeof spec === 'object' ? (spec as Record<string, unknown>)[k] : undefined;
      if (!spec || typeof spec !== 'object') return;
      for (const field of ['containers', 'initContainers', 'ephemeralContainers']) {
        const list = (spec as Record<string, unknown>)[field];
        if (!Array.isArray(list)) continue;
        for (const c of list) if (c && typeof c === 'object' && typeof (c as { image?: unknown }).image === 'string') images.push((c as { image: string }).image);
      }
    }, { json: true });
    return images;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** helm with a home of its own (no user repositories, plugins or registry logins). */
function run(helm: string, args: string[], home: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data') };
    const child = spawn(helm, args, { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'], signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_OUTPUT) child.kill('SIGKILL');
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.length < 64 && err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ChartMirrorError('CHART', `helm template: cannot run ${helm}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && size <= MAX_OUTPUT) return resolve(Buffer.concat(out).toString('utf8'));
      const why = size > MAX_OUTPUT ? `more than ${MAX_OUTPUT} bytes of output` : Buffer.concat(err).toString('utf8').trim().split('\n').pop() || `exit ${code}`;
      reject(new ChartMirrorError('CHART', `helm template failed: ${why}`));
    });
  });
}
