/**
 * Container images of charts (issue 12), against real parts and independent tools: umoci builds
 * the images (a two-platform index and single-platform ones), skopeo pushes them into a real
 * registry with htpasswd auth, charts come from real `helm create`/`helm package` with every way
 * of naming images, and skopeo reads the mirror back out. Charts stay byte-identical, images keep
 * their digests, and one journal, report, map and bundle cover both.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { runOk } from '../support/exec.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { helmBinary } from '../support/helm.js';
import { buildMultiPlatformLayout, type MultiPlatformLayout } from '../support/oci-images.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';

type Report = { items: ReportItem[]; summary: Record<string, number> };
type ChartImage = { image: string; methods: string[]; status?: string; reason?: string };

describe.skipIf(!haveBinaries('docker-registry', 'nginx', 'umoci', 'skopeo'))('images: found in charts, mirrored with them', () => {
  let work: string;
  let images: RunningRegistry;
  let target: RunningRegistry;
  let server: StaticServer;
  let built: MultiPlatformLayout;
  let dockerConfig: string;
  let repoDir: string;
  let report: Report;
  let first: { code: number; stderr: string };
  const digests: Record<string, string> = {};

  const creds = () => `${images.username}:${images.password}`;
  const inspectDigest = async (ref: string, creds?: string) => {
    const r = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${ref}`]);
    return `sha256:${(await import('node:crypto')).createHash('sha256').update(r.stdout).digest('hex')}`;
  };
  const item = (r: Report, kind: 'image' | 'chart', name: string) =>
    r.items.find((i) => (kind === 'image' ? i.kind === 'image' && i.chart.endsWith(name) : i.kind === undefined && i.chart === name))!;
  const env = () => ({ DOCKER_CONFIG: dockerConfig });

  beforeAll(async () => {
    work = await tmpDir('images-');
    built = await buildMultiPlatformLayout(join(work, 'umoci'));
    [images, target] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startRegistry()]);
    const push = (ref: string, to: string) => runOk('skopeo', ['copy', '--all', '--dest-tls-verify=false', '--dest-creds', creds(), `oci:${built.dir}:${ref}`, `docker://${images.host}/${to}`]);
    await push(built.ref, 'apps/web:1.0');
    await push('img-amd64', 'apps/worker:2.0');
    await push('img-arm64', 'apps/sidecar:0.1');
    await push('img-amd64', 'apps/locked:3.0');
    await push('img-arm64', 'apps/rendered:4.0');
    await push('img-amd64', 'apps/annotated:5.0');
    await push('img-arm64', 'apps/db:6.0');
    for (const [name, ref] of Object.entries({ web: 'apps/web:1.0', worker: 'apps/worker:2.0', sidecar: 'apps/sidecar:0.1', locked: 'apps/locked:3.0', rendered: 'apps/rendered:4.0', annotated: 'apps/annotated:5.0', db: 'apps/db:6.0' })) {
      digests[name] = await inspectDigest(`${images.host}/${ref}`, creds());
    }

    // Credentials for the image registry come from Docker's config, as for targets.
    dockerConfig = join(work, 'docker');
    await mkdir(dockerConfig);
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [images.host]: { auth: Buffer.from(creds()).toString('base64') } } }));

    const h = images.host;
    repoDir = join(work, 'repo');
    // helm create's chart: values image.repository / image.tag (empty: the appVersion).
    await packageChart(repoDir, {
      name: 'webapp',
      version: '1.0.0',
      chartYaml: { appVersion: '1.0' },
      files: {
        'values.yaml': yaml.dump({
          replicaCount: 1,
          image: { repository: `${h}/apps/web`, pullPolicy: 'IfNotPresent', tag: '' },
          serviceAccount: { create: true }, service: { type: 'ClusterIP', port: 80 }, ingress: { enabled: false }, resources: {}, autoscaling: { enabled: false },
          // A job image only `helm template` sees: not image-shaped in values.
          jobImage: { repo: `${h}/apps/rendered`, version: '4.0' },
          sidecar: { image: `${h}/apps/sidecar:0.1` },
        }),
        'templates/job.yaml': 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-job\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: job\n          image: "{{ .Values.jobImage.repo }}:{{ .Values.jobImage.version }}"\n',
      },
    });
    // Every annotation style, one image behind a false condition.
    await packageChart(repoDir, {
      name: 'annotated',
      version: '1.0.0',
      chartYaml: {
        annotations: {
          'helm.sh/images': yaml.dump([
            { name: 'annotated', image: `${h}/apps/annotated:5.0` },
            { name: 'off', image: `${h}/apps/never:1`, condition: 'extras.enabled' },
          ]),
          'artifacthub.io/images': yaml.dump([{ name: 'worker', image: `${h}/apps/worker:2.0`, whitelisted: true }]),
          images: yaml.dump([{ name: 'worker', image: `${h}/apps/worker:2.0` }]),
        },
      },
      files: { 'values.yaml': yaml.dump({ extras: { enabled: false }, image: { repository: 'nginx', tag: '' } }) },
    });
    // Bitnami's images.lock, with per-platform digests.
    await packageChart(repoDir, {
      name: 'locked',
      version: '1.0.0',
      files: {
        'images.lock': yaml.dump({ apiVersion: 'v0', kind: 'ImagesLock', images: [{ name: 'locked', image: `${h}/apps/locked:3.0`, digests: [{ digest: digests.locked, arch: 'linux/amd64' }] }] }),
        'values.yaml': yaml.dump({ image: { repository: 'nginx', tag: '' } }),
      },
    });
    // A subchart whose image registry comes from the parent's global.imageRegistry.
    await packageChart(repoDir, {
      name: 'parent',
      version: '1.0.0',
      files: {
        'values.yaml': yaml.dump({ global: { imageRegistry: h }, db: { image: { repository: 'apps/db', tag: '6.0' } } }),
        'charts/db/Chart.yaml': 'apiVersion: v2\nname: db\nversion: 0.1.0\n',
        'charts/db/values.yaml': yaml.dump({ image: { registry: 'docker.io', repository: 'library/postgres', tag: '16' } }),
      },
    });
    await indexRepo(repoDir);
    server = await startStaticServer({ root: repoDir });

    const config = await writeConfig(work, {
      sources: [{ name: 'charts', url: server.url, charts: { include: ['webapp', 'annotated', 'locked', 'parent'] } }],
      targets: [{ name: 'corp', url: target.oci('mirror'), plainHttp: true }],
      images: { enabled: true, exclude: ['docker.io/library/*'] },
      registries: { [images.host]: { plainHttp: true } },
    });
    first = await chartmirror(['sync', '--config', config, '--report', join(work, 'first.json'), '--map', join(work, 'map.json')], { env: env() });
    report = JSON.parse(await readFile(join(work, 'first.json'), 'utf8')) as Report;
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    await Promise.all([images?.stop(), target?.stop()]);
  });

  it('finds every image by annotations, images.lock and values, and copies each by its digest', async () => {
    expect(first.code, first.stderr).toBe(0);
    const h = images.host.replace(':', '-');
    for (const [name, tag] of [['web', '1.0'], ['worker', '2.0'], ['sidecar', '0.1'], ['locked', '3.0'], ['annotated', '5.0'], ['db', '6.0']] as const) {
      const i = item(report, 'image', `/apps/${name}`);
      expect(i?.status, name).toBe('pushed');
      expect(i.digest).toBe(digests[name]);
      expect(i.repository).toBe(`mirror/images/${h}/apps/${name}`);
      expect(await inspectDigest(`${target.host}/mirror/images/${h}/apps/${name}:${tag}`)).toBe(digests[name]);
    }
    // The multi-platform index was kept whole: skopeo pulls every platform out of the mirror.
    const raw = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${target.host}/mirror/images/${h}/apps/web:1.0`]);
    expect(raw.stdout).toBe(built.index.bytes.toString('utf8'));
    await runOk('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${target.host}/mirror/images/${h}/apps/web:1.0`, `dir:${join(work, 'pulled-web')}`]);
    // Nothing behind a false condition, nothing excluded, nothing only rendering would see.
    expect(report.items.some((i) => i.kind === 'image' && /never|postgres|nginx|rendered/.test(i.chart))).toBe(false);
  });

  it('records how each image was found, on the chart items and on the image items', () => {
    const web = item(report, 'chart', 'webapp').images as ChartImage[];
    expect(web.map((i) => [i.image.replace(images.host, 'H'), i.methods, i.status])).toEqual([
      ['H/apps/web:1.0', ['values'], 'pushed'],
      ['H/apps/sidecar:0.1', ['values'], 'pushed'],
    ]);
    const annotated = item(report, 'chart', 'annotated').images as ChartImage[];
    expect(annotated.map((i) => [i.image.replace(images.host, 'H'), i.methods])).toEqual([
      ['H/apps/annotated:5.0', ['annotation helm.sh/images']],
      ['H/apps/worker:2.0', ['annotation artifacthub.io/images', 'annotation images']],
    ]);
    expect((item(report, 'chart', 'locked').images as ChartImage[])[0]!.methods).toEqual(['lock']);
    expect((item(report, 'chart', 'parent').images as ChartImage[]).map((i) => i.image.replace(images.host, 'H'))).toEqual(['H/apps/db:6.0']);
    const worker = item(report, 'image', '/apps/worker');
    expect(worker.usedBy).toEqual(['charts/annotated@1.0.0']);
    expect(worker.methods).toEqual(['annotation artifacthub.io/images', 'annotation images']);
    // The charts themselves are byte-identical to helm push: same as without images (checked elsewhere); pushed here.
    for (const c of ['webapp', 'annotated', 'locked', 'parent']) expect(item(report, 'chart', c).status).toBe('pushed');
  });

  it('maps every image from its old reference to the new one, with its digest', async () => {
    const map = JSON.parse(await readFile(join(work, 'map.json'), 'utf8')) as { entries: Array<{ url: string; reference: string; tagReference: string; digest: string }> };
    const web = map.entries.find((e) => e.url === `${images.host}/apps/web:1.0`)!;
    const h = images.host.replace(':', '-');
    expect(web.reference).toBe(`oci://${target.host}/mirror/images/${h}/apps/web@${digests.web}`);
    expect(web.tagReference).toBe(`oci://${target.host}/mirror/images/${h}/apps/web:1.0`);
  });

  it('a rerun checks no image again (the journal), and --no-images leaves them out', async () => {
    const config = join(work, 'mirror.config.yaml');
    await target.clearRequests();
    const again = await chartmirror(['sync', '--config', config, '--report', join(work, 'again.json')], { env: env() });
    expect(again.code, again.stderr).toBe(0);
    const r = JSON.parse(await readFile(join(work, 'again.json'), 'utf8')) as Report;
    expect(r.items.filter((i) => i.kind === 'image').every((i) => i.status === 'present' && i.via === 'journal')).toBe(true);
    expect(r.items.filter((i) => i.kind === 'image')).toHaveLength(6);
    expect(await target.requests()).toEqual([]);
    const none = await chartmirror(['sync', '--config', config, '--no-images', '--report', join(work, 'none.json')], { env: env() });
    expect(none.code, none.stderr).toBe(0);
    expect((JSON.parse(await readFile(join(work, 'none.json'), 'utf8')) as Report).items.some((i) => i.kind === 'image')).toBe(false);
  });

  it('plan shows the images per chart, their bytes and what is present', async () => {
    const planCfg = await writeConfig(work, {
      sources: [{ name: 'charts', url: server.url, charts: { include: ['webapp'] } }],
      targets: [{ name: 'fresh', url: target.oci('planned'), plainHttp: true }],
      images: { enabled: true },
      registries: { [images.host]: { plainHttp: true } },
    }, 'plan.yaml');
    const p = await chartmirror(['plan', '--config', planCfg, '--report', join(work, 'plan.json')], { env: env() });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^images\s+fresh\s+2\s/m);
    const r = JSON.parse(await readFile(join(work, 'plan.json'), 'utf8')) as Report;
    const web = r.items.find((i) => i.kind === 'image' && i.chart.endsWith('/apps/web'))!;
    expect(web.status).toBe('planned');
    expect(web.archiveSize).toBeGreaterThan(built.index.size);
    expect(web.usedBy).toEqual(['charts/webapp@1.0.0']);
  });

  it.each([3, 4] as const)('render: helm %i template finds the image only a template names', async (major) => {
    const cfg = await writeConfig(work, {
      sources: [{ name: 'charts', url: server.url, charts: { include: ['webapp'] } }],
      targets: [{ name: 'disk', layout: `./rendered-${major}` }],
      // helm create's test pod runs busybox from Docker Hub: not reachable here, left out.
      images: { enabled: true, discover: ['values', 'render'], render: { helm: await helmBinary(major) }, exclude: ['docker.io/library/*'] },
      registries: { [images.host]: { plainHttp: true } },
    }, `render-${major}.yaml`);
    const r = await chartmirror(['sync', '--config', cfg, '--report', join(work, `render-${major}.json`)], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(await readFile(join(work, `render-${major}.json`), 'utf8')) as Report;
    const rendered = rep.items.find((i) => i.kind === 'image' && i.chart.endsWith('/apps/rendered'))!;
    expect(rendered.status).toBe('pushed');
    expect(rendered.methods).toEqual(['render']);
    expect(rendered.digest).toBe(digests.rendered);
    // Found by values, seen again by render.
    expect(rep.items.find((i) => i.kind === 'image' && i.chart.endsWith('/apps/web'))!.methods).toEqual(['values', 'render']);
  });

  it('a platform subset writes a new index (recorded with the source digest)', async () => {
    const cfg = await writeConfig(work, {
      sources: [],
      targets: [{ name: 'corp', url: target.oci('amd64'), plainHttp: true }],
      images: { enabled: true, platforms: ['linux/amd64'], extra: [`${images.host}/apps/web:1.0`] },
      registries: { [images.host]: { plainHttp: true } },
    }, 'subset.yaml');
    const r = await chartmirror(['sync', '--config', cfg, '--report', join(work, 'subset.json')], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const web = (JSON.parse(await readFile(join(work, 'subset.json'), 'utf8')) as Report).items.find((i) => i.kind === 'image')!;
    expect(web.sourceDigest).toBe(digests.web);
    expect(web.digest).not.toBe(digests.web);
    expect((web.warnings as string[]).join(' ')).toMatch(/a new index was written/);
    const raw = JSON.parse((await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${target.host}/amd64/images/${images.host.replace(':', '-')}/apps/web:1.0`])).stdout) as { manifests: Array<{ platform: { architecture: string } }> };
    expect(raw.manifests.map((m) => m.platform.architecture)).toEqual(['amd64']);
  });

  it('carries images across an air gap in the bundle, digests unchanged', async () => {
    const config = join(work, 'mirror.config.yaml');
    const bundle = join(work, 'gap', 'bundle.tar');
    const ex = await chartmirror(['export', '--config', config, '--to', bundle], { env: env() });
    expect(ex.code, ex.stderr).toBe(0);
    const inspected = await chartmirror(['inspect', bundle, '--verify']);
    expect(inspected.code, inspected.stdout).toBe(0);
    expect(inspected.stdout).toMatch(/^6 images:/m);
    const far = await startRegistry();
    try {
      const im = await chartmirror(['import', '--from', bundle, '--to', far.oci('gap'), '--plain-http', '--state', join(work, 'far-state')]);
      expect(im.code, im.stderr).toBe(0);
      const h = images.host.replace(':', '-');
      expect(await inspectDigest(`${far.host}/gap/images/${h}/apps/web:1.0`)).toBe(digests.web);
      expect(await inspectDigest(`${far.host}/gap/images/${h}/apps/db:6.0`)).toBe(digests.db);
      for (const c of ['webapp', 'annotated', 'locked', 'parent']) {
        expect(await inspectDigest(`${far.host}/gap/${c}:1.0.0`)).toBe(item(report, 'chart', c).digest);
      }
      // Incremental: with the far side's state, the next bundle leaves the images out.
      const next = await chartmirror(['export', '--config', config, '--to', join(work, 'gap', 'next.tar'), '--since', join(work, 'far-state', 'chartmirror-state.json'), '--report', join(work, 'next.json')], { env: env() });
      expect(next.code, next.stderr).toBe(0);
      const nr = JSON.parse(await readFile(join(work, 'next.json'), 'utf8')) as Report;
      expect(nr.items.filter((i) => i.kind === 'image').every((i) => i.status === 'excluded')).toBe(true);
    } finally {
      await far.stop();
    }
  });

  it('fails an image alone: a reference that does not parse, an image that does not exist, a blob that lies', async () => {
    const h = images.host;
    const badDir = join(work, 'badrepo');
    await packageChart(badDir, {
      name: 'bad',
      version: '1.0.0',
      chartYaml: { annotations: { 'helm.sh/images': yaml.dump([{ name: 'x', image: 'Not A Reference!!' }, { name: 'y', image: `${h}/apps/missing:9` }, { name: 'z', image: `${h}/apps/worker:2.0` }, { name: 'w', image: `${h}/apps/sidecar:0.1` }]) } },
    });
    await indexRepo(badDir);
    const badServer = await startStaticServer({ root: badDir });
    const sidecar = JSON.parse((await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', creds(), `docker://${h}/apps/sidecar:0.1`])).stdout) as { layers: Array<{ digest: string }> };
    try {
      const cfg = await writeConfig(work, {
        sources: [{ name: 'bad', url: badServer.url }],
        targets: [{ name: 'corp', url: target.oci('bad'), plainHttp: true }],
        images: { enabled: true, exclude: ['docker.io/library/*'] },
        registries: { [h]: { plainHttp: true } },
        http: { retries: { attempts: 2, backoff: '10ms' } },
      }, 'bad.yaml');
      const r = await chartmirror(['sync', '--config', cfg, '--report', join(work, 'bad.json')], { env: { DOCKER_CONFIG: dockerConfig } });
      expect(r.code).toBe(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const rep = JSON.parse(await readFile(join(work, 'bad.json'), 'utf8')) as Report;
      const img = (name: string) => rep.items.find((i) => i.kind === 'image' && i.chart.includes(name))!;
      expect(img('Not A Reference!!')).toMatchObject({ status: 'failed', code: 'REFERENCE' });
      expect(img('/apps/missing')).toMatchObject({ status: 'failed', code: 'NOT_FOUND' });
      expect(img('/apps/worker').status).toMatch(/pushed|present/);
      const chart = rep.items.find((i) => i.chart === 'bad')!;
      expect(chart.status).toBe('pushed');
      expect((chart.images as ChartImage[]).filter((i) => i.status === 'failed').map((i) => i.image)).toEqual(['Not A Reference!!', `${h}/apps/missing:9`]);
    } finally {
      await badServer.stop();
    }
    // A layer served with a flipped byte (its digest lies), through a proxy, as an extra image.
    const proxy2 = await startFaultProxy(images.baseUrl, ({ method, path }) => (method === 'GET' && path.endsWith(sidecar.layers[0]!.digest) ? 'corrupt' : undefined));
    const lying = await writeConfig(work, {
      sources: [],
      targets: [{ name: 'corp', url: target.oci('lying'), plainHttp: true }],
      images: { enabled: true, extra: [`${proxy2.host}/apps/sidecar:0.1`, `${h}/apps/worker:2.0`] },
      registries: { [h]: { plainHttp: true }, [proxy2.host]: { plainHttp: true, auth: { username: images.username, password: images.password } } },
      http: { retries: { attempts: 2, backoff: '10ms' } },
    }, 'lying.yaml');
    try {
      const r = await chartmirror(['sync', '--config', lying, '--report', join(work, 'lying.json')], { env: env() });
      expect(r.code).toBe(1);
      const rep = JSON.parse(await readFile(join(work, 'lying.json'), 'utf8')) as Report;
      const side = rep.items.find((i) => i.chart.endsWith('/apps/sidecar'))!;
      expect(side).toMatchObject({ status: 'failed', code: 'DIGEST' });
      expect(rep.items.find((i) => i.chart.endsWith('/apps/worker'))!.status).toBe('pushed');
      const tags = await fetch(`${target.baseUrl}/v2/lying/images/${proxy2.host.replace(':', '-')}/apps/sidecar/tags/list`);
      expect(tags.status === 404 || ((await tags.json()) as { tags: string[] | null }).tags === null).toBe(true);
    } finally {
      await proxy2.stop();
    }
  });
});
