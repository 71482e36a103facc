/**
 * Proxies and the system trust store (docs/network.md), against a real forward proxy (Debian
 * tinyproxy, with and without Basic auth), nginx and the CNCF registry with token auth over
 * HTTPS. The servers listen on 127.0.0.2 and 127.0.0.3 under names from /etc/hosts
 * (support/hosts.ts): loopback IPs and `localhost` are never proxied, names are. The proxy's own
 * log proves what went through it.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js';
import { haveTestHosts, TEST_HOSTS } from '../support/hosts.js';
import { makeCA, makeCert } from '../support/pki.js';
import { freePort } from '../support/proc.js';
import { sample, startPushgateway } from '../support/pushgateway.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { craftRepo, type CraftedChart } from './registry-helpers.js';

const PROXY_USER = 'mirror';
const PROXY_PASSWORD = 'Pr0xy-Secret-5521';
const REGISTRY_PASSWORD_VAR = 'CM_TEST_PW';

/** Every form a proxy credential could leak in. */
const PROXY_SECRETS = [PROXY_PASSWORD, Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64')];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  dir: string;
  items: ReportItem[];
}

describe.skipIf(!haveBinaries('tinyproxy', 'nginx', 'docker-registry', 'openssl', 'prometheus-pushgateway') || !haveTestHosts())('proxies and the system trust store', () => {
  let work: string;
  let charts: CraftedChart[];
  let web: StaticServer;
  let secureWeb: StaticServer;
  let registry: RunningRegistry;
  let proxy: ForwardProxy;
  let openProxy: ForwardProxy;
  /** The registry's and the HTTPS source's private CAs, and nothing else: what SSL_CERT_FILE names. */
  let bundle: string;

  beforeAll(async () => {
    work = await tmpDir('proxy-');
    const repo = join(work, 'repo');
    charts = await craftRepo(repo, [['alpha', '1.0.0'], ['beta', '0.3.0']]);
    const sourceCa = await makeCA(join(work, 'source-ca'), 'charts-test-ca');
    const cert = await makeCert(sourceCa, { name: 'charts', hosts: [TEST_HOSTS.charts.name] });
    const at = { address: TEST_HOSTS.charts.address, hostName: TEST_HOSTS.charts.name };
    [web, secureWeb, registry, proxy, openProxy] = await Promise.all([
      startStaticServer({ root: repo, ...at }),
      startStaticServer({ root: repo, ...at, tls: cert }),
      startRegistry({ tls: true, auth: 'token', address: TEST_HOSTS.registry.address, hostName: TEST_HOSTS.registry.name }),
      startForwardProxy({ basicAuth: { username: PROXY_USER, password: PROXY_PASSWORD } }),
      startForwardProxy(),
    ]);
    bundle = join(work, 'private-cas.pem');
    await writeFile(bundle, `${await readFile(registry.caFile!, 'utf8')}${await readFile(sourceCa.certFile, 'utf8')}`);
  });

  afterAll(async () => {
    await Promise.all([web?.stop(), secureWeb?.stop(), registry?.stop(), proxy?.stop(), openProxy?.stop()]);
  });

  const target = (extra: Record<string, unknown> = {}) => ({
    name: 'reg',
    url: registry.oci('mirror'),
    auth: { username: registry.username, password: `\${${REGISTRY_PASSWORD_VAR}}` },
    ...extra,
  });

  /** chartmirror with a fresh state directory and a report, Helm's and Docker's credentials out of the way. */
  async function run(command: 'sync' | 'plan', config: unknown, env: Record<string, string>, args: string[] = []): Promise<Run> {
    const dir = await tmpDir('proxy-run-');
    const file = await writeConfig(dir, config);
    const report = join(dir, 'report.json');
    const r = await chartmirror([command, '--config', file, '--state', join(dir, 'state'), ...(command === 'sync' ? ['--report', report] : []), ...args], {
      env: { HOME: dir, HELM_REGISTRY_CONFIG: '', HELM_CONFIG_HOME: '', XDG_CONFIG_HOME: '', DOCKER_CONFIG: '', [REGISTRY_PASSWORD_VAR]: registry.password!, ...env },
    });
    let items: ReportItem[] = [];
    try {
      items = (JSON.parse(await readFile(report, 'utf8')) as { items: ReportItem[] }).items;
    } catch {
      // no report: the run stopped before any work
    }
    return { ...r, dir, items };
  }

  const explain = (r: Run) => `exit ${r.code}\n${r.items.map((i) => `${i.chart} ${i.version}: ${i.status} ${i.reason ?? ''}`).join('\n')}\n--- stderr ---\n${r.stderr}`;
  const viaProxy = (url: string) => ({ HTTPS_PROXY: url, HTTP_PROXY: url });
  const hostOf = (url: string) => {
    const u = new URL(url);
    return `${u.hostname}:${u.port}`;
  };

  /** Every file under `dir`, as text. */
  async function filesUnder(dir: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      out.set(path, await readFile(path, 'latin1'));
    }
    return out;
  }

  it('an http source and an https registry with token auth, both through a proxy that wants credentials; the CA only in SSL_CERT_FILE', async () => {
    await proxy.clearRequests();
    const r = await run('sync', { sources: [{ name: 'web', url: web.url }], targets: [target()] }, { ...viaProxy(proxy.authUrl!), SSL_CERT_FILE: bundle }, ['--verbose']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.items.map((i) => i.status)).toEqual(charts.map(() => 'pushed'));

    // The proxy's own log: absolute-form GETs for the http source, CONNECT tunnels to the
    // registry and to its token service (the same endpoint, so the same proxy).
    const seen = await proxy.requests();
    const gets = seen.filter((q) => q.method === 'GET').map((q) => q.target);
    expect(gets).toEqual(expect.arrayContaining([`${web.url}/index.yaml`, ...charts.map((c) => `${web.url}/${c.name}-${c.version}.tgz`)]));
    const tunnels = new Set(seen.filter((q) => q.method === 'CONNECT').map((q) => q.target));
    expect(tunnels).toEqual(new Set([registry.host, hostOf(registry.tokenRealm!)]));
    expect(registry.tokensIssued!().length).toBeGreaterThan(0);
    expect((await registry.requests()).some((q) => q.method === 'PUT' && q.path.includes('/manifests/'))).toBe(true);

    // --verbose says how each host is reached, once per host.
    const network = r.stderr.split('\n').filter((l) => l.startsWith('network: '));
    expect(network).toEqual(
      expect.arrayContaining([
        `network: ${web.url} via proxy ${proxy.url} (HTTP_PROXY)`,
        `network: ${registry.baseUrl} via proxy ${proxy.url} (HTTPS_PROXY)`,
        `network: ${new URL(registry.tokenRealm!).origin} via proxy ${proxy.url} (HTTPS_PROXY)`,
      ]),
    );
    expect(network.length).toBe(3);

    // The proxy credential is nowhere: output, report, journal, index cache.
    const files = await filesUnder(r.dir);
    expect([...files.keys()].some((f) => f.includes(`${join('state', 'index-cache')}`)), 'the index cache was written').toBe(true);
    expect([...files.keys()].some((f) => f.endsWith('journal.jsonl')), 'the journal was written').toBe(true);
    for (const secret of PROXY_SECRETS) {
      expect(r.stdout + r.stderr, 'the proxy password leaked into the output').not.toContain(secret);
      for (const [file, text] of files) expect(text, `the proxy password leaked into ${file}`).not.toContain(secret);
    }
  });

  it('NO_PROXY sends a named host direct, and plan says how each host is reached', async () => {
    await proxy.clearRequests();
    await web.clearRequests();
    const planFile = join(await tmpDir('proxy-plan-'), 'plan.json');
    const r = await run(
      'plan',
      { sources: [{ name: 'web', url: web.url }], targets: [target()] },
      { ...viaProxy(proxy.authUrl!), NO_PROXY: `example.com, ${TEST_HOSTS.charts.name}`, SSL_CERT_FILE: bundle },
      ['--output', planFile],
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const at = lines.indexOf('Network (how each host is reached):');
    expect(at, r.stdout).toBeGreaterThan(0);
    const network = lines.slice(at + 1).map((l) => l.trim().split(/\s{2,}/));
    expect(network).toEqual(
      expect.arrayContaining([
        [web.url, 'direct', '(NO_PROXY)'],
        [registry.baseUrl, `via proxy ${proxy.url}`, '(HTTPS_PROXY)'],
      ]),
    );
    // The index came straight from the server; the proxy saw the registry (the plan lists its tags) and nothing of the source's host.
    expect((await web.requests()).map((q) => q.path)).toContain('/index.yaml');
    const seen = await proxy.requests();
    expect(seen.some((q) => q.method === 'CONNECT' && q.target === registry.host)).toBe(true);
    expect(seen.filter((q) => q.host.startsWith(`${TEST_HOSTS.charts.name}:`))).toEqual([]);
    const planText = await readFile(planFile, 'utf8');
    expect(planText).toContain('chartmirror-plan');
    for (const secret of PROXY_SECRETS) {
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(planText, 'the proxy password leaked into the plan file').not.toContain(secret);
    }
  });

  it('without SSL_CERT_FILE the registry (reached through the tunnel) is not trusted: the usual TLS hint', async () => {
    await proxy.clearRequests();
    const r = await run('sync', { sources: [{ name: 'web', url: web.url }], targets: [target()] }, { ...viaProxy(proxy.authUrl!), SSL_CERT_FILE: '', SSL_CERT_DIR: '' });
    expect(r.code, explain(r)).toBe(1);
    expect(r.items).toHaveLength(charts.length);
    for (const i of r.items) {
      expect(i.code).toBe('TLS');
      expect(i.reason).toMatch(/^TLS error for (HEAD|GET|POST) https:\/\/registry\.chartmirror\.test:\d+\/[^ ]*: certificate is not trusted; set tls\.ca to its CA bundle \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
    }
    // The tunnel was open: TLS runs end to end, so it is the registry's certificate that failed.
    expect((await proxy.requests()).some((q) => q.method === 'CONNECT' && q.target === registry.host)).toBe(true);
  });

  it("tls.ca adds to the trust store, as Docker's certs.d does: an unrelated CA there takes nothing away, and the registry's CA there alone is enough", async () => {
    const other = await makeCA(join(work, 'other-ca'), 'unrelated-ca');
    // The registry's CA only in SSL_CERT_FILE, an unrelated one in tls.ca: still trusted.
    const kept = await run('sync', { sources: [{ name: 'web', url: web.url }], targets: [target({ url: registry.oci('adds-system'), tls: { ca: other.certFile } })] }, { ...viaProxy(proxy.authUrl!), SSL_CERT_FILE: bundle });
    expect(kept.code, explain(kept)).toBe(0);
    expect(kept.items.map((i) => i.status)).toEqual(charts.map(() => 'pushed'));
    // The registry's CA only in tls.ca, no system bundle at all: trusted too.
    const own = await run('sync', { sources: [{ name: 'web', url: web.url }], targets: [target({ url: registry.oci('adds-own'), tls: { ca: [other.certFile, registry.caFile!] } })] }, { ...viaProxy(proxy.authUrl!), SSL_CERT_FILE: join(work, 'no-such-bundle.pem'), SSL_CERT_DIR: join(work, 'no-such-dir') });
    expect(own.code, explain(own)).toBe(0);
    expect(own.items.map((i) => i.status)).toEqual(charts.map(() => 'pushed'));
  });

  it('a wrong proxy password: one line that names the proxy, not the server, and no password', async () => {
    const wrong = `http://${PROXY_USER}:Wrong-pw-7731@${new URL(proxy.url).host}`;
    const r = await run('sync', { sources: [{ name: 'web', url: secureWeb.url }], targets: [{ name: 'disk', layout: './out' }] }, { HTTPS_PROXY: wrong, SSL_CERT_FILE: bundle });
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^chartmirror: sources\\.web: cannot read the index: proxy authentication failed: the proxy ${proxy.url.replace(/\./g, '\\.')} \\(HTTPS_PROXY\\) answered 401 to CONNECT ${secureWeb.host.replace(/\./g, '\\.')}; check the user and password in HTTPS_PROXY$`,
        ),
      ),
    ]);
    expect(r.stderr).not.toContain('Wrong-pw-7731');
  });

  it('no proxy credentials at all: the 407 to an absolute-form request, in one line', async () => {
    const r = await run('sync', { sources: [{ name: 'web', url: web.url }], targets: [{ name: 'disk', layout: './out' }] }, { HTTP_PROXY: proxy.url });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `chartmirror: sources.web: cannot read the index: proxy authentication failed: the proxy ${proxy.url} (HTTP_PROXY) answered 407 to GET ${web.url}/index.yaml; it wants credentials: put user:password@ before the host in HTTP_PROXY`,
    ]);
  });

  it("http.proxy in the config replaces the environment's proxy, and a target's proxy: false goes direct", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    await openProxy.clearRequests();
    const r = await run(
      'sync',
      { http: { proxy: { http: openProxy.url } }, sources: [{ name: 'web', url: web.url }], targets: [target({ proxy: false })] },
      { ...viaProxy(dead), SSL_CERT_FILE: bundle },
      ['--verbose'],
    );
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toContain(`network: ${web.url} via proxy ${openProxy.url} (http.proxy.http)`);
    expect(r.stderr).toContain(`network: ${registry.baseUrl} direct (targets.reg.proxy: false)`);
    const seen = await openProxy.requests();
    expect(seen.some((q) => q.method === 'GET' && q.target === `${web.url}/index.yaml`)).toBe(true);
    expect(seen.filter((q) => q.method === 'CONNECT')).toEqual([]);
  });

  it('the Pushgateway push goes through the proxy too', async () => {
    const gateway = await startPushgateway({ address: TEST_HOSTS.charts.address, hostName: TEST_HOSTS.charts.name });
    try {
      await openProxy.clearRequests();
      const r = await run('sync', { sources: [{ name: 'web', url: web.url }], targets: [{ name: 'disk', layout: './out' }] }, { HTTP_PROXY: openProxy.url }, [
        '--pushgateway',
        gateway.url,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toContain('warning: metrics');
      expect((await openProxy.requests()).map((q) => `${q.method} ${q.target}`)).toContain(`POST ${gateway.url}/metrics/job/chartmirror/config/mirror.config`);
      expect(sample(await gateway.samples(), 'chartmirror_run_items', { config: 'mirror.config', target: 'disk', status: 'pushed' }).value).toBe(charts.length);
    } finally {
      await gateway.stop();
    }
  });
});
