import { cp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { packageChart, indexRepo } from '../support/charts.js';
import { CLI } from '../support/cli.js';
import { run } from '../support/exec.js';
import { HELM_BUILDS, REPO_ROOT, runHelm, type HelmMajor } from '../support/helm.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { sample, startPushgateway, type RunningPushgateway } from '../support/pushgateway.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { sha256Hex } from '../../src/util/digest.js';
import {
  CHART_DIR,
  dockerfile,
  findObject,
  helmTemplate,
  materialisePod,
  podOf,
  type Cluster,
  type Container,
  type K8sObject,
  type LogEvent,
  type PodRun,
} from './deploy-pod.js';

/**
 * deploy/chart, the Helm chart that runs chartmirror as a CronJob, and the Dockerfile of the image it
 * runs: rendered by Helm 3 and 4 and checked object by object, then the rendered pod materialised
 * and run for real against a real registry (deploy-pod.ts), so the wiring is proven, not only the YAML.
 */

const CONFIG_PATH = '/etc/chartmirror/config/mirror.config.yaml';
const STATE_DIR = '/var/lib/chartmirror';
const CI_VALUES = {
  sharded: join(CHART_DIR, 'ci', 'sharded-values.yaml'),
  pvc: join(CHART_DIR, 'ci', 'pvc-values.yaml'),
  registryState: join(CHART_DIR, 'ci', 'registry-state-values.yaml'),
};

const loadYaml = async <T>(file: string) => yaml.load(await readFile(file, 'utf8')) as T;
const argAfter = (c: Container, flag: string) => {
  const i = (c.args ?? []).indexOf(flag);
  return i < 0 ? undefined : c.args![i + 1];
};
const mount = (c: Container, name: string) => (c.volumeMounts ?? []).find((m) => m.name === name);

describe('deploy/chart and the Dockerfile', () => {
  it('Chart.yaml: apiVersion v2, name chartmirror, appVersion is package.json\'s version', async () => {
    const chart = await loadYaml<Record<string, string>>(join(CHART_DIR, 'Chart.yaml'));
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'chartmirror', appVersion: pkg.version });
  });

  it('values.yaml, values.schema.json and the chart README name the same keys', async () => {
    const values = await loadYaml<Record<string, unknown>>(join(CHART_DIR, 'values.yaml'));
    const schema = JSON.parse(await readFile(join(CHART_DIR, 'values.schema.json'), 'utf8')) as SchemaNode;
    const readme = await readFile(join(CHART_DIR, 'README.md'), 'utf8');
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.additionalProperties).toBe(false);
    // Every value in values.yaml is in the schema (down to the objects the schema closes), and back.
    const inValues = keyPaths(values, schema);
    const inSchema = schemaPaths(schema).filter((p) => p !== 'global');
    expect(inValues.sort()).toEqual(inSchema.sort());
    // The README's values table has a row per key.
    const table = readme.slice(readme.indexOf('\n## Values\n'));
    const documented = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(inSchema.sort());
  });

  it('the Dockerfile: node:20-slim stages, npm ci, build and prune, a numeric non-root USER that is the chart\'s default, ENTRYPOINT chartmirror', async () => {
    const image = await dockerfile();
    expect(image.stages.map((s) => s.from)).toEqual(['node:20-slim', 'node:20-slim']);
    const [builder, runtime] = image.stages;
    const builderRuns = builder!.lines.filter((l) => l.startsWith('RUN ')).join('\n');
    expect(builderRuns).toMatch(/\bnpm ci\b/);
    expect(builderRuns).toMatch(/\bnpm run build\b/);
    expect(builderRuns).toMatch(/\bnpm prune --omit=dev\b/);
    // The runtime stage gets dist/, schema/, node_modules/ and package.json from the builder, and nothing else.
    const copies = runtime!.lines.filter((l) => l.startsWith('COPY '));
    expect(copies.every((l) => l.startsWith(`COPY --from=${builder!.as} `))).toBe(true);
    expect(copies.map((l) => l.split(/\s+/)[2]!.replace(/^\/app\//, '')).sort()).toEqual(['dist', 'node_modules', 'package.json', 'schema']);

    // USER uid:gid, numeric and not root, and the chart's default pod runs as exactly that.
    const m = /^(\d+):(\d+)$/.exec(image.user);
    expect(m, `USER ${image.user}`).not.toBeNull();
    const [uid, gid] = [Number(m![1]), Number(m![2])];
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    const values = await loadYaml<{ podSecurityContext: Record<string, unknown>; securityContext: Record<string, unknown> }>(join(CHART_DIR, 'values.yaml'));
    expect(values.podSecurityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, fsGroup: gid });
    expect(values.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });

    // ENTRYPOINT ["chartmirror"]: a link on PATH to dist/cli/main.js, which node runs by its shebang.
    expect(image.entrypoint).toEqual(['chartmirror']);
    expect(runtime!.lines.join('\n')).toMatch(new RegExp(`ln -s ${image.workdir}/dist/cli/main\\.js /usr/local/bin/chartmirror`));
    expect(builderRuns).toMatch(/chmod 0?755 dist\/cli\/main\.js/);
    expect((await readFile(CLI, 'utf8')).split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('.dockerignore lets in what the builder copies from the context, and those files exist', async () => {
    const image = await dockerfile();
    const allowed = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(allowed[0]).toBe('*'); // everything else stays out (node_modules, dist, .cache, .git)
    const copied = image.stages[0]!.lines
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(copied.length).toBeGreaterThan(0);
    for (const path of copied) {
      const isDir = (await stat(join(REPO_ROOT, path))).isDirectory(); // and it exists
      expect(allowed, path).toContain(isDir ? `!${path.replace(/\/$/, '')}/` : `!${path}`);
    }
  });
});

describe.each([3, 4] as const)('deploy/chart rendered by Helm %i', (major: HelmMajor) => {
  const render = async (values?: Record<string, unknown>, opts: { valuesFiles?: string[]; set?: string[] } = {}) => {
    const r = await helmTemplate(major, values, opts);
    expect(r.code, r.stderr).toBe(0);
    return r.docs;
  };

  it('lint --strict passes with the default, sharded, PVC and registry-state values', async () => {
    const runs = await Promise.all([[], ...Object.values(CI_VALUES).map((f) => ['--values', f])].map((v) => runHelm(major, ['lint', '--strict', CHART_DIR, ...v])));
    for (const r of runs) {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('default values: a hardened CronJob that runs chartmirror sync once at a time, state in an emptyDir', async () => {
    const docs = await render();
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'CronJob', 'ServiceAccount']);
    const { cron, job, pod, container } = podOf(docs);
    expect(cron).toMatchObject({
      schedule: '0 * * * *',
      suspend: false,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    expect(cron.timeZone).toBeUndefined();
    expect(job.backoffLimit).toBe(2);
    for (const k of ['completionMode', 'completions', 'parallelism', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished'] as const) expect(job[k], k).toBeUndefined();

    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    const sa = findObject(docs, 'ServiceAccount');
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.automountServiceAccountToken).toBe(false);
    const { user } = await dockerfile();
    const [uid, gid] = user.split(':').map(Number);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, fsGroup: gid, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });

    const chart = await loadYaml<{ appVersion: string }>(join(CHART_DIR, 'Chart.yaml'));
    expect(container.image).toBe(`chartmirror:${chart.appVersion}`);
    expect(container.command).toBeUndefined(); // the image's ENTRYPOINT
    expect(container.args).toEqual(['sync', '--config', CONFIG_PATH, '--state', STATE_DIR, '--log-format', 'json']);
    expect(container.env).toEqual([
      { name: 'TMPDIR', value: '/tmp' },
      { name: 'HOME', value: '/tmp' },
    ]);
    expect(container.envFrom).toBeUndefined();

    // The read-only root file system: the config read-only, /tmp and the state directory writable emptyDirs.
    expect(container.volumeMounts).toEqual([
      { name: 'config', mountPath: '/etc/chartmirror/config', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'state', mountPath: STATE_DIR },
    ]);
    const cm = findObject(docs, 'ConfigMap');
    expect(pod.volumes).toEqual([
      { name: 'config', configMap: { name: cm.metadata.name, items: [{ key: 'mirror.config.yaml', path: 'mirror.config.yaml' }] } },
      { name: 'tmp', emptyDir: {} },
      { name: 'state', emptyDir: {} },
    ]);
    expect(yaml.load(cm.data!['mirror.config.yaml']!)).toEqual({});
    expect(job.template.metadata?.annotations?.['checksum/config']).toMatch(/^[a-f0-9]{64}$/);
  });

  it('the mirror config from values: an object or YAML text, its checksum on the pod changes with it', async () => {
    const config = { sources: [{ name: 's', url: 'https://charts.example.com', auth: { username: 'u', password: '${REPO_PASSWORD}' } }], targets: [{ name: 't', url: 'oci://registry.example.com/charts' }] };
    const asObject = await render({ config });
    const asText = await render({ config: `# from a file (--set-file config=mirror.config.yaml)\n${yaml.dump(config)}` });
    const other = await render({ config: { ...config, concurrency: 4 } });
    for (const docs of [asObject, asText]) expect(yaml.load(findObject(docs, 'ConfigMap').data!['mirror.config.yaml']!)).toEqual(config);
    expect(findObject(asText, 'ConfigMap').data!['mirror.config.yaml']).toContain('# from a file');
    const checksum = (docs: K8sObject[]) => podOf(docs).job.template.metadata?.annotations?.['checksum/config'];
    expect(new Set([checksum(asObject), checksum(asText), checksum(other)]).size).toBe(3);
    expect(checksum(await render({ config }))).toBe(checksum(asObject));
  });

  it('sharded values: an Indexed Job of 3 pods, --shard auto/3, one state directory on a ReadWriteMany claim for all', async () => {
    const docs = await render(undefined, { valuesFiles: [CI_VALUES.sharded] });
    const { cron, job, pod, container } = podOf(docs);
    expect(cron.concurrencyPolicy).toBe('Forbid');
    expect(job).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3 });
    expect(argAfter(container, '--shard')).toBe('auto/3');
    // The same for every shard: chartmirror keeps shard-<i>-of-3/ in it, and reads the others' journals.
    expect(argAfter(container, '--state')).toBe(STATE_DIR);
    const pvc = findObject(docs, 'PersistentVolumeClaim');
    expect(pvc.spec).toMatchObject({ accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } });
    expect(pod.volumes!.find((v) => v.name === 'state')).toEqual({ name: 'state', persistentVolumeClaim: { claimName: pvc.metadata.name } });
    expect(mount(container, 'state')).toEqual({ name: 'state', mountPath: STATE_DIR });

    const fewer = podOf(await render(undefined, { valuesFiles: [CI_VALUES.sharded], set: ['parallelism=1'] })).job;
    expect(fewer).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 1 });
  });

  it('PVC values: the claim, a Docker config.json Secret, env from Secrets, CA bundles, keyrings, the Pushgateway', async () => {
    const docs = await render(undefined, { valuesFiles: [CI_VALUES.pvc] });
    const { cron, job, pod, container } = podOf(docs);
    expect(cron.timeZone).toBe('Europe/Berlin');
    expect(job).toMatchObject({ activeDeadlineSeconds: 3600, ttlSecondsAfterFinished: 86400 });
    const pvc = findObject(docs, 'PersistentVolumeClaim');
    expect(pvc.spec).toEqual({ accessModes: ['ReadWriteOnce'], storageClassName: 'fast', resources: { requests: { storage: '2Gi' } } });
    expect(argAfter(container, '--state')).toBe(STATE_DIR);
    expect(argAfter(container, '--pushgateway')).toBe('http://pushgateway.monitoring:9091');
    expect(container.args).not.toContain('--shard');
    const volume = (name: string) => pod.volumes!.find((v) => v.name === name);
    expect(volume('state')).toEqual({ name: 'state', persistentVolumeClaim: { claimName: pvc.metadata.name } });

    // Docker config.json: the dockerconfigjson key mounted as config.json where DOCKER_CONFIG points.
    expect(volume('docker-config')).toEqual({ name: 'docker-config', secret: { secretName: 'registry-credentials', items: [{ key: '.dockerconfigjson', path: 'config.json' }] } });
    expect(mount(container, 'docker-config')).toEqual({ name: 'docker-config', mountPath: '/etc/chartmirror/docker', readOnly: true });
    expect(container.env).toContainEqual({ name: 'DOCKER_CONFIG', value: '/etc/chartmirror/docker' });
    expect(container.env).toContainEqual({ name: 'REPO_PASSWORD', valueFrom: { secretKeyRef: { name: 'repo-credentials', key: 'password' } } });
    expect(container.envFrom).toEqual([{ secretRef: { name: 'chartmirror-env' } }]);

    expect(volume('ca-corp')).toEqual({ name: 'ca-corp', secret: { secretName: 'corp-ca' } });
    expect(mount(container, 'ca-corp')).toEqual({ name: 'ca-corp', mountPath: '/etc/chartmirror/ca/corp', readOnly: true });
    expect(volume('keyring-publishers')).toEqual({ name: 'keyring-publishers', configMap: { name: 'publisher-keys' } });
    expect(mount(container, 'keyring-publishers')).toEqual({ name: 'keyring-publishers', mountPath: '/etc/chartmirror/keyrings/publishers', readOnly: true });

    // Every path the config names is in a mounted volume.
    const strings = (v: unknown): string[] => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : []);
    const paths = strings(yaml.load(findObject(docs, 'ConfigMap').data!['mirror.config.yaml']!)).filter((p) => p.startsWith('/'));
    expect(paths.sort()).toEqual(['/etc/chartmirror/ca/corp/ca.crt', '/etc/chartmirror/keyrings/publishers/pubring.gpg']);
    for (const p of paths) expect((container.volumeMounts ?? []).some((m) => p.startsWith(`${m.mountPath}/`)), p).toBe(true);
  });

  it('registry-state values: --state oci://…, no state volume, the existing ConfigMap, extra arguments last', async () => {
    const docs = await render(undefined, { valuesFiles: [CI_VALUES.registryState] });
    expect(docs.map((d) => d.kind).sort()).toEqual(['CronJob', 'ServiceAccount']);
    const { job, pod, container } = podOf(docs);
    expect(container.args).toEqual([
      'sync', '--config', CONFIG_PATH, '--state', 'oci://registry.example.com/ops/chartmirror-state', '--log-format', 'text', '--concurrency', '32',
    ]);
    expect(mount(container, 'state')).toBeUndefined();
    expect(pod.volumes!.find((v) => v.name === 'state')).toBeUndefined();
    expect(pod.volumes!.find((v) => v.name === 'config')).toEqual({
      name: 'config',
      configMap: { name: 'mirror-config', items: [{ key: 'config.yaml', path: 'mirror.config.yaml' }] },
    });
    expect(job.template.metadata?.annotations).toBeUndefined();
  });

  it('renders the same objects as the other Helm major', async () => {
    const other = major === 3 ? 4 : 3;
    for (const files of [[], [CI_VALUES.sharded], [CI_VALUES.pvc], [CI_VALUES.registryState]]) {
      const [mine, theirs] = await Promise.all([helmTemplate(major, undefined, { valuesFiles: files }), helmTemplate(other, undefined, { valuesFiles: files })]);
      expect(mine.code).toBe(0);
      expect(mine.docs).toEqual(theirs.docs);
    }
  });

  it.each([
    ['shards: 0', { shards: 0 }, /shards/],
    ['shards: 1.5', { shards: 1.5 }, /shards/],
    ['an unknown top-level key', { shard: 3 }, /shard/],
    ['an unknown nested key', { state: { persistence: { sizee: '1Gi' } } }, /sizee/],
    ['a log format chartmirror does not have', { logFormat: 'yaml' }, /logFormat/],
    ['a state store that is not oci://', { state: { store: 'https://registry.example.com/state' } }, /store/],
    ['a Pushgateway that is not a URL', { metrics: { pushgateway: 'pushgateway:9091' } }, /pushgateway/],
    ['a CA bundle with neither secret nor configMap', { caBundles: [{ name: 'corp' }] }, /caBundles/],
    ['a CA bundle name that is not a DNS label', { caBundles: [{ name: 'Corp_CA', secret: 'x' }] }, /caBundles/],
    ['the config as a list', { config: [] }, /config/],
    ['a registry store and a claim', { state: { store: 'oci://r.example.com/s', persistence: { enabled: true } } }, /state\.store and state\.persistence\.enabled are exclusive/],
    ['config and existingConfigMap', { config: { sources: [] }, existingConfigMap: 'mine' }, /config and existingConfigMap are exclusive/],
  ])('refuses %s', async (_what, values, message) => {
    const r = await helmTemplate(major, values as Record<string, unknown>);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

// ---------------------------------------------------------------------------------------------

/** Tags of a repository of the registry (HTTPS with its CA and Basic auth when it has them). */
async function tagsOf(reg: RunningRegistry, repo: string): Promise<string[]> {
  const res = await simpleRequest(`${reg.baseUrl}/v2/${repo}/tags/list`, {
    ca: reg.caFile ? await readFile(reg.caFile) : undefined,
    basic: reg.username ? { username: reg.username, password: reg.password! } : undefined,
  });
  if (res.status === 404) return [];
  expect(res.status, res.text()).toBe(200);
  return (res.json<{ tags: string[] | null }>().tags ?? []).sort();
}

const eventsOf = (r: PodRun, event: string) => r.events.filter((e) => e.event === event);
const oneEvent = (r: PodRun, event: string): LogEvent => {
  const found = eventsOf(r, event);
  expect(found, `${event} events in:\n${r.stderr}`).toHaveLength(1);
  return found[0]!;
};
/** A finished run: its exit code, every stderr line JSON (--log-format json), nothing written outside its volumes. */
function expectClean(r: PodRun, code = 0): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.events.filter((e) => e.event === 'not-json'), 'stderr lines that are not JSON').toEqual([]);
  expect(r.writtenOutsideVolumes, 'written to the read-only root file system or a read-only mount').toEqual([]);
}
const writes = async (reg: RunningRegistry) => (await reg.requests()).filter((q) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(q.method));

