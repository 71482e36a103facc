/**
 * Shared pieces of the registry-*.test.ts suites: a classic repository of crafted charts on disk
 * (no helm process per chart: these suites test the registry side), one `sync` run with its
 * report, and checks on what a user sees.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { expect } from 'vitest';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { chartYaml, craftTgz } from '../support/craft.js';
import { runHelm } from '../support/helm.js';
import type { RunningRegistry } from '../support/registry.js';
import { tmpDir } from '../support/tmp.js';
import { sha256Hex } from '../../src/util/digest.js';

export interface CraftedChart {
  name: string;
  version: string;
  file: string;
  bytes: Buffer;
}

/**
 * `<name>-<version>.tgz` for each chart plus index.yaml, in `dir`. `padding` adds a file of that
 * many incompressible bytes (deterministic), for archives bigger than a chunk.
 */
export async function craftRepo(
  dir: string,
  charts: Array<[string, string]>,
  opts: { padding?: number } = {},
): Promise<CraftedChart[]> {
  await mkdir(dir, { recursive: true });
  const out: CraftedChart[] = [];
  const entries: Record<string, Array<Record<string, unknown>>> = {};
  for (const [name, version] of charts) {
    const files = [
      { name: `${name}/Chart.yaml`, data: chartYaml(name, version) },
      { name: `${name}/values.yaml`, data: 'replicas: 1\n' },
      {
        name: `${name}/templates/configmap.yaml`,
        data: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: "{{ .Values.replicas }}"\n',
      },
    ];
    if (opts.padding) files.push({ name: `${name}/padding.txt`, data: pseudoRandom(`${name}@${version}`, opts.padding) });
    const bytes = craftTgz(files);
    const file = `${name}-${version}.tgz`;
    await writeFile(join(dir, file), bytes);
    (entries[name] ??= []).push({
      apiVersion: 'v2',
      name,
      version,
      description: 'crafted',
      urls: [file],
      digest: sha256Hex(bytes),
      created: '2024-05-01T10:20:30Z',
    });
    out.push({ name, version, file, bytes });
  }
  await writeFile(join(dir, 'index.yaml'), yaml.dump({ apiVersion: 'v1', entries, generated: '2024-05-01T10:20:30Z' }));
  return out;
}

/** Hex text from a hash chain: gzip cannot shrink it much below half. */
function pseudoRandom(seed: string, size: number): string {
  let out = '';
  let block = createHash('sha256').update(seed).digest();
  while (out.length < size) {
    out += block.toString('hex');
    block = createHash('sha256').update(block).digest();
  }
  return out.slice(0, size);
}

export interface SyncRun {
  code: number;
  stdout: string;
  stderr: string;
  items: ReportItem[];
}

/**
 * `chartmirror sync` with a fresh state directory (the journal would otherwise answer without
 * asking the registry) and a report. The environment is isolated from the developer's: HOME is an
 * empty directory and the Helm/Docker config variables are blanked unless `env` sets them.
 */
export async function sync(config: unknown, opts: { env?: Record<string, string>; dir?: string } = {}): Promise<SyncRun> {
  const dir = opts.dir ?? (await tmpDir('cm-run-'));
  const file = await writeConfig(dir, config);
  const report = join(dir, 'report.json');
  const env = {
    HOME: await tmpDir('cm-home-'),
    HELM_REGISTRY_CONFIG: '',
    HELM_CONFIG_HOME: '',
    XDG_CONFIG_HOME: '',
    DOCKER_CONFIG: '',
    ...opts.env,
  };
  const run = await chartmirror(['sync', '--config', file, '--state', join(dir, 'state'), '--report', report], { env });
  let items: ReportItem[] = [];
  try {
    items = (JSON.parse(await readFile(report, 'utf8')) as { items: ReportItem[] }).items;
  } catch {
    // no report: the run failed before any work (config, index); callers check code and stderr
  }
  return { ...run, items };
}

/** Exit code, item statuses and stderr in one message, for expect(..., msg). */
export function explain(run: SyncRun): string {
  const items = run.items.map((i) => `${i.chart} ${i.version} ${i.target}: ${i.status}${i.reason ? ` (${i.reason})` : ''}`);
  return `exit ${run.code}\n${items.join('\n')}\n--- stderr ---\n${run.stderr}`;
}

export function expectAllPushed(run: SyncRun, count: number): void {
  expect(run.code, explain(run)).toBe(0);
  expect(run.items.length, explain(run)).toBe(count);
  for (const i of run.items) expect(i.status, explain(run)).toBe('pushed');
  // Node's own warnings (MaxListenersExceededWarning, deprecations) are noise on a user's terminal.
  expect(run.stderr).not.toMatch(/\(node:\d+\) \w*Warning/);
}

/** What a user sees on failure: no stack trace, none of the secrets. */
export function expectCleanFailure(run: SyncRun, secrets: string[] = []): void {
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stderr).not.toMatch(/Error: /);
  for (const s of secrets) {
    expect(run.stderr + run.stdout, 'a secret leaked').not.toContain(s);
    expect(JSON.stringify(run.items), 'a secret leaked into the report').not.toContain(s);
  }
}

/** `helm pull` (Helm 3) of what chartmirror pushed; returns the pulled archive's bytes. */
export async function helmPull(
  registry: RunningRegistry,
  ref: string,
  version: string,
  opts: { archive: string; login?: boolean },
): Promise<Buffer> {
  const home = await tmpDir('helm-pull-');
  const tlsArgs = registry.caFile ? ['--ca-file', registry.caFile] : ['--plain-http'];
  if (opts.login) {
    const login = ['registry', 'login', registry.host, '-u', registry.username!, '--password-stdin'];
    if (registry.caFile) login.push('--ca-file', registry.caFile);
    const r = await runHelm(3, login, { home, input: registry.password });
    expect(r.code, r.stderr).toBe(0);
  }
  const dest = await tmpDir('helm-pulled-');
  const pull = await runHelm(3, ['pull', ref, '--version', version, '-d', dest, ...tlsArgs], { home });
  expect(pull.code, pull.stderr).toBe(0);
  return readFile(join(dest, opts.archive));
}
