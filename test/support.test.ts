// Self-test of test/support: every helper is exercised against the real tool it wraps.
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries, IN_CI, requireBinary } from './support/bins.js';
import { indexRepo, packageChart } from './support/charts.js';
import { makeGpgKey, revokeKey, type GpgKey } from './support/gpg.js';
import { HELM_BUILDS, helmBinary, REPO_ROOT, runHelm, type HelmMajor } from './support/helm.js';
import { simpleRequest } from './support/http.js';
import { makeCA, makeCert } from './support/pki.js';
import { startRegistry, type RunningRegistry } from './support/registry.js';
import { startStaticServer } from './support/static-server.js';
import { tmpDir } from './support/tmp.js';
import { waitFor } from './support/wait.js';

const MAJORS: HelmMajor[] = [3, 4];

describe('bins', () => {
  it('finds binaries on PATH', () => {
    expect(requireBinary('sh')).toMatch(/\/sh$/);
  });

  it('reports a missing binary: undefined locally, an error naming the package in CI', () => {
    const missing = 'chartmirror-no-such-binary';
    if (IN_CI) {
      expect(() => requireBinary(missing, 'some-pkg')).toThrow(/chartmirror-no-such-binary.*some-pkg/);
    } else {
      expect(requireBinary(missing, 'some-pkg')).toBeUndefined();
      expect(requireBinary(missing, 'some-pkg')).toBeUndefined(); // second call: no second notice
    }
  });
});

describe('tmp + helm', () => {
  it('tmpDir makes a fresh directory under os.tmpdir()', async () => {
    const [a, b] = await Promise.all([tmpDir('x-'), tmpDir('x-')]);
    expect(a).not.toBe(b);
    expect(a.startsWith(tmpdir())).toBe(true);
    expect((await stat(a)).isDirectory()).toBe(true);
  });

  it.each(MAJORS)('helm %i is the pinned build, with an isolated home', async (major) => {
    const bin = await helmBinary(major);
    expect(bin).toContain(join('.cache', 'helm', HELM_BUILDS[major].version));
    const home = await tmpDir('home-');
    const version = await runHelm(major, ['version', '--short'], { home });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(new RegExp(`^v${HELM_BUILDS[major].version.replace(/\./g, '\\.')}\\+`));
    const env = await runHelm(major, ['env'], { home });
    expect(env.stdout).toContain(`HELM_CONFIG_HOME="${join(home, 'config')}"`);
    expect(env.stdout).toContain(`HELM_CACHE_HOME="${join(home, 'cache')}"`);
    expect(env.stdout).toContain(`HELM_DATA_HOME="${join(home, 'data')}"`);
  });

  it('runHelm does not throw on a non-zero exit', async () => {
    const result = await runHelm(3, ['show', 'chart', '/nonexistent/chart.tgz']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Error/);
  });
});

