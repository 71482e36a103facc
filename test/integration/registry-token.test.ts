import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { loopbackHostname } from '../support/proc.js';
import { startRegistry, type IssuedToken, type RunningRegistry } from '../support/registry.js';
import { tmpDir } from '../support/tmp.js';
import { sha256Hex } from '../../src/util/digest.js';
import { craftRepo, expectAllPushed, expectCleanFailure, helmPull, sync, type CraftedChart, type SyncRun } from './registry-helpers.js';

/**
 * distribution with auth.token and the suite's token issuer: chartmirror must learn the realm
 * from the challenge, fetch tokens with the configured credentials and reuse them.
 */
describe.skipIf(!haveBinaries('docker-registry', 'openssl'))('registry with token auth', () => {
  const CHARTS = ['alpha', 'beta', 'gamma', 'delta'];
  const VERSIONS = ['1.0.0', '1.1.0', '2.0.0'];
  let registry: RunningRegistry;
  let repoDir: string;
  let smallRepo: string;
  let charts: CraftedChart[];
  let first: SyncRun;
  let tokens: IssuedToken[];

  const config = (password: string) => ({
    sources: [{ name: 'local', url: repoDir }],
    targets: [{ name: 'reg', url: registry.oci('mirror'), plainHttp: true, auth: { username: registry.username, password } }],
  });

  beforeAll(async () => {
    repoDir = join(await tmpDir('token-repo-'), 'repo');
    charts = await craftRepo(repoDir, CHARTS.flatMap((c) => VERSIONS.map((v): [string, string] => [c, v])));
    smallRepo = join(repoDir, '..', 'small');
    await craftRepo(smallRepo, [['solo', '1.0.0']]);
    registry = await startRegistry({ auth: 'token' });
    first = await sync(config(registry.password!));
    tokens = registry.tokensIssued!();
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes every chart through the token service with the configured credentials', () => {
    expectAllPushed(first, charts.length);
    expect(tokens.length).toBeGreaterThan(0);
    for (const t of tokens) {
      expect(t.account).toBe(registry.username);
      expect(t.via).toBe('get');
      expect(t.service).toBe(registry.tokenService);
    }
    // Push tokens ask for exactly what a push needs.
    const pushScopes = tokens.flatMap((t) => t.scope).filter((s) => s.endsWith(':pull,push'));
    expect(new Set(pushScopes)).toEqual(new Set(CHARTS.map((c) => `repository:mirror/${c}:pull,push`)));
  });

  it('reuses tokens: O(repositories) tokens for many more requests', async () => {
    const requests = await registry.requests();
    const n = CHARTS.length;
    expect(tokens.length).toBeLessThanOrEqual(2 * n + 2);
    // 12 versions x (2 blob uploads of POST+PUT, 1 manifest PUT) alone are 60 requests.
    expect(requests.length).toBeGreaterThanOrEqual(60);
    expect(requests.length).toBeGreaterThan(5 * tokens.length);
    // Once the realm is known, tokens are fetched up front: only the first requests meet a 401.
    const unauthorized = requests.filter((r) => r.status === 401);
    expect(unauthorized.length).toBeLessThanOrEqual(n);
  });

  it('helm pulls what was pushed, byte for byte', async () => {
    const c = charts.find((x) => x.name === 'gamma' && x.version === '1.1.0')!;
    const pulled = await helmPull(registry, registry.oci('mirror/gamma'), '1.1.0', { archive: c.file, login: true });
    expect(sha256Hex(pulled)).toBe(sha256Hex(c.bytes));
  });

  it('credentials stay on their host: a token realm elsewhere gets none unless trustedRealmHosts lists it', async () => {
    // The registry under another name: its realm (127.0.0.1) is then on another host.
    const name = (await loopbackHostname())?.name ?? 'localhost';
    const url = `oci://${name}:${registry.host.split(':')[1]}/elsewhere`;
    const realmHost = new URL(registry.tokenRealm!).host;
    const target = (extra: Record<string, unknown>) => ({
      sources: [{ name: 'local', url: smallRepo }],
      targets: [{ name: 'reg', url, plainHttp: true, auth: { username: registry.username, password: registry.password, ...extra } }],
    });
    let before = registry.tokensIssued!().length;
    const refused = await sync(target({}));
    expect(refused.code).toBe(1);
    expect(refused.items[0]?.code).toBe('AUTH');
    expect(refused.items[0]?.reason).toContain(`requested anonymously: credentials are only sent to the registry's own host, and token realm host ${realmHost} is not in trustedRealmHosts`);
    const anonymous = registry.tokensIssued!().slice(before);
    expect(anonymous.length).toBeGreaterThan(0);
    expect(anonymous.every((t) => t.account === undefined)).toBe(true);
    expectCleanFailure(refused, [registry.password!]);

    before = registry.tokensIssued!().length;
    const trusted = await sync(target({ trustedRealmHosts: [realmHost] }));
    expectAllPushed(trusted, 1);
    expect(registry.tokensIssued!().slice(before).every((t) => t.account === registry.username)).toBe(true);
  });

  it('a wrong password fails with an authentication message, exit 1, no stack trace, no secret', async () => {
    const before = registry.tokensIssued!().length;
    const run = await sync(config('wrong-password-456'));
    expect(run.code).toBe(1);
    expect(run.items.length).toBe(charts.length);
    for (const i of run.items) {
      expect(i.status).toBe('failed');
      expect(i.code).toBe('AUTH');
      expect(i.reason).toMatch(/^authentication failed for 127\.0\.0\.1:\d+: the token service http:\/\/127\.0\.0\.1:\d+\/token answered 401/);
      expect(i.reason).toMatch(/invalid username or password/);
    }
    expect(run.stderr).toMatch(/authentication failed/);
    expectCleanFailure(run, ['wrong-password-456', registry.password!]);
    expect(registry.tokensIssued!().length).toBe(before);
  });
});
