import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { CLI, chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';

interface Seen {
  method: string;
  url: string;
}

/**
 * A pass-through proxy in front of the real registry, so a test can stop the CLI at an exact
 * point: `hold` decides, per request, to hang it (never forwarded, never answered) instead.
 */
async function startProxy(upstream: string, hold: (req: IncomingMessage, n: number) => boolean): Promise<{ host: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url! });
    if (hold(req, seen.length)) return;
    const [hostname, port] = upstream.split(':');
    const up = request({ hostname, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

/**
 * An import killed with SIGKILL after its first chart version is tagged (the second manifest
 * PUT is held at the proxy, then the process is killed), then run again: it finishes the job and
 * sends nothing for what was already done. Credentials come from a Docker config file.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('bundles: an interrupted import resumes', () => {
  let work: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  let bundle: string;
  let env: NodeJS.ProcessEnv;
  let listing: { charts: Array<{ chart: string; version: string; tag: string; digest: string }> };
  const stateDir = () => join(work, 'state');

  const importArgs = (proxyHost: string, ...extra: string[]) => [
    CLI, 'import', '--from', bundle, '--to', `oci://${proxyHost}/seeded`, '--plain-http', '--concurrency', '1', ...extra,
  ];
  const basic = () => ({ username: registry.username!, password: registry.password! });
  const tagsOf = async (chart: string) => {
    const r = await simpleRequest(`${registry.baseUrl}/v2/seeded/${chart}/tags/list`, { basic: basic() });
    return r.status === 404 ? [] : r.json<{ tags: string[] }>().tags.sort();
  };

  beforeAll(async () => {
    work = await tmpDir('bundle-resume-');
    const repoDir = join(work, 'repo');
    for (const [name, version] of [['alpha', '1.0.0'], ['alpha', '1.1.0'], ['beta', '1.0.0'], ['gamma', '1.0.0']]) {
      await packageChart(repoDir, { name: name!, version: version! });
    }
    await indexRepo(repoDir);
    server = await startStaticServer({ root: repoDir });
    registry = await startRegistry({ auth: 'htpasswd' });
    const config = await writeConfig(work, { sources: [{ name: 'classic', url: server.url }], targets: [{ name: 'unused', layout: './unused' }] });
    bundle = join(work, 'bundle.tar');
    const exp = await chartmirror(['export', '--config', config, '--to', bundle]);
    expect(exp.code, exp.stderr).toBe(0);
    listing = JSON.parse((await chartmirror(['inspect', bundle, '--json'])).stdout).listing;
    // No helm config in this HOME: the Docker config below is where the credentials come from.
    const home = join(work, 'home');
    await mkdir(join(home, 'docker'), { recursive: true });
    env = { ...process.env, HOME: home, DOCKER_CONFIG: join(home, 'docker'), NO_COLOR: '1' };
    delete env.HELM_REGISTRY_CONFIG;
    delete env.HELM_CONFIG_HOME;
    delete env.XDG_CONFIG_HOME;
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  async function dockerLogin(host: string): Promise<void> {
    const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
    await writeFile(join(env.DOCKER_CONFIG!, 'config.json'), JSON.stringify({ auths: { [host]: { auth } } }));
  }

  it('is killed after the first chart version is tagged, and a rerun finishes without redoing it', async () => {
    let child: ChildProcess | undefined;
    let killAtManifestPut: number | undefined = 2;
    let manifestPuts = 0;
    const proxy = await startProxy(registry.host, (req) => {
      if (req.method !== 'PUT' || !req.url!.includes('/manifests/')) return false;
      if (++manifestPuts !== killAtManifestPut) return false;
      child!.kill('SIGKILL');
      return true;
    });
    try {
      await dockerLogin(proxy.host);
      child = spawn(process.execPath, importArgs(proxy.host, '--state', stateDir()), { env, stdio: ['ignore', 'ignore', 'pipe'] });
      const first = await exited(child);
      expect(first.signal, first.stderr).toBe('SIGKILL');
      const [a100, a110] = listing.charts;
      expect(a100).toMatchObject({ chart: 'alpha', version: '1.0.0' });
      expect(a110).toMatchObject({ chart: 'alpha', version: '1.1.0' });
      // The first version is tagged; the second has its blobs in but no tag: nothing partial is visible.
      expect(await tagsOf('alpha')).toEqual(['1.0.0']);
      expect(await tagsOf('beta')).toEqual([]);

      killAtManifestPut = undefined;
      proxy.seen.length = 0;
      const report = join(work, 'rerun.json');
      const second = await exited(spawn(process.execPath, importArgs(proxy.host, '--state', stateDir(), '--report', report), { env, stdio: ['ignore', 'ignore', 'pipe'] }));
      expect(second.code, second.stderr).toBe(0);
      expect(statuses(await readFile(report, 'utf8'))).toEqual({
        'alpha@1.0.0': 'present via journal',
        'alpha@1.1.0': 'pushed',
        'beta@1.0.0': 'pushed',
        'gamma@1.0.0': 'pushed',
      });
      const writes = proxy.seen.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
      expect(writes.filter((r) => r.url.includes('/manifests/')).map((r) => r.url).sort()).toEqual([
        '/v2/seeded/alpha/manifests/1.1.0',
        '/v2/seeded/beta/manifests/1.0.0',
        '/v2/seeded/gamma/manifests/1.0.0',
      ]);
      // Nothing at all was sent for the version the killed run had finished.
      const a100Blobs = await blobsOf(a100!.digest);
      expect(writes.filter((r) => a100Blobs.some((d) => r.url.includes(d)))).toEqual([]);
      for (const c of listing.charts) {
        const head = await simpleRequest(`${registry.baseUrl}/v2/seeded/${c.chart}/manifests/${c.tag}`, {
          method: 'HEAD',
          basic: basic(),
          headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
        });
        expect(head.headers['docker-content-digest'], `${c.chart} ${c.version}`).toBe(c.digest);
      }

      // Without the journal (a new state directory) the registry itself says what is there.
      proxy.seen.length = 0;
      const third = await exited(spawn(process.execPath, importArgs(proxy.host, '--state', join(work, 'state-2'), '--report', report), { env, stdio: ['ignore', 'ignore', 'pipe'] }));
      expect(third.code, third.stderr).toBe(0);
      expect(Object.values(statuses(await readFile(report, 'utf8')))).toEqual(Array(4).fill('present via target'));
      expect(proxy.seen.filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  function statuses(reportText: string): Record<string, string> {
    const items = (JSON.parse(reportText) as { items: ReportItem[] }).items;
    return Object.fromEntries(items.map((i) => [`${i.chart}@${i.version}`, `${i.status}${i.via ? ` via ${i.via}` : ''}`]));
  }

  async function blobsOf(manifestDigest: string): Promise<string[]> {
    const m = await simpleRequest(`${registry.baseUrl}/v2/seeded/alpha/manifests/${manifestDigest}`, {
      basic: basic(),
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const parsed = m.json<{ config: { digest: string }; layers: Array<{ digest: string }> }>();
    return [parsed.config.digest, ...parsed.layers.map((l) => l.digest)].map((d) => encodeURIComponent(d));
  }
});