describe.skipIf(!haveBinaries('gpg', 'openssl', 'docker-registry', 'nginx'))('with real tools', () => {
  let work: string;
  let rsa: GpgKey;
  let chartTgz: string; // signed, with a + in its version: pushes two layers and a _ tag

  beforeAll(async () => {
    work = await tmpDir('support-test-');
    rsa = await makeGpgKey(join(work, 'rsa'), { name: 'Support Test', email: 'support@chartmirror.invalid' });
    chartTgz = await packageChart(
      join(work, 'charts'),
      {
        name: 'demo',
        version: '1.2.3+build.7',
        chartYaml: { description: 'support self-test', annotations: { 'example.com/team': 'mirror' } },
        files: { 'templates/extra.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n' },
      },
      { sign: rsa, mtime: new Date('2024-05-06T07:08:09Z') },
    );
  });

  describe('gpg + charts', () => {
    it('makes an RSA key with its exports', async () => {
      expect(rsa.fingerprint).toMatch(/^[0-9A-F]{40}$/);
      expect(rsa.keyId).toBe(rsa.fingerprint.slice(-16));
      const pub = await readFile(rsa.keyringFile);
      expect(pub[0]! & 0x80).toBe(0x80); // a binary OpenPGP packet, not armour
      expect(await readFile(rsa.armoredFile, 'utf8')).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
      expect((await readFile(rsa.secretKeyringFile)).length).toBeGreaterThan(pub.length);
    });

    it('packages a chart with the requested metadata, files and mtime', async () => {
      expect(basename(chartTgz)).toBe('demo-1.2.3+build.7.tgz');
      expect((await stat(chartTgz)).mtime.toISOString()).toBe('2024-05-06T07:08:09.000Z');
      const shown = await runHelm(3, ['show', 'chart', chartTgz]);
      const meta = yaml.load(shown.stdout) as Record<string, unknown>;
      expect(meta).toMatchObject({
        name: 'demo',
        version: '1.2.3+build.7',
        description: 'support self-test',
        annotations: { 'example.com/team': 'mirror' },
        apiVersion: 'v2',
      });
      const manifests = await runHelm(3, ['template', 'x', chartTgz]);
      expect(manifests.stdout).toContain('name: extra');
    });

    it.each(MAJORS)('a chart signed with --sign passes helm %i verify', async (major) => {
      const verified = await runHelm(major, ['verify', chartTgz, '--keyring', rsa.keyringFile]);
      expect(verified.stderr).toBe('');
      expect(verified.code).toBe(0);
      expect(verified.stdout).toContain(`Using Key With Fingerprint: ${rsa.fingerprint}`);
    });

    it('verification fails with another key', async () => {
      const other = await makeGpgKey(join(work, 'other'), { type: 'ed25519' });
      expect(other.fingerprint).not.toBe(rsa.fingerprint);
      const verified = await runHelm(4, ['verify', chartTgz, '--keyring', other.keyringFile]);
      expect(verified.code).not.toBe(0);
    });

    it('ed25519 keys sign with Helm 4 (Helm 3 cannot read them)', async () => {
      const ed = await makeGpgKey(join(work, 'ed'), { type: 'ed25519', name: 'Ed Signer', email: 'ed@chartmirror.invalid' });
      const tgz = await packageChart(join(work, 'ed-charts'), { name: 'edchart', version: '0.1.0' }, { sign: ed, helm: 4 });
      const verified = await runHelm(4, ['verify', tgz, '--keyring', ed.keyringFile]);
      expect(verified.code).toBe(0);
      expect(verified.stdout).toContain(ed.fingerprint);
      const helm3 = await runHelm(3, ['verify', tgz, '--keyring', ed.keyringFile]);
      expect(helm3.stderr).toContain('unsupported feature');
    });

    it('signs with a passphrase-protected key; a revoked key no longer verifies', async () => {
      const key = await makeGpgKey(join(work, 'pp'), { passphrase: 'correct horse', expire: '1d' });
      const tgz = await packageChart(join(work, 'pp-charts'), { name: 'ppchart', version: '2.0.0-rc.1' }, { sign: key });
      expect((await runHelm(3, ['verify', tgz, '--keyring', key.keyringFile])).code).toBe(0);
      await revokeKey(key);
      const after = await runHelm(4, ['verify', tgz, '--keyring', key.keyringFile]);
      expect(after.code).not.toBe(0);
      expect(after.stderr).toMatch(/revoked/);
    });

    it('indexRepo writes index.yaml with relative or absolute URLs', async () => {
      const repo = join(work, 'charts');
      const index = yaml.load(await readFile(await indexRepo(repo), 'utf8')) as {
        entries: Record<string, Array<{ version: string; urls: string[]; digest: string }>>;
      };
      expect(index.entries.demo?.[0]).toMatchObject({ version: '1.2.3+build.7', urls: ['demo-1.2.3+build.7.tgz'] });
      const absolute = yaml.load(await readFile(await indexRepo(repo, { url: 'https://charts.example.com/x' }), 'utf8')) as typeof index;
      expect(absolute.entries.demo?.[0]?.urls).toEqual(['https://charts.example.com/x/demo-1.2.3+build.7.tgz']);
    });
  });

  describe('registry', () => {
    const registries: RunningRegistry[] = [];
    afterAll(async () => {
      await Promise.all(registries.map((r) => r.stop()));
    });
    async function start(opts: Parameters<typeof startRegistry>[0]): Promise<RunningRegistry> {
      const r = await startRegistry(opts);
      registries.push(r);
      return r;
    }

    /** helm registry login (when auth is on) + helm push; asserts success and returns the pushed digest. */
    async function loginAndPush(reg: RunningRegistry, major: HelmMajor, repoPath: string): Promise<string> {
      const home = await tmpDir('helm-home-');
      const tlsFlags = reg.caFile ? ['--ca-file', reg.caFile] : [];
      if (reg.username) {
        const loginFlags = reg.caFile ? tlsFlags : major === 3 ? ['--insecure'] : ['--plain-http'];
        const login = await runHelm(major, ['registry', 'login', reg.host, '--username', reg.username, '--password-stdin', ...loginFlags], {
          home,
          input: reg.password,
        });
        expect(login.stderr + login.stdout).toContain('Login Succeeded');
        expect(login.code).toBe(0);
      }
      const push = await runHelm(major, ['push', chartTgz, reg.oci(repoPath), ...(reg.caFile ? tlsFlags : ['--plain-http'])], { home });
      expect(push.stderr).toContain(`Pushed: ${reg.host}/${repoPath}/demo:1.2.3_build.7`);
      expect(push.code).toBe(0);
      const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(push.stderr)?.[1];
      expect(digest).toBeDefined();
      return digest!;
    }

    async function expectPushSeen(reg: RunningRegistry, repoPath: string): Promise<void> {
      const requests = await reg.requests();
      expect(requests).toContainEqual(
        expect.objectContaining({ method: 'PUT', path: `/v2/${repoPath}/demo/manifests/1.2.3_build.7`, status: 201 }),
      );
      // Two layers (chart + prov) and the config.
      const blobPuts = requests.filter((r) => r.method === 'PUT' && r.path.startsWith(`/v2/${repoPath}/demo/blobs/uploads/`));
      expect(blobPuts.length).toBeGreaterThanOrEqual(3);
    }

    it('auth none: /v2/ is open, helm 3 and 4 push, requests() sees the pushes', async () => {
      const reg = await start({});
      expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(reg.username).toBeUndefined();
      expect((await simpleRequest(`${reg.baseUrl}/v2/`)).status).toBe(200);
      const d3 = await loginAndPush(reg, 3, 'h3');
      const d4 = await loginAndPush(reg, 4, 'h4');
      expect(d4).toBe(d3); // same bytes, same mtime: Helm 3 and 4 build the same manifest
      await expectPushSeen(reg, 'h3');
      await expectPushSeen(reg, 'h4');
      const manifest = await simpleRequest(`${reg.baseUrl}/v2/h4/demo/manifests/1.2.3_build.7`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      expect(manifest.headers['docker-content-digest']).toBe(d3);
      const layers = manifest.json<{ layers: Array<{ mediaType: string }> }>().layers.map((l) => l.mediaType).sort();
      expect(layers).toEqual(['application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'application/vnd.cncf.helm.chart.provenance.v1.prov']);
      await reg.clearRequests();
      expect(await reg.requests()).toEqual([]);
      // Deletes are enabled.
      const del = await simpleRequest(`${reg.baseUrl}/v2/h4/demo/manifests/${d3}`, { method: 'DELETE' });
      expect(del.status).toBe(202);
    });

    it('auth htpasswd: 401 without or with wrong credentials; helm 3 and 4 log in and push', async () => {
      const reg = await start({ auth: 'htpasswd', users: { alice: 'a-pass', bob: 'b:pass' } });
      expect(reg.username).toBe('alice');
      const anonymous = await simpleRequest(`${reg.baseUrl}/v2/`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm=/);
      expect((await simpleRequest(`${reg.baseUrl}/v2/`, { basic: { username: 'alice', password: 'nope' } })).status).toBe(401);
      expect((await simpleRequest(`${reg.baseUrl}/v2/`, { basic: { username: 'bob', password: 'b:pass' } })).status).toBe(200);
      const badLogin = await runHelm(4, ['registry', 'login', reg.host, '-u', 'alice', '--password-stdin', '--plain-http'], { input: 'wrong' });
      expect(badLogin.code).not.toBe(0);
      for (const major of MAJORS) await loginAndPush(reg, major, `ht${major}`);
      await expectPushSeen(reg, 'ht3');
      expect((await reg.requests()).some((r) => r.status === 401)).toBe(true);
    });

    it('auth token: Bearer challenge, token protocol (GET, POST, refresh), helm 3 and 4 log in and push', async () => {
      const reg = await start({ auth: 'token' });
      const challenge = await simpleRequest(`${reg.baseUrl}/v2/`);
      expect(challenge.status).toBe(401);
      expect(challenge.headers['www-authenticate']).toBe(`Bearer realm="${reg.tokenRealm}",service="${reg.tokenService}"`);
      const scope = 'repository:team/demo:pull,push,delete';
      const q = `service=${encodeURIComponent(reg.tokenService!)}&scope=${encodeURIComponent(scope)}`;
      const user = { username: reg.username!, password: reg.password! };

      // GET: anonymous gets a token with no access; a wrong password gets 401; a user gets what was asked.
      const anon = await simpleRequest(`${reg.tokenRealm}?${q}`);
      expect(anon.status).toBe(200);
      expect(jwtClaims(anon.json<{ token: string }>().token).access).toEqual([]);
      expect((await simpleRequest(`${reg.tokenRealm}?${q}`, { basic: { ...user, password: 'wrong' } })).status).toBe(401);
      const got = await simpleRequest(`${reg.tokenRealm}?${q}&offline_token=true&client_id=t`, { basic: user });
      const body = got.json<{ token: string; access_token: string; expires_in: number; issued_at: string; refresh_token: string }>();
      expect(body.expires_in).toBe(300);
      expect(body.refresh_token).toBeTruthy();
      const claims = jwtClaims(body.token);
      expect(claims).toMatchObject({ sub: user.username, aud: reg.tokenService, access: [{ type: 'repository', name: 'team/demo', actions: ['pull', 'push', 'delete'] }] });
      const header = JSON.parse(Buffer.from(body.token.split('.')[0]!, 'base64url').toString()) as { alg: string; x5c: string[] };
      expect(header.alg).toBe('RS256');
      expect(header.x5c).toHaveLength(1);
      // The registry accepts it.
      const tags = await simpleRequest(`${reg.baseUrl}/v2/team/demo/tags/list`, { headers: { authorization: `Bearer ${body.token}` } });
      expect(tags.status).toBe(404); // NAME_UNKNOWN: authorised, nothing pushed yet

      // POST: password grant (client_id required), then refresh_token grant.
      const form = (f: Record<string, string>): { method: string; headers: Record<string, string>; body: string } => ({
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(f).toString(),
      });
      const base = { service: reg.tokenService!, scope: 'repository:team/demo:pull registry:catalog:*' };
      expect((await simpleRequest(reg.tokenRealm!, form({ ...base, grant_type: 'password', username: user.username, password: user.password }))).status).toBe(400);
      expect((await simpleRequest(reg.tokenRealm!, form({ ...base, grant_type: 'password', client_id: 't', username: user.username, password: 'x' }))).status).toBe(401);
      const pw = (await simpleRequest(reg.tokenRealm!, form({ ...base, grant_type: 'password', client_id: 't', access_type: 'offline', ...user }))).json<{ access_token: string; refresh_token: string }>();
      expect(pw.refresh_token).toBeTruthy();
      expect(jwtClaims(pw.access_token).access).toEqual([
        { type: 'repository', name: 'team/demo', actions: ['pull'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ]);
      const refreshed = await simpleRequest(reg.tokenRealm!, form({ ...base, grant_type: 'refresh_token', client_id: 't', refresh_token: pw.refresh_token }));
      expect(refreshed.status).toBe(200);
      const catalog = await simpleRequest(`${reg.baseUrl}/v2/_catalog`, { headers: { authorization: `Bearer ${refreshed.json<{ access_token: string }>().access_token}` } });
      expect(catalog.status).toBe(200);

      for (const major of MAJORS) await loginAndPush(reg, major, `tk${major}`);
      await expectPushSeen(reg, 'tk3');
      await expectPushSeen(reg, 'tk4');
      const issued = reg.tokensIssued!();
      expect(issued.some((t) => t.account === 'pusher' && t.scope.includes('repository:tk4/demo:pull,push'))).toBe(true);
      expect(issued.filter((t) => t.account === undefined)).toHaveLength(1); // the anonymous GET above
      expect(new Set(issued.map((t) => t.via))).toEqual(new Set(['get', 'password', 'refresh_token']));
    });

    it('auth token: the registry rejects a token once tokenExpiresIn has passed', async () => {
      const reg = await start({ auth: 'token', tokenExpiresIn: 3 });
      const asked = Date.now(); // before the token was issued
      const token = (await simpleRequest(`${reg.tokenRealm}?service=${reg.tokenService}&scope=repository:x/y:pull`, {
        basic: { username: reg.username!, password: reg.password! },
      })).json<{ token: string; expires_in: number }>();
      expect(token.expires_in).toBe(3);
      const url = `${reg.baseUrl}/v2/x/y/tags/list`;
      const status = async () => (await simpleRequest(url, { headers: { authorization: `Bearer ${token.token}` } })).status;
      expect(await status()).toBe(404); // accepted: authorised, nothing there
      await waitFor(async () => (await status()) === 401, { what: 'the registry to reject the expired token', timeoutMs: 10_000, intervalMs: 100 });
      // Not before its time (exp is in whole seconds: 2 to 3 s after issue), and not 60 s of leeway later.
      expect(Date.now() - asked).toBeGreaterThanOrEqual(2000);
    });

    it('tls: HTTPS with the returned CA, helm 3 and 4 push; without the CA helm fails', async () => {
      const reg = await start({ tls: true });
      expect(reg.baseUrl).toMatch(/^https:/);
      const ca = await readFile(reg.caFile!);
      expect((await simpleRequest(`${reg.baseUrl}/v2/`, { ca })).status).toBe(200);
      await expect(simpleRequest(`${reg.baseUrl}/v2/`)).rejects.toThrow(/certificate/);
      for (const major of MAJORS) await loginAndPush(reg, major, `tls${major}`);
      await expectPushSeen(reg, 'tls3');
      const noCa = await runHelm(4, ['push', chartTgz, reg.oci('noca')]);
      expect(noCa.code).not.toBe(0);
      expect(noCa.stderr).toMatch(/certificate/);
    });

    it('tls + token: helm 3 and 4 log in through an HTTPS token issuer and push', async () => {
      const reg = await start({ tls: true, auth: 'token' });
      expect(reg.tokenRealm).toMatch(/^https:/);
      const ca = await readFile(reg.caFile!);
      expect((await simpleRequest(`${reg.baseUrl}/v2/`, { ca })).status).toBe(401);
      for (const major of MAJORS) await loginAndPush(reg, major, `tt${major}`);
      await expectPushSeen(reg, 'tt4');
    });
  });

  describe('static server (nginx)', () => {
    it('serves files with ETag/Last-Modified, answers conditional GETs, logs requests', async () => {
      const root = join(work, 'charts');
      await indexRepo(root);
      const server = await startStaticServer({ root });
      try {
        const index = await simpleRequest(`${server.url}/index.yaml`);
        expect(index.status).toBe(200);
        expect(index.text()).toBe(await readFile(join(root, 'index.yaml'), 'utf8'));
        expect(index.headers.etag).toBeTruthy();
        expect(index.headers['last-modified']).toBeTruthy();
        const again = await simpleRequest(`${server.url}/index.yaml`, { headers: { 'if-none-match': index.headers.etag! } });
        expect(again.status).toBe(304);
        const tgz = await simpleRequest(`${server.url}/${encodeURIComponent(basename(chartTgz))}`);
        expect(tgz.body.equals(await readFile(chartTgz))).toBe(true);
        expect((await simpleRequest(`${server.url}/missing.tgz`)).status).toBe(404);
        const requests = await server.requests();
        expect(requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
          'GET /index.yaml 200',
          'GET /index.yaml 304',
          `GET /${encodeURIComponent(basename(chartTgz))} 200`,
          'GET /missing.tgz 404',
        ]);
        expect(requests[1]!.ifNoneMatch).toBe(index.headers.etag);
      } finally {
        await server.stop();
      }
    });

    it('enforces basic auth; helm 3 and 4 repo add + pull through it', async () => {
      const root = join(work, 'charts');
      await indexRepo(root);
      const auth = { username: 'reader', password: 'p@ss word' };
      const server = await startStaticServer({ root, basicAuth: auth });
      try {
        expect((await simpleRequest(`${server.url}/index.yaml`)).status).toBe(401);
        expect((await simpleRequest(`${server.url}/index.yaml`, { basic: { ...auth, password: 'x' } })).status).toBe(401);
        expect((await simpleRequest(`${server.url}/index.yaml`, { basic: auth })).status).toBe(200);
        for (const major of MAJORS) {
          const home = await tmpDir('helm-home-');
          const add = await runHelm(major, ['repo', 'add', 'demo-repo', server.url, '--username', auth.username, '--password-stdin'], {
            home,
            input: auth.password,
          });
          expect(add.stderr).toBe('');
          const dest = await tmpDir('pull-');
          const pull = await runHelm(major, ['pull', 'demo-repo/demo', '--version', '1.2.3+build.7', '--destination', dest, '--verify', '--keyring', rsa.keyringFile], { home });
          expect(pull.stderr).toBe('');
          expect(pull.code).toBe(0);
          expect((await readFile(join(dest, basename(chartTgz)))).equals(await readFile(chartTgz))).toBe(true);
        }
        expect((await server.requests()).filter((r) => r.user === auth.username && r.path.endsWith('.prov')).length).toBe(2);
      } finally {
        await server.stop();
      }
    });

    it('requires a client certificate when clientCaFile is set; gzip adds Content-Encoding to .tgz', async () => {
      const pki = await tmpDir('pki-');
      const ca = await makeCA(pki);
      const serverCert = await makeCert(ca, { name: 'static' });
      const client = await makeCert(ca, { name: 'client', client: true });
      const root = await tmpDir('root-');
      await writeFile(join(root, 'a-1.0.0.tgz'), await readFile(chartTgz));
      const server = await startStaticServer({ root, tls: { ...serverCert, clientCaFile: ca.certFile }, gzip: true });
      try {
        const caPem = await readFile(ca.certFile);
        expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        expect((await simpleRequest(`${server.url}/a-1.0.0.tgz`, { ca: caPem })).status).toBe(400); // no certificate sent
        const ok = await simpleRequest(`${server.url}/a-1.0.0.tgz`, {
          ca: caPem,
          cert: await readFile(client.certFile),
          key: await readFile(client.keyFile),
        });
        expect(ok.status).toBe(200);
        expect(ok.headers['content-encoding']).toBe('gzip');
        expect(ok.body.equals(await readFile(chartTgz))).toBe(true);
        expect((await server.requests()).map((r) => r.status)).toEqual([400, 200]);
      } finally {
        await server.stop();
      }
    });
  });

  it('leaves only the expected files in the chart output directory', async () => {
    const names = (await readdir(join(work, 'charts'))).sort();
    expect(names).toEqual(['demo-1.2.3+build.7.tgz', 'demo-1.2.3+build.7.tgz.prov', 'index.yaml']);
  });
});

describe('examples/ (the bundled classic repository)', () => {
  const repo = join(REPO_ROOT, 'examples', 'repo');
  const keyring = join(REPO_ROOT, 'examples', 'keys', 'pubring.gpg');

  it('index.yaml lists every archive with its sha256, with relative URLs', async () => {
    const index = yaml.load(await readFile(join(repo, 'index.yaml'), 'utf8')) as {
      apiVersion: string;
      entries: Record<string, Array<{ name: string; version: string; digest: string; urls: string[] }>>;
    };
    expect(index.apiVersion).toBe('v1');
    const listed: string[] = [];
    for (const versions of Object.values(index.entries)) {
      for (const v of versions) {
        expect(v.urls).toEqual([`${v.name}-${v.version}.tgz`]);
        const bytes = await readFile(join(repo, v.urls[0]!));
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(v.digest);
        listed.push(v.urls[0]!);
      }
    }
    const files = (await readdir(repo)).filter((f) => f.endsWith('.tgz'));
    expect(listed.sort()).toEqual(files.sort());
    const versions = Object.values(index.entries).flat().map((v) => v.version);
    expect(versions.some((v) => v.includes('+'))).toBe(true);
    expect(versions.some((v) => /^\d+\.\d+\.\d+-/.test(v))).toBe(true);
  });

  it.each(MAJORS)('the signed version verifies with examples/keys/pubring.gpg (helm %i)', async (major) => {
    const provs = (await readdir(repo)).filter((f) => f.endsWith('.tgz.prov'));
    expect(provs).toEqual(['hello-web-1.0.0.tgz.prov']);
    const verified = await runHelm(major, ['verify', join(repo, 'hello-web-1.0.0.tgz'), '--keyring', keyring]);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
  });
});

function jwtClaims(token: string): Record<string, unknown> & { access: unknown } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown> & { access: unknown };
}
