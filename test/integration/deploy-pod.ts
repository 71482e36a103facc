/**
 * The deployment chart (deploy/chart) rendered by real Helm, and its CronJob's pod materialised in a
 * temporary directory and run for real: what a kubelet would do with the pod spec, minus the
 * container runtime. ConfigMaps and Secrets become files, emptyDirs and claims become directories,
 * the environment is built as Kubernetes builds it (envFrom, env, $(VAR) expansion,
 * JOB_COMPLETION_INDEX in Indexed Jobs), and the image's ENTRYPOINT (from the Dockerfile) runs as
 * `node dist/cli/main.js`. Absolute paths of the pod (in args, env values and the mounted config)
 * are rewritten to where their volume is materialised; a path in no volume is an error, because in
 * the pod it would be on the read-only root file system.
 */
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import yaml from 'js-yaml';
import { run, type RunResult } from '../support/exec.js';
import { CLI } from '../support/cli.js';
import { REPO_ROOT, runHelm, type HelmMajor } from '../support/helm.js';
import { tmpDir } from '../support/tmp.js';

export const CHART_DIR = join(REPO_ROOT, 'deploy', 'chart');

// Kubernetes objects, as far as the tests read them.
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  [k: string]: unknown;
}
export interface KeyToPath { key: string; path: string }
export interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean };
  secret?: { secretName: string; items?: KeyToPath[]; optional?: boolean };
  emptyDir?: Record<string, unknown>;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
}
export interface VolumeMount { name: string; mountPath: string; readOnly?: boolean; subPath?: string }
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
export interface EnvFromSource { prefix?: string; secretRef?: { name: string; optional?: boolean }; configMapRef?: { name: string; optional?: boolean } }
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: VolumeMount[];
  securityContext?: Record<string, unknown>;
  resources?: Record<string, unknown>;
  [k: string]: unknown;
}
export interface PodSpec {
  restartPolicy?: string;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: Volume[];
  [k: string]: unknown;
}
export interface JobSpec {
  backoffLimit?: number;
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
  completionMode?: string;
  completions?: number;
  parallelism?: number;
  template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
}
export interface CronJobSpec {
  schedule: string;
  timeZone?: string;
  suspend?: boolean;
  concurrencyPolicy?: string;
  startingDeadlineSeconds?: number;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  jobTemplate: { metadata?: { labels?: Record<string, string> }; spec: JobSpec };
}

/** `helm template` of deploy/chart with these values (an object, written to a file) and values files. */
export async function helmTemplate(
  major: HelmMajor,
  values?: Record<string, unknown>,
  opts: { valuesFiles?: string[]; set?: string[]; release?: string } = {},
): Promise<{ code: number; stderr: string; docs: K8sObject[] }> {
  const args = ['template', opts.release ?? 'mirror', CHART_DIR, '--namespace', 'ops'];
  for (const f of opts.valuesFiles ?? []) args.push('--values', f);
  if (values) {
    const file = join(await tmpDir('chart-values-'), 'values.yaml');
    await writeFile(file, yaml.dump(values));
    args.push('--values', file);
  }
  for (const s of opts.set ?? []) args.push('--set', s);
  const r = await runHelm(major, args);
  const docs = r.code === 0 ? (yaml.loadAll(r.stdout).filter((d) => d && typeof d === 'object') as K8sObject[]) : [];
  return { code: r.code, stderr: r.stderr, docs };
}

