/**
 * Charts from OCI registries (issue 11), against real parts: a source registry with token auth
 * holding charts pushed by real `helm push` 3.17.3 and 4.1.4 (one signed, with its .prov layer),
 * a chart with the legacy layer media type, a cosign-style `.sig` tag, an OCI 1.1 referrer kept
 * in the fallback tag index, tags that are not versions, and broken charts; a second registry
 * as the target. Digests must survive, helm must pull and verify the copies, referrers must
 * follow their subjects, and reruns must cost one tag listing per chart repository.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/content/open.js';
import { canPushReference, type OpenedStore, type Store } from '../../src/content/store.js';
import { bufferStream } from '../../src/content/verify.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { chartYaml, craftTgz } from '../support/craft.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { makeGpgKey, type GpgKey } from '../support/gpg.js';
import { runHelm, type HelmMajor } from '../support/helm.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';

type Report = { items: ReportItem[]; summary: Record<string, number> };
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe.skipIf(!haveBinaries('docker-registry', 'nginx', 'gpg'))('oci:// sources: OCI -> OCI by digest, with referrers', () => {
  let work: string;
  let source: RunningRegistry;
  let target: RunningRegistry;
  let key: GpgKey;
  let env: Record<string, string>;
  let config: string;
  let first: { code: number; stderr: string };
  let report: Report;
  /** Stores on the source, as the test's own independent pusher (token auth). */
  const stores: OpenedStore<Store>[] = [];
  const digests = new Map<string, string>();

  const src = async (repo: string) => {
    const s = await openStore(`oci://${source.host}/${repo}`, { plainHttp: true, auth: { username: source.username!, password: source.password! } });
    stores.push(s);
    return s;
  };
  const head = async (reg: RunningRegistry, repo: string, ref: string, auth = false) => {
    const s = auth ? await src(repo) : await openStore(`oci://${reg.host}/${repo}`, { plainHttp: true });
    if (!auth) stores.push(s);
    return (await s.resolve(ref))?.digest;
  };
  const item = (chart: string, version: string) => report.items.find((i) => i.chart === chart && i.version === version && i.source === 'oci')!;

  /** Push a manifest with the given config and layers into `repo` under `tag` (or by digest). */
  async function pushArtifact(repo: string, tag: string | undefined, config: { mediaType: string; bytes: Buffer }, layers: { mediaType: string; bytes: Buffer }[], extra: Record<string, unknown> = {}): Promise<Descriptor> {
    const s = await src(repo);
    const blob = async (mediaType: string, bytes: Buffer): Promise<Descriptor> => {
      const d = { mediaType, digest: sha(bytes), size: bytes.length };
      await s.push(d, async () => bufferStream(bytes));
      return d;
    };
    const cfg = await blob(config.mediaType, config.bytes);
    const ls = [];
    for (const l of layers) ls.push(await blob(l.mediaType, l.bytes));
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: cfg, layers: ls, ...extra }));
    const m = { mediaType: MANIFEST, digest: sha(body), size: body.length };
    if (tag && canPushReference(s)) await s.pushReference(m, body, tag);
    else await s.push(m, async () => bufferStream(body));
    return m;
  }

  async function helmPush(major: HelmMajor, tgz: string, home: string): Promise<void> {
    const login = ['registry', 'login', source.host, '-u', source.username!, '--password-stdin', ...(major === 4 ? ['--plain-http'] : [])];
    expect((await runHelm(major, login, { home, input: source.password })).code).toBe(0);
    const r = await runHelm(major, ['push', tgz, `oci://${source.host}/charts`, '--plain-http'], { home });
    expect(r.code, r.stderr).toBe(0);
    const digest = /Digest: (sha256:[a-f0-9]{64})/.exec(r.stdout + r.stderr)?.[1];
    expect(digest).toBeDefined();
    digests.set(tgz, digest!);
  }

  beforeAll(async () => {
    work = await tmpDir('oci-source-');
    key = await makeGpgKey(join(work, 'gpg'));
    [source, target] = await Promise.all([startRegistry({ auth: 'token' }), startRegistry()]);
    env = { SRC_PASSWORD: source.password! };

    // Real helm pushes, with both majors; the signed chart carries its .prov as a layer.
    const charts = join(work, 'charts');
    const alpha1 = await packageChart(charts, { name: 'alpha', version: '1.0.0' });
    const alpha2 = await packageChart(charts, { name: 'alpha', version: '1.1.0' }, { helm: 4 });
    const beta = await packageChart(charts, { name: 'beta', version: '0.1.0+build.7' });
    const signed = await packageChart(charts, { name: 'signed', version: '1.0.0' }, { sign: key });
    const home3 = await tmpDir('helm3-');
    const home4 = await tmpDir('helm4-');
    await helmPush(3, alpha1, home3);
    await helmPush(4, alpha2, home4);
    await helmPush(3, beta, home3);
    await helmPush(4, signed, home4);

    // A tag that is not a version.
    const alpha = await src('charts/alpha');
    const a1 = (await alpha.resolve('1.0.0'))!;
    if (!canPushReference(alpha)) throw new Error('registry stores push references');
    const a1bytes = await readAll(alpha, a1);
    await alpha.pushReference(a1, a1bytes, 'latest');

    // A chart pushed the way old Helm releases did: the chart layer as application/tar+gzip.
    const legacyTgz = craftTgz([
      { name: 'legacy/Chart.yaml', data: chartYaml('legacy', '2.0.0') },
      { name: 'legacy/values.yaml', data: 'a: 1\n' },
    ]);
    await pushArtifact('charts/legacy', '2.0.0', { mediaType: HELM_CONFIG, bytes: Buffer.from('{"name":"legacy","version":"2.0.0","apiVersion":"v2"}') }, [
      { mediaType: 'application/tar+gzip', bytes: legacyTgz },
    ]);

    // cosign-style signature of alpha 1.0.0, under its own tag.
    await pushArtifact(
      'charts/alpha',
      `sha256-${a1.digest.slice(7)}.sig`,
      { mediaType: 'application/vnd.oci.image.config.v1+json', bytes: Buffer.from('{}') },
      [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', bytes: Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': a1.digest } } })) }],
    );

    // An OCI 1.1 referrer (an SBOM) of the signed chart, listed in the fallback tag index.
    const signedRepo = await src('charts/signed');
    const signedDesc = (await signedRepo.resolve('1.0.0'))!;
    const sbom = await pushArtifact(
      'charts/signed',
      undefined,
      { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') },
      [{ mediaType: 'application/spdx+json', bytes: Buffer.from('{"spdxVersion":"SPDX-2.3"}') }],
      { artifactType: 'application/spdx+json', subject: signedDesc },
    );
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...sbom, artifactType: 'application/spdx+json' }] }));
    if (!canPushReference(signedRepo)) throw new Error('registry stores push references');
    await signedRepo.pushReference({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha(index), size: index.length }, index, `sha256-${signedDesc.digest.slice(7)}`);

    config = await writeConfig(work, {
      sources: [
        {
          name: 'oci',
          url: `oci://${source.host}/charts`,
          plainHttp: true,
          auth: { username: source.username, password: '${SRC_PASSWORD}' },
          charts: { include: ['alpha', 'beta', 'legacy', 'signed'] },
          verify: { keyring: key.keyringFile },
        },
      ],
      targets: [{ name: 'corp', url: target.oci('mirror'), plainHttp: true }],
    });
    first = await chartmirror(['sync', '--config', config, '--report', join(work, 'first.json'), '--map', join(work, 'map.json')], { env });
    report = JSON.parse(await readFile(join(work, 'first.json'), 'utf8')) as Report;
  }, 300_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all([source?.stop(), target?.stop()]);
  });

  async function readAll(s: Store, d: Descriptor): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await s.fetch(d)) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  }

  it('copies every chart version by digest: the target digest is the source digest (helm 3 and 4 pushes alike)', async () => {
    expect(first.code, first.stderr).toBe(0);
    for (const [chart, version, tag] of [
      ['alpha', '1.0.0', '1.0.0'],
      ['alpha', '1.1.0', '1.1.0'],
      ['beta', '0.1.0+build.7', '0.1.0_build.7'],
      ['signed', '1.0.0', '1.0.0'],
      ['legacy', '2.0.0', '2.0.0'],
    ] as const) {
      const want = await head(source, `charts/${chart}`, tag, true);
      expect(await head(target, `mirror/${chart}`, tag), `${chart} ${version}`).toBe(want);
      const i = item(chart, version);
      expect(i.status).toBe('pushed');
      expect(i.digest).toBe(want);
      expect(i.url).toBe(`oci://${source.host}/charts/${chart}@${want}`);
    }
    // What helm push printed is what landed.
    for (const [tgz, digest] of digests) expect(report.items.some((i) => i.digest === digest), tgz).toBe(true);
  });

  it('reports tags that are not versions as excluded, and warns about the legacy media type', () => {
    const latest = report.items.find((i) => i.chart === 'alpha' && i.version === 'latest')!;
    expect(latest.status).toBe('excluded');
    expect(latest.reason).toBe('tag "latest" is not a SemVer version');
    expect((item('legacy', '2.0.0').warnings as string[]).join(' ')).toMatch(/legacy media type application\/tar\+gzip/);
    // Referrer tags are not versions either, and not excluded items: they travel with their subjects.
    expect(report.items.some((i) => i.version.startsWith('sha256-'))).toBe(false);
  });

  it.each([3, 4] as const)('helm %i pull --verify works on the signed chart copied from OCI', async (major) => {
    expect(item('signed', '1.0.0').provenance).toBe('verified');
    const dest = await tmpDir('pull-');
    const r = await runHelm(major, ['pull', target.oci('mirror/signed'), '--version', '1.0.0', '--verify', '--keyring', key.keyringFile, '--plain-http', '-d', dest]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('carries referrers after their subjects: the cosign .sig tag and the OCI 1.1 SBOM', async () => {
    const a1 = (await head(source, 'charts/alpha', '1.0.0', true))!;
    const sigTag = `sha256-${a1.slice(7)}.sig`;
    const sig = await head(source, 'charts/alpha', sigTag, true);
    expect(await head(target, 'mirror/alpha', sigTag)).toBe(sig);
    expect(item('alpha', '1.0.0').referrers).toEqual([
      { digest: sig, artifactType: 'cosign sig', tag: sigTag, reference: `oci://${target.host}/mirror/alpha@${sig}` },
    ]);

    const s1 = (await head(source, 'charts/signed', '1.0.0', true))!;
    const t = await openStore(`oci://${target.host}/mirror/signed`, { plainHttp: true });
    stores.push(t);
    const idx = (await t.resolve(`sha256-${s1.slice(7)}`))!;
    expect(idx.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const listed = JSON.parse((await readAll(t, idx)).toString('utf8')) as { manifests: Array<{ digest: string; artifactType?: string }> };
    expect(listed.manifests).toHaveLength(1);
    expect(listed.manifests[0]!.artifactType).toBe('application/spdx+json');
    expect((item('signed', '1.0.0').referrers as Array<{ digest: string }>).map((r) => r.digest)).toEqual([listed.manifests[0]!.digest]);
    const map = JSON.parse(await readFile(join(work, 'map.json'), 'utf8')) as { entries: Array<{ chart: string; version: string; url: string; referrers?: string[] }> };
    const entry = map.entries.find((e) => e.chart === 'alpha' && e.version === '1.0.0')!;
    expect(entry.url).toBe(`oci://${source.host}/charts/alpha@${a1}`);
    expect(entry.referrers).toEqual([`oci://${target.host}/mirror/alpha@${sig}`]);
  });

  it('a rerun uploads nothing, and asks the source for one tag listing per chart repository', async () => {
    await Promise.all([source.clearRequests(), target.clearRequests()]);
    const r = await chartmirror(['sync', '--config', config, '--report', join(work, 'rerun.json')], { env });
    expect(r.code, r.stderr).toBe(0);
    const rerun = JSON.parse(await readFile(join(work, 'rerun.json'), 'utf8')) as Report;
    expect(rerun.summary.pushed).toBe(0);
    expect(rerun.summary.present).toBe(5);
    expect(await target.requests()).toEqual([]);
    const seen = (await source.requests()).filter((q) => q.status !== 401);
    expect(seen.map((q) => `${q.method} ${q.path}`).sort()).toEqual(
      ['alpha', 'beta', 'legacy', 'signed'].map((c) => `GET /v2/charts/${c}/tags/list`),
    );
  });

  it('lists the catalog for include globs, and a registry that refuses it is a config error that says what to do', async () => {
    const globbed = await writeConfig(work, {
      sources: [{ name: 'oci', url: `oci://${source.host}/charts`, plainHttp: true, auth: { username: source.username, password: '${SRC_PASSWORD}' }, charts: { include: ['al*'] } }],
      targets: [{ name: 'corp', url: target.oci('globbed'), plainHttp: true }],
    }, 'globbed.yaml');
    const p = await chartmirror(['plan', '--config', globbed, '--report', join(work, 'globbed.json')], { env });
    expect(p.code, p.stderr).toBe(0);
    const planned = (JSON.parse(await readFile(join(work, 'globbed.json'), 'utf8')) as Report).items.filter((i) => i.status === 'planned');
    expect(planned.map((i) => `${i.chart} ${i.version}`).sort()).toEqual(['alpha 1.0.0', 'alpha 1.1.0']);
    expect(planned.every((i) => typeof i.archiveSize === 'number' && i.archiveSize > 0)).toBe(true); // sizes from the manifests

    // Anonymous: the token service grants no catalog access.
    const anonymous = await writeConfig(work, {
      sources: [{ name: 'oci', url: `oci://${source.host}/charts`, plainHttp: true, charts: { include: ['al*'] } }],
      targets: [{ name: 'corp', url: target.oci('anon'), plainHttp: true }],
    }, 'anonymous.yaml');
    const refused = await chartmirror(['sync', '--config', anonymous]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^chartmirror: sources\.oci: 127\.0\.0\.1:\d+ does not list its repositories \(no catalog\); name the charts in charts\.include/);
  });

  it('mixes classic and OCI sources into one target', async () => {
    const repo = join(work, 'classic');
    await packageChart(repo, { name: 'gamma', version: '3.0.0' });
    await indexRepo(repo);
    const server: StaticServer = await startStaticServer({ root: repo });
    try {
      const mixed = await writeConfig(work, {
        sources: [
          { name: 'classic', url: server.url },
          { name: 'oci', url: `oci://${source.host}/charts`, plainHttp: true, auth: { username: source.username, password: '${SRC_PASSWORD}' }, charts: { include: ['beta'] } },
        ],
        targets: [{ name: 'corp', url: target.oci('mixed'), plainHttp: true }],
      }, 'mixed.yaml');
      const r = await chartmirror(['sync', '--config', mixed, '--report', join(work, 'mixed.json')], { env });
      expect(r.code, r.stderr).toBe(0);
      const items = (JSON.parse(await readFile(join(work, 'mixed.json'), 'utf8')) as Report).items;
      expect(items.map((i) => `${i.source} ${i.chart} ${i.status}`).sort()).toEqual(['classic gamma pushed', 'oci beta pushed']);
      expect(await head(target, 'mixed/beta', '0.1.0_build.7')).toBe(await head(source, 'charts/beta', '0.1.0_build.7', true));
    } finally {
      await server.stop();
    }
  });

  it('OCI -> OCI on one registry mounts blobs instead of uploading them', async () => {
    const same = await writeConfig(work, {
      sources: [{ name: 'oci', url: `oci://${source.host}/charts`, plainHttp: true, auth: { username: source.username, password: '${SRC_PASSWORD}' }, charts: { include: ['alpha'] }, referrers: false }],
      targets: [{ name: 'here', url: `oci://${source.host}/copies`, plainHttp: true, auth: { username: source.username, password: '${SRC_PASSWORD}' } }],
    }, 'same.yaml');
    await source.clearRequests();
    const r = await chartmirror(['sync', '--config', same, '--report', join(work, 'same.json')], { env });
    expect(r.code, r.stderr).toBe(0);
    const requests = await source.requests();
    const mounts = requests.filter((q) => q.method === 'POST' && q.url.includes('mount=') && q.status === 201);
    expect(mounts.length).toBeGreaterThanOrEqual(2);
    expect(requests.some((q) => q.method === 'PUT' && q.path.startsWith('/v2/copies/alpha/blobs/uploads/'))).toBe(false);
    // referrers: false leaves the .sig behind.
    const a1 = (await head(source, 'charts/alpha', '1.0.0', true))!;
    expect(await head(source, 'copies/alpha', `sha256-${a1.slice(7)}.sig`, true)).toBeUndefined();
  });

  it('a 429 storm slows the run down but loses nothing', async () => {
    // Every third request is throttled the first time it is made (Retry-After: 1 s, for the whole host).
    const proxy = await startFaultProxy(source.baseUrl, ({ seen, index }) => (seen === 0 && index % 3 === 0 ? '429' : undefined));
    try {
      const stormy = await writeConfig(work, {
        sources: [{ name: 'oci', url: `oci://${proxy.host}/charts`, plainHttp: true, auth: { username: source.username, password: '${SRC_PASSWORD}' }, charts: { include: ['alpha', 'beta', 'signed'] }, verify: { keyring: key.keyringFile } }],
        targets: [{ name: 'corp', url: target.oci('stormy'), plainHttp: true }],
        http: { retries: { backoff: '10ms', maxBackoff: '50ms' } },
      }, 'stormy.yaml');
      const r = await chartmirror(['sync', '--config', stormy, '--report', join(work, 'stormy.json')], { env });
      expect(r.code, r.stderr).toBe(0);
      const s = (JSON.parse(await readFile(join(work, 'stormy.json'), 'utf8')) as Report).summary;
      expect(s.pushed).toBe(4);
      expect(s.failed).toBe(0);
      expect(proxy.injected()['429']).toBeGreaterThan(3);
      expect(await head(target, 'stormy/signed', '1.0.0')).toBe(await head(source, 'charts/signed', '1.0.0', true));
    } finally {
      await proxy.stop();
    }
  });

  it('carries OCI charts and their referrers across an air gap: export, inspect --verify, import', async () => {
    const bundle = join(work, 'gap', 'bundle.tar');
    const exported = await chartmirror(['export', '--config', config, '--to', bundle, '--report', join(work, 'export.json')], { env });
    expect(exported.code, exported.stderr).toBe(0);
    const inspected = await chartmirror(['inspect', bundle, '--verify', '--json']);
    expect(inspected.code, inspected.stdout).toBe(0);
    const listing = JSON.parse(inspected.stdout) as { listing: { charts: Array<{ chart: string; version: string; digest: string; referrers?: Array<{ tag?: string }> }> }; problems: string[] };
    expect(listing.problems).toEqual([]);
    const alpha1 = listing.listing.charts.find((c) => c.chart === 'alpha' && c.version === '1.0.0')!;
    expect(alpha1.referrers?.map((r) => r.tag)).toEqual([`sha256-${alpha1.digest.slice(7)}.sig`]);

    const farSide = await startRegistry();
    try {
      const imported = await chartmirror(['import', '--from', bundle, '--to', farSide.oci('airgap'), '--plain-http', '--state', join(work, 'far-state')]);
      expect(imported.code, imported.stderr).toBe(0);
      for (const c of listing.listing.charts) {
        const tag = c.version.split('+').join('_');
        expect(await head(farSide, `airgap/${c.chart}`, tag), `${c.chart} ${c.version}`).toBe(await head(source, `charts/${c.chart}`, tag, true));
      }
      const sigTag = `sha256-${alpha1.digest.slice(7)}.sig`;
      expect(await head(farSide, 'airgap/alpha', sigTag)).toBe(await head(source, 'charts/alpha', sigTag, true));
      const s1 = listing.listing.charts.find((c) => c.chart === 'signed')!;
      expect(await head(farSide, 'airgap/signed', `sha256-${s1.digest.slice(7)}`)).toBeDefined();
    } finally {
      await farSide.stop();
    }
  });

  it('refuses what is not a Helm chart, a chart layer that names another chart, and bytes that lie; nothing is tagged', async () => {
    await pushArtifact('bad/notachart', '1.0.0', { mediaType: 'application/vnd.oci.image.config.v1+json', bytes: Buffer.from('{}') }, [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', bytes: Buffer.from('not a chart') },
    ]);
    const other = craftTgz([{ name: 'other/Chart.yaml', data: chartYaml('other', '1.0.0') }]);
    await pushArtifact('bad/wrongname', '1.0.0', { mediaType: HELM_CONFIG, bytes: Buffer.from('{"name":"other","version":"1.0.0","apiVersion":"v2"}') }, [
      { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', bytes: other },
    ]);
    const lying = craftTgz([{ name: 'lying/Chart.yaml', data: chartYaml('lying', '1.0.0') }]);
    await pushArtifact('bad/lying', '1.0.0', { mediaType: HELM_CONFIG, bytes: Buffer.from('{"name":"lying","version":"1.0.0","apiVersion":"v2"}') }, [
      { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', bytes: lying },
    ]);
    const proxy = await startFaultProxy(source.baseUrl, ({ method, path }) => (method === 'GET' && path.startsWith('/v2/bad/lying/blobs/') && path.endsWith(sha(lying)) ? 'corrupt' : undefined));
    try {
      const bad = await writeConfig(work, {
        sources: [{ name: 'bad', url: `oci://${proxy.host}/bad`, plainHttp: true, auth: { username: source.username, password: '${SRC_PASSWORD}' }, charts: { include: ['notachart', 'wrongname', 'lying'] } }],
        targets: [{ name: 'corp', url: target.oci('bad'), plainHttp: true }],
        http: { retries: { attempts: 2, backoff: '10ms' } },
      }, 'bad.yaml');
      const r = await chartmirror(['sync', '--config', bad, '--report', join(work, 'bad.json')], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const items = (JSON.parse(await readFile(join(work, 'bad.json'), 'utf8')) as Report).items;
      const why = (chart: string) => items.find((i) => i.chart === chart)!;
      expect(why('notachart')).toMatchObject({ status: 'failed', code: 'CHART' });
      expect(why('notachart').reason).toBe('not a Helm chart: its config is application/vnd.oci.image.config.v1+json, not application/vnd.cncf.helm.config.v1+json');
      expect(why('wrongname')).toMatchObject({ status: 'failed', code: 'CHART', reason: 'Chart.yaml name "other" does not match the repository name "wrongname"' });
      expect(why('lying')).toMatchObject({ status: 'failed', code: 'DIGEST' });
      expect(why('lying').reason).toContain('content does not match its digest');
      for (const chart of ['notachart', 'wrongname', 'lying']) expect(await head(target, `bad/${chart}`, '1.0.0')).toBeUndefined();
    } finally {
      await proxy.stop();
    }
  });
});
