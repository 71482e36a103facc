import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { makeCA, makeCert } from '../support/pki.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { sha256Hex } from '../../src/util/digest.js';
import { craftRepo, explain, expectAllPushed, expectCleanFailure, helmPull, sync, type CraftedChart } from './registry-helpers.js';

/** HTTPS registries with a CA made by openssl, with and without token auth, and a source that wants a client certificate. */
describe.skipIf(!haveBinaries('docker-registry', 'openssl', 'nginx'))('TLS: registries and sources', () => {
  let work: string;
  let repoDir: string;
  let charts: CraftedChart[];
  let basic: RunningRegistry;
  let token: RunningRegistry;
  let otherCa: string;

  beforeAll(async () => {
    work = await tmpDir('tls-');
    repoDir = join(work, 'repo');
    charts = await craftRepo(repoDir, [['alpha', '1.0.0'], ['beta', '0.3.0']]);
    [basic, token] = await Promise.all([startRegistry({ tls: true, auth: 'htpasswd' }), startRegistry({ tls: true, auth: 'token' })]);
    otherCa = (await makeCA(join(work, 'other-ca'), 'unrelated-ca')).certFile;
  });

  afterAll(async () => {
    await Promise.all([basic?.stop(), token?.stop()]);
  });

  const target = (reg: RunningRegistry, path: string, tls?: Record<string, unknown>) => ({
    name: 'reg',
    url: reg.oci(path),
    auth: { username: reg.username, password: '${CM_TEST_PW}' },
    ...(tls ? { tls } : {}),
  });

  it('pushes over HTTPS with tls.ca (a bundle), and helm pulls the result', async () => {
    expect(basic.baseUrl).toMatch(/^https:/);
    const run = await sync(
      { sources: [{ name: 'local', url: repoDir }], targets: [target(basic, 'secure', { ca: [otherCa, basic.caFile] })] },
      { env: { CM_TEST_PW: basic.password! } },
    );
    expectAllPushed(run, charts.length);
    const c = charts[0]!;
    const pulled = await helmPull(basic, basic.oci('secure/alpha'), c.version, { archive: c.file, login: true });
    expect(sha256Hex(pulled)).toBe(sha256Hex(c.bytes));
  });

  it('an untrusted certificate: exit 1, one line naming the TLS problem, no stack trace', async () => {
    const run = await sync(
      { sources: [{ name: 'local', url: repoDir }], targets: [target(basic, 'untrusted')] },
      { env: { CM_TEST_PW: basic.password! } },
    );
    expect(run.code, explain(run)).toBe(1);
    expect(run.items.length).toBe(charts.length);
    for (const i of run.items) {
      expect(i.status).toBe('failed');
      expect(i.code).toBe('TLS');
      expect(i.reason).toMatch(/^TLS error for (HEAD|GET|POST) https:\/\/[^ ]+: certificate is not trusted; set tls\.ca to its CA bundle \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
    }
    const failures = run.stderr.split('\n').filter((l) => /TLS error/.test(l));
    expect(failures.length).toBe(charts.length); // one line per item, nothing spilled onto more lines
    expectCleanFailure(run, [basic.password!]);
  });

  it('a CA that did not sign the certificate is just as untrusted', async () => {
    const run = await sync(
      { sources: [{ name: 'local', url: repoDir }], targets: [target(basic, 'wrongca', { ca: otherCa })] },
      { env: { CM_TEST_PW: basic.password! } },
    );
    expect(run.code, explain(run)).toBe(1);
    expect(run.items).toHaveLength(charts.length); // not vacuous: every version failed, each for TLS
    for (const i of run.items) expect(i.code).toBe('TLS');
  });

  it('tls.insecureSkipVerify pushes without verifying', async () => {
    const run = await sync(
      { sources: [{ name: 'local', url: repoDir }], targets: [target(basic, 'insecure', { insecureSkipVerify: true })] },
      { env: { CM_TEST_PW: basic.password! } },
    );
    expectAllPushed(run, charts.length);
  });

  it('token auth over HTTPS: the realm is HTTPS too and trusted through the same tls.ca', async () => {
    expect(token.tokenRealm).toMatch(/^https:/);
    const run = await sync(
      { sources: [{ name: 'local', url: repoDir }], targets: [target(token, 'secure', { ca: token.caFile })] },
      { env: { CM_TEST_PW: token.password! } },
    );
    expectAllPushed(run, charts.length);
    const issued = token.tokensIssued!();
    expect(issued.length).toBeGreaterThan(0);
    expect(issued.every((t) => t.account === token.username)).toBe(true);
    const c = charts[1]!;
    const pulled = await helmPull(token, token.oci('secure/beta'), c.version, { archive: c.file, login: true });
    expect(sha256Hex(pulled)).toBe(sha256Hex(c.bytes));
  });

  describe('a source that requires a client certificate', () => {
    let server: StaticServer;
    let serverCa: string;
    let client: { certFile: string; keyFile: string };
    let stranger: { certFile: string; keyFile: string };

    beforeAll(async () => {
      const sca = await makeCA(join(work, 'server-ca'), 'source-server-ca');
      const cca = await makeCA(join(work, 'client-ca'), 'source-client-ca');
      const rogue = await makeCA(join(work, 'rogue-ca'), 'rogue-client-ca');
      serverCa = sca.certFile;
      const cert = await makeCert(sca, { name: 'nginx', hosts: ['127.0.0.1', 'localhost'] });
      client = await makeCert(cca, { name: 'mirror-client', client: true });
      stranger = await makeCert(rogue, { name: 'stranger', client: true });
      server = await startStaticServer({ root: repoDir, tls: { ...cert, clientCaFile: cca.certFile } });
    });

    afterAll(async () => {
      await server?.stop();
    });

    const layoutConfig = (tls: Record<string, unknown>, out: string) => ({
      sources: [{ name: 'mtls', url: server.url, tls }],
      targets: [{ name: 'disk', layout: join(work, out) }],
    });

    it('mirrors with tls: {ca, cert, key}', async () => {
      expect(server.url).toMatch(/^https:/);
      const run = await sync(layoutConfig({ ca: serverCa, cert: client.certFile, key: client.keyFile }, 'out-ok'));
      expectAllPushed(run, charts.length);
      const served = (await server.requests()).filter((r) => r.status === 200).map((r) => r.path);
      expect(served).toEqual(expect.arrayContaining(['/index.yaml', '/alpha-1.0.0.tgz', '/beta-0.3.0.tgz']));
    });

    it('without a client certificate: a clear message that one is required, no stack trace', async () => {
      const run = await sync(layoutConfig({ ca: serverCa }, 'out-nocert'));
      expect(run.code, explain(run)).not.toBe(0);
      expect(run.stderr).toMatch(/sources\.mtls: cannot read the index: .*requires a client certificate; set tls\.cert and tls\.key/);
      expect(run.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
      expectCleanFailure(run);
    });

    it('with a certificate the server does not trust: says so', async () => {
      const run = await sync(layoutConfig({ ca: serverCa, cert: stranger.certFile, key: stranger.keyFile }, 'out-stranger'));
      expect(run.code, explain(run)).not.toBe(0);
      expect(run.stderr).toMatch(/sources\.mtls: cannot read the index: .*rejected the client certificate/);
      expectCleanFailure(run);
    });
  });
});