export function findObject(docs: K8sObject[], kind: string, name?: string): K8sObject {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, rendered ${found.length}`);
  return found[0]!;
}

/** The CronJob's pod spec and its one container. */
export function podOf(docs: K8sObject[]): { cron: CronJobSpec; job: JobSpec; pod: PodSpec; container: Container } {
  const cron = findObject(docs, 'CronJob').spec as unknown as CronJobSpec;
  const job = cron.jobTemplate.spec;
  const pod = job.template.spec;
  if (pod.containers.length !== 1) throw new Error(`expected one container, rendered ${pod.containers.length}`);
  return { cron, job, pod, container: pod.containers[0] as Container };
}

/** What the runtime stage of the Dockerfile says about how the image runs. */
export interface ImageConfig {
  stages: Array<{ from: string; as?: string; lines: string[] }>;
  entrypoint: string[];
  cmd?: string[];
  user: string;
  workdir: string;
  env: Record<string, string>;
}

export async function dockerfile(): Promise<ImageConfig> {
  const text = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  // Join continuation lines, drop comments.
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: ImageConfig['stages'] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ from: from[1]!, as: from[2], lines: [] });
    else if (stages.length) stages[stages.length - 1]!.lines.push(line);
    else throw new Error(`Dockerfile: ${line} before the first FROM`);
  }
  const last = stages[stages.length - 1];
  if (!last) throw new Error('Dockerfile: no FROM');
  const instr = (name: string) => last.lines.filter((l) => l.toUpperCase().startsWith(`${name} `)).map((l) => l.slice(name.length).trim());
  const execForm = (name: string): string[] | undefined => {
    const v = instr(name).at(-1);
    if (v === undefined) return undefined;
    const parsed = JSON.parse(v) as unknown;
    if (!Array.isArray(parsed)) throw new Error(`Dockerfile: ${name} is not in exec form`);
    return parsed as string[];
  };
  const env: Record<string, string> = {};
  for (const e of instr('ENV')) {
    for (const m of e.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return {
    stages,
    entrypoint: execForm('ENTRYPOINT') ?? [],
    cmd: execForm('CMD'),
    user: instr('USER').at(-1) ?? '',
    workdir: instr('WORKDIR').at(-1) ?? '/',
    env,
  };
}

/** Secrets and ConfigMaps the cluster holds (besides those the chart renders), and where claims live. */
export interface Cluster {
  secrets?: Record<string, Record<string, string | Buffer>>;
  configMaps?: Record<string, Record<string, string>>;
  /** A directory per PersistentVolumeClaim under here, kept from pod to pod. */
  claimsDir: string;
}

export interface MaterialisedPod {
  /** The pod's view of the file system: every volume is somewhere under here, or in claimsDir. */
  root: string;
  mounts: Array<{ mountPath: string; hostDir: string; readOnly: boolean; kind: string }>;
  /** The process to start (the image's ENTRYPOINT and the container's args, paths rewritten). */
  command: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Where a path of the pod is on this machine; throws for a path in no volume. */
  hostPath(podPath: string): string;
  /** Whether the pod can write there: a volume mounted without readOnly. */
  writable(podPath: string): boolean;
  run(timeoutMs?: number): Promise<PodRun>;
}

/** One line of --log-format json: `event` and its fields (docs/reports.md). */
export interface LogEvent {
  event: string;
  [k: string]: unknown;
}

export interface PodRun extends RunResult {
  /** stderr, one JSON object per line (--log-format json). */
  events: LogEvent[];
  /** Files written outside the writable volumes (in the pod: the read-only root file system or a read-only mount). */
  writtenOutsideVolumes: string[];
}

/**
 * Materialise the CronJob's pod from rendered docs. `jobCompletionIndex` is set as Kubernetes sets
 * it in the pods of an Indexed Job.
 */
export async function materialisePod(docs: K8sObject[], cluster: Cluster, opts: { jobCompletionIndex?: number } = {}): Promise<MaterialisedPod> {
  const { job, pod, container } = podOf(docs);
  const image = await dockerfile();
  const root = await tmpDir('pod-');
  const rendered = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const configMapData = (name: string): Record<string, string | Buffer> | undefined => {
    const given = cluster.configMaps?.[name];
    if (given) return given;
    const cm = rendered('ConfigMap', name);
    if (!cm) return undefined;
    const out: Record<string, string | Buffer> = { ...(cm.data ?? {}) };
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
    return out;
  };
  const secretData = (name: string) => cluster.secrets?.[name];

  const volumes = new Map<string, Volume>((pod.volumes ?? []).map((v) => [v.name, v]));
  const mounts: MaterialisedPod['mounts'] = [];
  const writable = new Set<string>();
  const files: Array<{ mountPath: string; file: string; data: string | Buffer }> = [];

  for (const m of container.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v) throw new Error(`volumeMount ${m.name}: no such volume in the pod`);
    if (!m.mountPath.startsWith('/')) throw new Error(`volumeMount ${m.name}: mountPath ${m.mountPath} is not absolute`);
    let hostDir: string;
    let kind: string;
    const readOnly = m.readOnly === true;
    if (v.configMap || v.secret) {
      kind = v.configMap ? 'configMap' : 'secret';
      const name = v.configMap ? v.configMap.name : v.secret!.secretName;
      const data = v.configMap ? configMapData(name) : secretData(name);
      const optional = (v.configMap ?? v.secret)!.optional === true;
      if (!data && !optional) throw new Error(`volume ${v.name}: ${kind} ${name} does not exist (the pod would not start)`);
      hostDir = join(root, m.mountPath);
      await mkdir(hostDir, { recursive: true });
      const items = (v.configMap ?? v.secret)!.items ?? Object.keys(data ?? {}).map((key) => ({ key, path: key }));
      for (const { key, path } of items) {
        if (!data || !(key in data)) throw new Error(`volume ${v.name}: ${kind} ${name} has no key ${key}`);
        files.push({ mountPath: m.mountPath, file: join(hostDir, path), data: data[key]! });
      }
    } else if (v.emptyDir) {
      kind = 'emptyDir';
      hostDir = join(root, m.mountPath);
      await mkdir(hostDir, { recursive: true });
    } else if (v.persistentVolumeClaim) {
      kind = 'persistentVolumeClaim';
      hostDir = join(cluster.claimsDir, v.persistentVolumeClaim.claimName);
      await mkdir(hostDir, { recursive: true });
    } else {
      throw new Error(`volume ${v.name}: a kind the materialiser does not know: ${JSON.stringify(v)}`);
    }
    if (m.subPath) hostDir = join(hostDir, m.subPath);
    mounts.push({ mountPath: m.mountPath.replace(/\/+$/, ''), hostDir, readOnly, kind });
    if (!readOnly) writable.add(hostDir);
  }

  const mountOf = (podPath: string) => {
    let best: (typeof mounts)[number] | undefined;
    for (const m of mounts) {
      if ((podPath === m.mountPath || podPath.startsWith(`${m.mountPath}/`)) && (!best || m.mountPath.length > best.mountPath.length)) best = m;
    }
    if (!best) throw new Error(`${podPath} is in no volume: in the pod it is on the read-only root file system`);
    return best;
  };
  const hostPath = (podPath: string): string => {
    const m = mountOf(podPath);
    return join(m.hostDir, podPath.slice(m.mountPath.length));
  };
  // Absolute paths of the pod inside text (the mounted config): each mount path, longest first, in one pass.
  const mountRe = new RegExp(
    `(?<=^|[\\s"'\\[,:=])(${[...mounts].sort((a, b) => b.mountPath.length - a.mountPath.length).map((m) => m.mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?=/|$|[\\s"'\\],])`,
    'gm',
  );
  const rewriteText = (text: string) => (mounts.length ? text.replace(mountRe, (p: string) => hostPath(p)) : text);

  for (const f of files) {
    await mkdir(dirname(f.file), { recursive: true });
    const isConfig = typeof f.data === 'string' && /\.ya?ml$/.test(f.file);
    await writeFile(f.file, isConfig ? rewriteText(f.data as string) : f.data);
  }

  // The environment, as the kubelet builds it: the image's ENV, then envFrom, then env ($(VAR) expanded).
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...image.env };
  const defined: Record<string, string> = {};
  const define = (name: string, value: string) => {
    defined[name] = value;
    env[name] = value;
  };
  if (job.completionMode === 'Indexed') {
    if (opts.jobCompletionIndex === undefined) throw new Error('an Indexed Job: give jobCompletionIndex');
    define('JOB_COMPLETION_INDEX', String(opts.jobCompletionIndex));
  }
  for (const from of container.envFrom ?? []) {
    const ref = from.secretRef ?? from.configMapRef;
    if (!ref) throw new Error(`envFrom ${JSON.stringify(from)}: neither secretRef nor configMapRef`);
    const data = from.secretRef ? secretData(ref.name) : configMapData(ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new Error(`envFrom: ${from.secretRef ? 'Secret' : 'ConfigMap'} ${ref.name} does not exist (the pod would not start)`);
    }
    for (const [k, v] of Object.entries(data)) define(`${from.prefix ?? ''}${k}`, v.toString());
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom) {
      const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef;
      if (!ref) throw new Error(`env ${e.name}: a valueFrom the materialiser does not know`);
      const data = e.valueFrom.secretKeyRef ? secretData(ref.name) : configMapData(ref.name);
      const value = data?.[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw new Error(`env ${e.name}: ${ref.name} has no key ${ref.key} (the pod would not start)`);
      }
      define(e.name, value.toString());
    } else {
      const value = expandK8s(e.value ?? '', defined);
      define(e.name, value.startsWith('/') ? hostPath(value) : value);
    }
  }

  if (container.command) throw new Error(`the container sets command ${JSON.stringify(container.command)}; the image's ENTRYPOINT is meant to run`);
  if (JSON.stringify(image.entrypoint) !== JSON.stringify(['chartmirror'])) throw new Error(`the image's ENTRYPOINT is ${JSON.stringify(image.entrypoint)}`);
  const args = (container.args ?? image.cmd ?? []).map((a) => {
    const expanded = expandK8s(a, defined);
    const opt = /^(--[\w-]+=)(\/.*)$/.exec(expanded);
    if (opt) return opt[1]! + hostPath(opt[2]!);
    return expanded.startsWith('/') ? hostPath(expanded) : expanded;
  });
  const cwd = join(root, image.workdir);
  await mkdir(cwd, { recursive: true });

  const materialised: MaterialisedPod = {
    root,
    mounts,
    command: process.execPath,
    argv: [CLI, ...args],
    env,
    cwd,
    hostPath,
    writable: (podPath: string) => !mountOf(podPath).readOnly,
    async run(timeoutMs = 120_000) {
      const before = await snapshot(root, writable);
      // Read-only mounts are read-only while the pod runs (for a process that is not root); made
      // writable again after, so the temporary directory can be removed.
      const readOnly = mounts.filter((m) => m.readOnly);
      for (const m of readOnly) await chmodTree(m.hostDir, true);
      let r: RunResult;
      try {
        r = await run(materialised.command, materialised.argv, { cwd, env, timeoutMs });
      } finally {
        for (const m of readOnly) await chmodTree(m.hostDir, false);
      }
      const after = await snapshot(root, writable);
      const events = r.stderr
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => {
          try {
            return JSON.parse(l) as LogEvent;
          } catch {
            return { event: 'not-json', line: l };
          }
        });
      const writtenOutsideVolumes = [...after.entries()].filter(([f, m]) => before.get(f) !== m).map(([f]) => relative(root, f));
      return { ...r, events, writtenOutsideVolumes };
    },
  };
  return materialised;
}

/** Kubernetes' $(VAR) expansion in args and env values: defined names only, $$(VAR) escapes. */
export function expandK8s(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && name in vars ? vars[name]! : whole;
  });
}

async function chmodTree(dir: string, readOnly: boolean): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await chmodTree(p, readOnly);
    else await chmod(p, readOnly ? 0o444 : 0o644);
  }
  await chmod(dir, readOnly ? 0o555 : 0o755);
}

/** Every file under root, outside the writable volumes, with its size and mtime. */
async function snapshot(root: string, writable: Set<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string) => {
    if (writable.has(dir)) return;
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (writable.has(p)) continue;
      if (e.isDirectory()) {
        out.set(`${p}/`, 'dir');
        await walk(p);
      } else {
        const s = await stat(p);
        out.set(p, `${s.size}:${s.mtimeMs}`);
      }
    }
  };
  await walk(root);
  return out;
}
