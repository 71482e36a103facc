import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { run, type RunResult } from './exec.js';
import { REPO_ROOT } from './helm.js';

/** The built CLI (the vitest global setup rebuilds dist/ when src/ changed: test/support/build.ts). */
export const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** The proxy variables chartmirror reads: a test that wants a proxy sets them itself, never the developer's shell. */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];

function withoutProxies(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of PROXY_VARIABLES) delete out[k];
  return out;
}

/** Run `chartmirror ...args` as a user would: a separate process, no terminal, no proxy unless `env` names one. */
export function chartmirror(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...withoutProxies(process.env), NO_COLOR: '1', ...opts.env },
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
}

/** Write a mirror.config.yaml from an object (or raw text) into dir; returns its path. */
export async function writeConfig(dir: string, config: unknown, name = 'mirror.config.yaml'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof config === 'string' ? config : yaml.dump(config));
  return file;
}

export interface ReportItem {
  source: string;
  chart: string;
  version: string;
  target: string;
  status: string;
  digest: string | null;
  reason: string | null;
  [k: string]: unknown;
}