describe.skipIf(!haveBinaries('docker-registry', 'nginx', 'prometheus-pushgateway'))('deploy/chart: the rendered pod, materialised and run against a real registry', () => {
  let work: string;
  let examples: Record<string, string[]>; // chart -> its OCI tags in examples/repo
  let secured: RunningRegistry; // HTTPS with its own CA, htpasswd
  let open: RunningRegistry; // plain HTTP, no auth
  let guarded: StaticServer; // examples/repo behind Basic auth
  let plain: StaticServer; // /examples (examples/repo) and /many (a generated repository), no auth
  let gateway: RunningPushgateway;

  const REPO_USER = 'reader';
  const REPO_PASSWORD = 'repo-secret-pw';

  beforeAll(async () => {
    work = await tmpDir('deploy-chart-');
    const index = await loadYaml<{ entries: Record<string, Array<{ version: string }>> }>(join(REPO_ROOT, 'examples', 'repo', 'index.yaml'));
    examples = Object.fromEntries(Object.entries(index.entries).map(([chart, versions]) => [chart, versions.map((v) => v.version.replace(/\+/g, '_')).sort()]));
    const served = join(work, 'served');
    await cp(join(REPO_ROOT, 'examples', 'repo'), join(served, 'examples'), { recursive: true });
    [secured, open, guarded, plain, gateway] = await Promise.all([
      startRegistry({ auth: 'htpasswd', tls: true }),
      startRegistry(),
      startStaticServer({ root: join(REPO_ROOT, 'examples', 'repo'), basicAuth: { username: REPO_USER, password: REPO_PASSWORD } }),
      startStaticServer({ root: served }),
      startPushgateway(),
    ]);
  });

  afterAll(async () => {
    await Promise.all([secured?.stop(), open?.stop(), guarded?.stop(), plain?.stop(), gateway?.stop()]);
  });

  /** The Secrets a cluster would hold for the PVC values, made from the running servers. */
  async function securedCluster(claimsDir: string): Promise<Cluster> {
    const auth = Buffer.from(`${secured.username}:${secured.password}`).toString('base64');
    return {
      claimsDir,
      secrets: {
        'registry-credentials': { '.dockerconfigjson': JSON.stringify({ auths: { [secured.host]: { auth } } }) },
        'repo-credentials': { password: REPO_PASSWORD },
        'chartmirror-env': { REPO_USER },
        'registry-ca': { 'ca.crt': await readFile(secured.caFile!) },
        'publisher-keys': { 'pubring.gpg': await readFile(join(REPO_ROOT, 'examples', 'keys', 'pubring.gpg')) },
      },
    };
  }

  it('PVC values: mirrors every chart through the mounted config, Docker config.json, env Secrets, CA bundle and keyring; the next pod finds all in the journal on the claim', async () => {
    const values = {
      config: {
        sources: [{
          name: 'examples',
          url: guarded.url,
          auth: { username: '${REPO_USER}', password: '${REPO_PASSWORD}' },
          verify: { provenance: 'verify', keyring: '/etc/chartmirror/keyrings/publishers/pubring.gpg' },
        }],
        // No auth here: the credentials come from the Docker config.json Secret.
        targets: [{ name: 'registry', url: secured.oci('mirror'), tls: { ca: '/etc/chartmirror/ca/registry/ca.crt' } }],
      },
      state: { persistence: { enabled: true } },
      dockerConfigSecret: 'registry-credentials',
      env: [{ name: 'REPO_PASSWORD', valueFrom: { secretKeyRef: { name: 'repo-credentials', key: 'password' } } }],
      envFrom: [{ secretRef: { name: 'chartmirror-env' } }],
      caBundles: [{ name: 'registry', secret: 'registry-ca' }],
      keyrings: [{ name: 'publishers', secret: 'publisher-keys' }],
    };
    const docs = (await helmTemplate(4, values)).docs;
    const cluster = await securedCluster(join(work, 'claims-pvc'));
    const claim = podOf(docs).pod.volumes!.find((v) => v.name === 'state')!.persistentVolumeClaim!.claimName;

    const pod1 = await materialisePod(docs, cluster);
    expect(pod1.env.DOCKER_CONFIG).toBe(pod1.hostPath('/etc/chartmirror/docker'));
    expect(pod1.env.TMPDIR).toBe(pod1.hostPath('/tmp'));
    expect(pod1.env.HOME).toBe(pod1.hostPath('/tmp'));
    expect(pod1.env.REPO_USER).toBe(REPO_USER);
    for (const path of ['/tmp', STATE_DIR]) expect(pod1.writable(path), path).toBe(true);
    for (const path of [CONFIG_PATH, '/etc/chartmirror/docker/config.json', '/etc/chartmirror/ca/registry/ca.crt']) expect(pod1.writable(path), path).toBe(false);
    const first = await pod1.run();
    expectClean(first);
    const total = Object.values(examples).flat().length;
    expect(oneEvent(first, 'summary')).toMatchObject({ pushed: total, failed: 0 });
    for (const [chart, tags] of Object.entries(examples)) expect(await tagsOf(secured, `mirror/${chart}`), chart).toEqual(tags);
    // The keyring was read: the signed chart verified against it.
    expect(eventsOf(first, 'item').find((e) => e.chart === 'hello-web' && e.version === '1.0.0')).toMatchObject({ status: 'pushed', provenance: 'verified' });
    // The ${VAR}s came from the env Secrets: the repository saw that user.
    const served = (await guarded.requests()).filter((q) => q.status < 400);
    expect(served.length).toBeGreaterThan(0);
    expect(served.filter((q) => q.user !== REPO_USER)).toEqual([]);
    // The state is on the claim (the journal, and the index cache of this http source).
    const claimDir = join(cluster.claimsDir, claim);
    expect(await readdir(claimDir)).toEqual(expect.arrayContaining(['journal.jsonl', 'index-cache']));

    // A new pod for the next run: fresh emptyDirs, the same claim.
    await Promise.all([secured.clearRequests(), guarded.clearRequests()]);
    const second = await (await materialisePod(docs, cluster)).run();
    expectClean(second);
    expect(oneEvent(second, 'source')).toMatchObject({ source: 'examples', notModified: true });
    expect(oneEvent(second, 'plan')).toMatchObject({ total, pending: 0, present: total });
    expect(oneEvent(second, 'summary')).toMatchObject({ pushed: 0, present: total, failed: 0 });
    expect(await secured.requests()).toEqual([]);
  });

  it('default values with an existing ConfigMap: the state is an emptyDir, so every pod starts without a journal and asks the registry', async () => {
    const docs = (await helmTemplate(4, { existingConfigMap: 'my-mirror-config', existingConfigMapKey: 'config.yaml' })).docs;
    const config = {
      sources: [{ name: 'examples', url: `${plain.url}/examples` }],
      targets: [{ name: 'registry', url: open.oci('fresh'), plainHttp: true }],
    };
    const cluster: Cluster = { claimsDir: join(work, 'claims-default'), configMaps: { 'my-mirror-config': { 'config.yaml': yaml.dump(config) } } };
    const total = Object.values(examples).flat().length;

    const first = await (await materialisePod(docs, cluster)).run();
    expectClean(first);
    expect(oneEvent(first, 'summary')).toMatchObject({ pushed: total, failed: 0 });
    for (const [chart, tags] of Object.entries(examples)) expect(await tagsOf(open, `fresh/${chart}`), chart).toEqual(tags);

    await open.clearRequests();
    const second = await (await materialisePod(docs, cluster)).run();
    expectClean(second);
    expect(oneEvent(second, 'plan')).toMatchObject({ total, pending: total, present: 0 });
    const items = eventsOf(second, 'item');
    expect(items).toHaveLength(total);
    expect(items.every((i) => i.status === 'present' && i.via === 'target')).toBe(true);
    expect(await writes(open)).toEqual([]);
  });

  it('sharded values: each index of the Indexed Job mirrors its own non-empty part, together everything; each keeps its journal in its own subdirectory of the claim and pushes its metrics', async () => {
    const many = join(work, 'served', 'many');
    const charts = Array.from({ length: 12 }, (_, i) => `chart-${String.fromCharCode(97 + i)}`);
    await Promise.all(charts.map((name) => packageChart(many, { name, version: '1.0.0' })));
    await indexRepo(many);
    const docs = (await helmTemplate(4, {
      shards: 3,
      state: { persistence: { enabled: true, accessModes: ['ReadWriteMany'] } },
      config: { sources: [{ name: 'many', url: `${plain.url}/many` }], targets: [{ name: 'registry', url: open.oci('sharded'), plainHttp: true }] },
      metrics: { pushgateway: gateway.url },
    })).docs;
    const cluster: Cluster = { claimsDir: join(work, 'claims-sharded') };
    const claim = podOf(docs).pod.volumes!.find((v) => v.name === 'state')!.persistentVolumeClaim!.claimName;

    const parts: string[][] = [];
    for (const index of [0, 1, 2]) {
      const pod = await materialisePod(docs, cluster, { jobCompletionIndex: index });
      expect(pod.argv).toContain('auto/3');
      expect(pod.env.JOB_COMPLETION_INDEX).toBe(String(index));
      const r = await pod.run();
      expectClean(r);
      parts.push(eventsOf(r, 'item').filter((e) => e.status === 'pushed').map((e) => String(e.chart)));
    }
    for (const part of parts) expect(part.length).toBeGreaterThan(0);
    expect(parts.flat().sort()).toEqual(charts);
    expect(new Set(parts.flat()).size).toBe(charts.length); // disjoint
    for (const chart of charts) expect(await tagsOf(open, `sharded/${chart}`)).toEqual(['1.0.0']);
    const claimDir = join(cluster.claimsDir, claim);
    expect((await readdir(claimDir)).sort()).toEqual(['shard-0-of-3', 'shard-1-of-3', 'shard-2-of-3']);
    for (const dir of await readdir(claimDir)) expect(await readdir(join(claimDir, dir)), dir).toContain('journal.jsonl');
    // Each shard pushed its own group to the Pushgateway: job, the config's name, its shard.
    const samples = await gateway.samples();
    for (const index of [0, 1, 2]) {
      const group = { job: 'chartmirror', config: 'mirror.config', shard: `${index}-of-3` };
      expect(sample(samples, 'chartmirror_run_items', { ...group, target: 'registry', status: 'pushed' }).value).toBe(parts[index]!.length);
      expect(sample(samples, 'chartmirror_run_success', group).value).toBe(1);
    }

    // The next run: every shard finds its part in its own journal.
    await open.clearRequests();
    for (const index of [0, 1, 2]) {
      const r = await (await materialisePod(docs, cluster, { jobCompletionIndex: index })).run();
      expectClean(r);
      expect(oneEvent(r, 'plan')).toMatchObject({ pending: 0, present: parts[index]!.length });
    }
    expect(await writes(open)).toEqual([]);
  });

  it('registry-state values: no volume for the state; the next pod resumes from the journal kept in the registry', async () => {
    const docs = (await helmTemplate(4, {
      state: { store: open.oci('ops/chartmirror-state') },
      config: { sources: [{ name: 'examples', url: `${plain.url}/examples` }], targets: [{ name: 'registry', url: open.oci('stateless'), plainHttp: true }] },
    })).docs;
    expect(podOf(docs).pod.volumes!.some((v) => v.persistentVolumeClaim)).toBe(false);
    const cluster: Cluster = { claimsDir: join(work, 'claims-registry-state') };
    const total = Object.values(examples).flat().length;

    const first = await (await materialisePod(docs, cluster)).run();
    expectClean(first);
    expect(oneEvent(first, 'summary')).toMatchObject({ pushed: total, failed: 0 });
    expect(await tagsOf(open, 'ops/chartmirror-state')).toContain('state');

    await open.clearRequests();
    const second = await (await materialisePod(docs, cluster)).run();
    expectClean(second);
    expect(oneEvent(second, 'plan')).toMatchObject({ total, pending: 0, present: total });
    expect((await writes(open)).filter((q) => !q.path.startsWith('/v2/ops/chartmirror-state/'))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

const PUBLISH = join(REPO_ROOT, 'scripts', 'publish-chart.mjs');

/** scripts/publish-chart.mjs as `npm run chart:publish -- …` runs it, with no credentials of the developer's. */
async function publish(args: string[], env: Record<string, string> = {}) {
  const home = await tmpDir('publish-home-');
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(HELM_|DOCKER_|CHART_REGISTRY_|XDG_)/.test(k)) clean[k] = v;
  return run(process.execPath, [PUBLISH, ...args], { cwd: REPO_ROOT, env: { ...clean, HOME: home, NO_COLOR: '1', ...env } });
}

describe('npm run chart:publish', () => {
  it('is the package.json script, and its Helm is the tests\' Helm 4 build', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['chart:publish']).toBe('node scripts/publish-chart.mjs');
    const { HELM_BUILD } = (await import(pathToFileURL(join(REPO_ROOT, 'scripts', 'helm.mjs')).href)) as { HELM_BUILD: unknown };
    expect(HELM_BUILD).toEqual(HELM_BUILDS[4]);
  });

  it('refuses a command line without one oci:// target, exit 2', async () => {
    for (const args of [[], ['https://registry.example.com/charts'], ['oci://a/b', 'oci://c/d'], ['--plain', 'oci://a/b']]) {
      const r = await publish(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^chart:publish: .*\nusage: npm run chart:publish -- oci:\/\/HOST\/PATH/);
    }
  });

  describe.skipIf(!haveBinaries('docker-registry'))('into a real registry', () => {
    let reg: RunningRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ auth: 'htpasswd' });
    });
    afterAll(async () => {
      await reg?.stop();
    });

    it('packages deploy/chart, indexes it and mirrors it with chartmirror; Helm 3 and 4 pull exactly that archive and render it', async () => {
      const chart = await loadYaml<{ name: string; version: string; appVersion: string }>(join(CHART_DIR, 'Chart.yaml'));
      const r = await publish([reg.oci('charts'), '--plain-http', '--keep'], { CHART_REGISTRY_USERNAME: reg.username!, CHART_REGISTRY_PASSWORD: reg.password! });
      expect(r.code, r.stderr).toBe(0);
      const ref = `${reg.oci('charts')}/chartmirror:${chart.version}`;
      expect(r.stdout).toMatch(new RegExp(`^pushed: ${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} sha256:[a-f0-9]{64}$`, 'm'));
      expect(r.stderr + r.stdout).not.toContain(reg.password!);
      const kept = /kept (\S+)/.exec(r.stderr)![1]!;
      expect(yaml.load(await readFile(join(kept, 'repo', 'index.yaml'), 'utf8'))).toMatchObject({ entries: { chartmirror: [{ version: chart.version }] } });
      // chartmirror ran with a generated config that names the credentials, never holds them.
      expect(await readFile(join(kept, 'publish.config.yaml'), 'utf8')).toContain('${CHART_REGISTRY_PASSWORD}');
      const packaged = await readFile(join(kept, 'repo', `chartmirror-${chart.version}.tgz`));
      await rm(kept, { recursive: true, force: true });
      expect(await tagsOf(reg, 'charts/chartmirror')).toEqual([chart.version]);

      for (const major of [3, 4] as const) {
        const home = await tmpDir(`publish-helm${major}-`);
        const login = ['registry', 'login', reg.host, '-u', reg.username!, '--password-stdin', ...(major === 4 ? ['--plain-http'] : [])];
        expect((await runHelm(major, login, { home, input: reg.password })).code).toBe(0);
        const dest = await tmpDir('publish-pull-');
        const pull = await runHelm(major, ['pull', `${reg.oci('charts')}/chartmirror`, '--version', chart.version, '--plain-http', '-d', dest], { home });
        expect(pull.code, pull.stderr).toBe(0);
        expect(sha256Hex(await readFile(join(dest, `chartmirror-${chart.version}.tgz`)))).toBe(sha256Hex(packaged));
        const tpl = await runHelm(major, ['template', 'mirror', join(dest, `chartmirror-${chart.version}.tgz`)], { home });
        expect(tpl.code, tpl.stderr).toBe(0);
        expect(podOf(yaml.loadAll(tpl.stdout).filter(Boolean) as K8sObject[]).container.image).toBe(`chartmirror:${chart.appVersion}`);
      }
    });

    it('--dry-run plans and pushes nothing; --ca-file reaches an HTTPS registry with its own CA', async () => {
      const tls = await startRegistry({ auth: 'htpasswd', tls: true });
      try {
        const creds = { CHART_REGISTRY_USERNAME: tls.username!, CHART_REGISTRY_PASSWORD: tls.password! };
        const planned = await publish([tls.oci('charts'), '--ca-file', tls.caFile!, '--dry-run'], creds);
        expect(planned.code, planned.stderr).toBe(0);
        expect(planned.stdout).toMatch(/^Plan\. Nothing was written\./m);
        expect(await writes(tls)).toEqual([]);
        const untrusted = await publish([tls.oci('charts')], creds);
        expect(untrusted.code).toBe(1);
        expect(untrusted.stderr).toMatch(/certificate is not trusted/);
        const published = await publish([tls.oci('charts'), '--ca-file', tls.caFile!], creds);
        expect(published.code, published.stderr).toBe(0);
        expect(published.stdout).toMatch(/^pushed: oci:\/\/.+\/charts\/chartmirror:\S+ sha256:[a-f0-9]{64}$/m);
        expect((await tagsOf(tls, 'charts/chartmirror')).length).toBe(1);
      } finally {
        await tls.stop();
      }
    });

    it('never replaces a published version: exit 1 and a line that says to raise the chart version', async () => {
      const chart = await loadYaml<{ version: string }>(join(CHART_DIR, 'Chart.yaml'));
      // Another archive already holds the tag (helm package stamps the time, so a new packaging differs too).
      const other = await packageChart(await tmpDir('publish-other-'), { name: 'chartmirror', version: chart.version });
      const home = await tmpDir('publish-taken-');
      expect((await runHelm(4, ['registry', 'login', reg.host, '-u', reg.username!, '--password-stdin', '--plain-http'], { home, input: reg.password })).code).toBe(0);
      expect((await runHelm(4, ['push', other, reg.oci('taken'), '--plain-http'], { home })).code).toBe(0);
      const digest = async () =>
        (await simpleRequest(`${reg.baseUrl}/v2/taken/chartmirror/manifests/${chart.version}`, {
          method: 'HEAD',
          headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
          basic: { username: reg.username!, password: reg.password! },
        })).headers['docker-content-digest'];
      const before = await digest();
      expect(before).toMatch(/^sha256:/);
      const r = await publish([reg.oci('taken'), '--plain-http'], { CHART_REGISTRY_USERNAME: reg.username!, CHART_REGISTRY_PASSWORD: reg.password! });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`chart:publish: chartmirror ${chart.version} is already published with other content; published versions are not replaced: raise version in deploy/chart/Chart.yaml`);
      expect(r.stdout).toBe('');
      expect(await digest()).toBe(before);
    });

    it('fails with exit 1 and no secret in its output when the registry refuses the credentials', async () => {
      const r = await publish([reg.oci('refused'), '--plain-http'], { CHART_REGISTRY_USERNAME: reg.username!, CHART_REGISTRY_PASSWORD: 'not-the-password-42' });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/authentication failed/i);
      expect(r.stderr + r.stdout).not.toContain('not-the-password-42');
      expect(await tagsOf(reg, 'refused/chartmirror')).toEqual([]);
    });
  });
});

// ---------------------------------------------------------------------------------------------

interface SchemaNode {
  $schema?: string;
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}

/** Dotted paths of the schema's keys, down through closed objects (additionalProperties: false). */
function schemaPaths(node: SchemaNode, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (child.properties && child.additionalProperties === false) out.push(...schemaPaths(child, path));
    else out.push(path);
  }
  return out;
}

/** The same paths, read from values.yaml along the schema's closed objects. */
function keyPaths(values: Record<string, unknown>, schema: SchemaNode, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const child = schema.properties?.[k];
    if (child?.properties && child.additionalProperties === false && v && typeof v === 'object') out.push(...keyPaths(v as Record<string, unknown>, child, path));
    else out.push(path);
  }
  return out;
}
