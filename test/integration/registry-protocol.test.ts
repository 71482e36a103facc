import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type RegistryRequest, type RunningRegistry } from '../support/registry.js';
import { tmpDir } from '../support/tmp.js';
import { sha256Hex } from '../../src/util/digest.js';
import { craftRepo, explain, expectAllPushed, expectCleanFailure, helmPull, sync, type CraftedChart, type SyncRun } from './registry-helpers.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * The protocol's corners against the real registry (token auth, so that mount scopes matter):
 * cross-repository mounts, chunked uploads, manifests with mediaType, and the hints for a
 * refused first upload.
 */
describe.skipIf(!haveBinaries('docker-registry', 'openssl'))('registry protocol corners', () => {
  let registry: RunningRegistry;
  let work: string;
  let repoDir: string;
  let charts: CraftedChart[];

  beforeAll(async () => {
    work = await tmpDir('protocol-');
    repoDir = join(work, 'repo');
    // Archives of ~5 KiB: several chunks at a 1 KiB chunk size.
    charts = await craftRepo(repoDir, [['alpha', '1.0.0'], ['alpha', '1.1.0'], ['beta', '2.0.0']], { padding: 8000 });
    registry = await startRegistry({ auth: 'token' });
  });

  afterAll(async () => {
    await registry?.stop();
  });

  const env = () => ({ CM_TEST_PW: registry.password! });
  const auth = () => ({ username: registry.username, password: '${CM_TEST_PW}' });
  const source = () => ({ name: 'local', url: repoDir });

  async function requestsDuring(fn: () => Promise<SyncRun>): Promise<{ run: SyncRun; requests: RegistryRequest[] }> {
    await registry.clearRequests();
    const run = await fn();
    return { run, requests: await registry.requests() };
  }

  async function manifest(repo: string, tag: string): Promise<{ digest: string; body: Record<string, unknown> }> {
    const url = new URL(registry.tokenRealm!);
    url.searchParams.set('service', registry.tokenService!);
    url.searchParams.set('scope', `repository:${repo}:pull`);
    const t = await simpleRequest(url.toString(), { basic: { username: registry.username!, password: registry.password! } });
    const res = await simpleRequest(`${registry.baseUrl}/v2/${repo}/manifests/${tag}`, {
      headers: { authorization: `Bearer ${t.json<{ token: string }>().token}`, accept: MANIFEST },
    });
    expect(res.status).toBe(200);
    return { digest: String(res.headers['docker-content-digest']), body: res.json() };
  }

  it('two targets on one registry: each blob is uploaded once and mounted into the other path', async () => {
    const { run, requests } = await requestsDuring(() =>
      sync(
        {
          sources: [source()],
          targets: [
            { name: 'first', url: registry.oci('one'), plainHttp: true, auth: auth() },
            { name: 'second', url: registry.oci('two/nested'), plainHttp: true, auth: auth() },
          ],
        },
        { env: env() },
      ),
    );
    expectAllPushed(run, charts.length * 2);
    const blobsPerItem = 2; // config + chart
    const uploads = requests.filter((r) => r.method === 'PUT' && /\/blobs\/uploads\//.test(r.path) && r.status === 201);
    const mounts = requests.filter((r) => r.method === 'POST' && /[?&]mount=sha256(:|%3A)[0-9a-f]{64}/i.test(r.url) && /[?&]from=/.test(r.url));
    expect(uploads.length, explain(run)).toBe(charts.length * blobsPerItem);
    expect(mounts.length).toBe(charts.length * blobsPerItem);
    expect(mounts.every((m) => m.status === 201)).toBe(true);
    // Mounts go in both directions depending on who got there first, always from the other path.
    for (const m of mounts) {
      const into = m.path.startsWith('/v2/one/') ? 'one/' : 'two/nested/';
      const from = decodeURIComponent(new URL(m.url, registry.baseUrl).searchParams.get('from')!);
      expect(from.startsWith(into)).toBe(false);
      expect(from).toMatch(/^(one|two\/nested)\/(alpha|beta)$/);
    }
    // A mount needs pull on the source repository: the token asked for it.
    const mountTokens = registry.tokensIssued!().filter(
      (t) => t.scope.some((s) => /^repository:(one|two\/nested)\/\w+:pull$/.test(s)) && t.scope.some((s) => s.endsWith(':pull,push')),
    );
    expect(mountTokens.length).toBeGreaterThan(0);
    // Mounted or uploaded, both paths hold the same manifests.
    const byTarget = (t: string) => run.items.filter((i) => i.target === t).map((i) => `${i.chart}@${i.version}=${i.digest}`).sort();
    expect(byTarget('first')).toEqual(byTarget('second'));
  });

  it('a repository template putting one chart in two repositories also mounts', async () => {
    const { run, requests } = await requestsDuring(() =>
      sync(
        {
          sources: [source()],
          targets: [
            { name: 'a', url: registry.oci('tpl'), repository: 'tpl/{source}/{chart}', plainHttp: true, auth: auth() },
            { name: 'b', url: registry.oci('tpl'), repository: 'tpl/flat/{chart}', plainHttp: true, auth: auth() },
          ],
        },
        { env: env() },
      ),
    );
    expectAllPushed(run, charts.length * 2);
    const mounts = requests.filter((r) => r.method === 'POST' && r.url.includes('mount=') && r.status === 201);
    expect(mounts.length).toBe(charts.length * 2);
  });

  it('chunkSize 1KiB: blobs go up in PATCH chunks and helm pulls the result', async () => {
    const { run, requests } = await requestsDuring(() =>
      sync(
        { sources: [source()], targets: [{ name: 'chunky', url: registry.oci('chunked'), plainHttp: true, chunkSize: '1KiB', auth: auth() }] },
        { env: env() },
      ),
    );
    expectAllPushed(run, charts.length);
    const patches = requests.filter((r) => r.method === 'PATCH');
    expect(patches.every((p) => p.status === 202)).toBe(true);
    const archiveChunks = charts.reduce((n, c) => n + Math.ceil(c.bytes.length / 1024), 0);
    expect(charts.every((c) => c.bytes.length > 3 * 1024)).toBe(true);
    // Every archive in 1 KiB pieces; the config blobs (< 1 KiB) go up in one PUT.
    expect(patches.length).toBe(archiveChunks);
    const c = charts.find((x) => x.name === 'beta')!;
    const pulled = await helmPull(registry, registry.oci('chunked/beta'), c.version, { archive: c.file, login: true });
    expect(sha256Hex(pulled)).toBe(sha256Hex(c.bytes));
  });

  it('manifestMediaType: true adds mediaType; the digest differs from helm push, helm still pulls', async () => {
    const run = await sync(
      {
        sources: [source()],
        targets: [
          { name: 'plain', url: registry.oci('mt/plain'), plainHttp: true, auth: auth() },
          { name: 'typed', url: registry.oci('mt/typed'), plainHttp: true, manifestMediaType: true, auth: auth() },
        ],
      },
      { env: env() },
    );
    expectAllPushed(run, charts.length * 2);
    const plain = await manifest('mt/plain/alpha', '1.0.0');
    const typed = await manifest('mt/typed/alpha', '1.0.0');
    expect(plain.body).not.toHaveProperty('mediaType');
    expect(typed.body.mediaType).toBe(MANIFEST);
    expect(typed.digest).not.toBe(plain.digest);
    const item = (t: string) => run.items.find((i) => i.target === t && i.chart === 'alpha' && i.version === '1.0.0')!;
    expect(item('typed').digest).toBe(typed.digest);
    expect(item('plain').digest).toBe(plain.digest);
    // Same layers either way.
    expect(typed.body.layers).toEqual(plain.body.layers);
    expect(typed.body.config).toEqual(plain.body.config);
    const c = charts.find((x) => x.name === 'alpha' && x.version === '1.0.0')!;
    const pulled = await helmPull(registry, registry.oci('mt/typed/alpha'), '1.0.0', { archive: c.file, login: true });
    expect(sha256Hex(pulled)).toBe(sha256Hex(c.bytes));
  });

  describe('a registry that refuses the first upload', () => {
    let proxy: Server;
    let proxyHost: string;

    /**
     * The real registry behind a pass-through proxy that answers the upload POST the way real
     * registries refuse a repository they do not have: ECR (404 NAME_UNKNOWN), GHCR (403 DENIED)
     * and Harbor (401 with a fresh challenge, whatever the token).
     */
    beforeAll(async () => {
      const upstream = new URL(registry.baseUrl);
      proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
        const path = (req.url ?? '').split('?')[0]!;
        const refuse = req.method === 'POST' && /\/blobs\/uploads\/$/.test(path) ? /^\/v2\/(ecr|ghcr|harbor)\//.exec(path)?.[1] : undefined;
        if (refuse) {
          req.resume();
          const repo = path.slice('/v2/'.length, -'/blobs/uploads/'.length);
          if (refuse === 'ecr') {
            return json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: `The repository with name '${repo}' does not exist in the registry` }] });
          }
          if (refuse === 'ghcr') return json(res, 403, { errors: [{ code: 'DENIED', message: 'permission_denied: write_package' }] });
          res.setHeader(
            'www-authenticate',
            `Bearer realm="${registry.tokenRealm}",service="${registry.tokenService}",scope="repository:${repo}:pull,push",error="insufficient_scope"`,
          );
          return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'unauthorized to access repository' }] });
        }
        const out = httpRequest(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        out.on('error', () => res.destroy());
        req.pipe(out);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      proxyHost = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      proxy?.closeAllConnections();
      await new Promise<void>((resolve) => proxy?.close(() => resolve()));
    });

    it.each([
      ['ecr', 'REGISTRY', /start upload http:\/\/127\.0\.0\.1:\d+\/v2\/ecr\/alpha\/blobs\/uploads\/: 404 not found \(NAME_UNKNOWN: The repository with name 'ecr\/alpha' does not exist in the registry\)/],
      ['ghcr', 'AUTH', /start upload http:\/\/127\.0\.0\.1:\d+\/v2\/ghcr\/alpha\/blobs\/uploads\/: 403 forbidden \(DENIED: permission_denied: write_package\)/],
      ['harbor', 'AUTH', /authentication failed for 127\.0\.0\.1:\d+: the registry rejected a fresh token .* for repository:harbor\/alpha:pull,push/],
    ])('%s-style refusal: the reason says the repository may have to exist first or the path is too deep', async (kind, codes, what) => {
      const run = await sync(
        {
          sources: [{ ...source(), charts: { include: ['alpha'] }, versions: '1.0.0' }],
          targets: [{ name: 'reg', url: `oci://${proxyHost}/${kind}`, plainHttp: true, auth: auth() }],
        },
        { env: env() },
      );
      expect(run.code, explain(run)).toBe(1);
      const item = run.items.find((i) => i.status !== 'excluded')!;
      expect(item.status).toBe('failed');
      expect(item.code).toMatch(new RegExp(`^(${codes})$`));
      expect(item.reason).toMatch(what);
      expect(item.reason).toMatch(/the repository or project may have to exist first \(ECR, Harbor, GAR, Artifactory\) or the path may be too deep \(Docker Hub, GitLab, Quay\)/);
      expectCleanFailure(run, [registry.password!]);
    });
  });
});

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
