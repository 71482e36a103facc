import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type IssuedToken, type RunningRegistry } from '../support/registry.js';
import { tmpDir } from '../support/tmp.js';
import { craftRepo, expectAllPushed, expectCleanFailure, sync, type SyncRun } from './registry-helpers.js';

/**
 * Every place chartmirror finds registry credentials, against a token-auth registry where each
 * source holds a different user: the token issuer's records say which credential was used and how
 * (`via`). Each case also holds a lower-priority credential that must lose.
 */
describe.skipIf(!haveBinaries('docker-registry', 'openssl'))('registry credentials: each source, in order', () => {
  const USERS = {
    pusher: 'pw-config-1',
    helmenv: 'pw-helm-env-2',
    helmhome: 'pw-helm-home-3',
    dockerauth: 'pw-docker-auth-4',
    identity: 'pw-identity-5',
    regtoken: 'pw-regtoken-6',
    helper: 'pw-helper-7',
    store: 'pw-store-8',
  } as const;
  type User = keyof typeof USERS;
  let registry: RunningRegistry;
  let repoDir: string;
  let binDir: string;
  let helperLog: string;
  const secrets: string[] = [];
  const runs: SyncRun[] = [];

  beforeAll(async () => {
    const work = await tmpDir('creds-');
    repoDir = join(work, 'repo');
    await craftRepo(repoDir, [['alpha', '1.0.0']]);
    registry = await startRegistry({ auth: 'token', users: { ...USERS } });
    secrets.push(...Object.values(USERS));
    // Credential helpers on PATH, as `docker login` with a keychain leaves them.
    binDir = join(work, 'bin');
    helperLog = join(work, 'helper.log');
    await mkdir(binDir);
    await writeHelper('cmtest', 'helper', USERS.helper);
    await writeHelper('cmstore', 'store', USERS.store);
  });

  afterAll(async () => {
    await registry?.stop();
  });

  /** docker-credential-<name>: answers `get` for this registry only, logging what it was asked. */
  async function writeHelper(name: string, user: string, secret: string): Promise<void> {
    const file = join(binDir, `docker-credential-${name}`);
    const script = [
      '#!/bin/sh',
      '[ "$1" = get ] || { echo "unsupported" >&2; exit 1; }',
      'read -r server',
      `printf '%s %s\\n' "${name}" "$server" >> '${helperLog}'`,
      `if [ "$server" = '${registry.host}' ]; then`,
      `  printf '{"ServerURL":"%s","Username":"${user}","Secret":"${secret}"}\\n' "$server"`,
      'else',
      '  echo "credentials not found in native keychain"',
      '  exit 1',
      'fi',
      '',
    ].join('\n');
    await writeFile(file, script);
    await chmod(file, 0o755);
  }

  function auths(user: User, key = registry.host): Record<string, unknown> {
    return { auths: { [key]: { auth: Buffer.from(`${user}:${USERS[user]}`).toString('base64') } } };
  }

  async function jsonFile(dir: string, name: string, content: unknown): Promise<string> {
    await mkdir(dir, { recursive: true });
    const file = join(dir, name);
    await writeFile(file, JSON.stringify(content, null, 2));
    return file;
  }

  /** A Docker config directory holding config.json. */
  async function dockerConfig(content: unknown): Promise<string> {
    const dir = await tmpDir('docker-config-');
    await jsonFile(dir, 'config.json', content);
    return dir;
  }

  /** Sync alpha into <path>/alpha; returns the run and the tokens issued during it. */
  async function push(
    path: string,
    opts: { env?: Record<string, string>; auth?: Record<string, string> } = {},
  ): Promise<{ run: SyncRun; issued: IssuedToken[] }> {
    const before = registry.tokensIssued!().length;
    const run = await sync(
      {
        sources: [{ name: 'local', url: repoDir }],
        targets: [{ name: 'reg', url: registry.oci(path), plainHttp: true, ...(opts.auth ? { auth: opts.auth } : {}) }],
      },
      { env: opts.env },
    );
    runs.push(run);
    return { run, issued: registry.tokensIssued!().slice(before) };
  }

  function expectTokensFor(issued: IssuedToken[], user: User, via: IssuedToken['via']): void {
    expect(issued.length).toBeGreaterThan(0);
    for (const t of issued) {
      expect(t.account).toBe(user);
      expect(t.via).toBe(via);
    }
  }

  it('1. the target auth in the config wins over Helm and Docker configs', async () => {
    const helmFile = await jsonFile(await tmpDir('helm-reg-'), 'config.json', auths('helmenv'));
    const { run, issued } = await push('c1', {
      auth: { username: 'pusher', password: '${CM_TEST_PW}' },
      env: { CM_TEST_PW: USERS.pusher, HELM_REGISTRY_CONFIG: helmFile, DOCKER_CONFIG: await dockerConfig(auths('dockerauth')) },
    });
    expectAllPushed(run, 1);
    expectTokensFor(issued, 'pusher', 'get');
  });

  it('2. $HELM_REGISTRY_CONFIG (helm registry login --registry-config) wins over Docker', async () => {
    const helmFile = await jsonFile(await tmpDir('helm-reg-'), 'registry.json', auths('helmenv'));
    const { run, issued } = await push('c2', {
      env: { HELM_REGISTRY_CONFIG: helmFile, DOCKER_CONFIG: await dockerConfig(auths('dockerauth')) },
    });
    expectAllPushed(run, 1);
    expectTokensFor(issued, 'helmenv', 'get');
  });

  it('3. <HELM_CONFIG_HOME>/registry/config.json, under a legacy https://host/ key', async () => {
    const home = await tmpDir('helm-home-');
    await jsonFile(join(home, 'registry'), 'config.json', auths('helmhome', `https://${registry.host}/v1/`));
    const { run, issued } = await push('c3', { env: { HELM_CONFIG_HOME: home, DOCKER_CONFIG: await dockerConfig(auths('dockerauth')) } });
    expectAllPushed(run, 1);
    expectTokensFor(issued, 'helmhome', 'get');
  });

  it('4. $DOCKER_CONFIG/config.json auths with base64 auth', async () => {
    const { run, issued } = await push('c4', { env: { DOCKER_CONFIG: await dockerConfig(auths('dockerauth')) } });
    expectAllPushed(run, 1);
    expectTokensFor(issued, 'dockerauth', 'get');
  });

  /** A refresh token for `identity`, as `docker login` gets one from registries that hand them out (ACR). */
  async function refreshToken(): Promise<string> {
    const res = await simpleRequest(registry.tokenRealm!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'identity',
        password: USERS.identity,
        client_id: 'test-login',
        service: registry.tokenService!,
        access_type: 'offline',
      }).toString(),
    });
    expect(res.status, res.text()).toBe(200);
    const refresh = res.json<{ refresh_token: string }>().refresh_token;
    expect(refresh).toMatch(/^[0-9a-f]{48}$/);
    secrets.push(refresh);
    return refresh;
  }

  it('5. an identitytoken is exchanged with the refresh_token grant', async () => {
    const refresh = await refreshToken();
    const docker = await dockerConfig({ auths: { [registry.host]: { auth: Buffer.from('<token>:').toString('base64'), identitytoken: refresh } } });
    const { run, issued } = await push('c5', { env: { DOCKER_CONFIG: docker } });
    expectAllPushed(run, 1);
    expectTokensFor(issued, 'identity', 'refresh_token');
    expectCleanFailure(run, [refresh]);
  });

  it('6. a registrytoken is sent as the bearer token, without asking the token service', async () => {
    const url = new URL(registry.tokenRealm!);
    url.searchParams.set('service', registry.tokenService!);
    url.searchParams.set('scope', 'repository:c6/alpha:pull,push');
    const res = await simpleRequest(url.toString(), { basic: { username: 'regtoken', password: USERS.regtoken } });
    expect(res.status, res.text()).toBe(200);
    const token = res.json<{ token: string }>().token;
    secrets.push(token);
    const { run, issued } = await push('c6', { env: { DOCKER_CONFIG: await dockerConfig({ auths: { [registry.host]: { registrytoken: token } } }) } });
    expectAllPushed(run, 1);
    expect(issued).toEqual([]);
    expect(run.stderr).not.toContain(token);
  });

  it('7. credHelpers[host] wins over auths in the same file; the helper is asked for this host', async () => {
    await writeFile(helperLog, '');
    const docker = await dockerConfig({ ...auths('dockerauth'), credHelpers: { [registry.host]: 'cmtest', 'other.example': 'nosuch' } });
    const { run, issued } = await push('c7', { env: { DOCKER_CONFIG: docker, PATH: `${binDir}${delimiter}${process.env.PATH}` } });
    expectAllPushed(run, 1);
    expectTokensFor(issued, 'helper', 'get');
    expect((await readFile(helperLog, 'utf8')).trim().split('\n')).toEqual([`cmtest ${registry.host}`]);
  });

  it('8. credsStore wins over auths in the same file', async () => {
    await writeFile(helperLog, '');
    const docker = await dockerConfig({ ...auths('dockerauth'), credsStore: 'cmstore' });
    const { run, issued } = await push('c8', { env: { DOCKER_CONFIG: docker, PATH: `${binDir}${delimiter}${process.env.PATH}` } });
    expectAllPushed(run, 1);
    expectTokensFor(issued, 'store', 'get');
    expect((await readFile(helperLog, 'utf8')).trim()).toBe(`cmstore ${registry.host}`);
  });

  it('9. a helper answering Username "<token>" hands over an identity token', async () => {
    const refresh = await refreshToken();
    await writeHelper('cmident', '<token>', refresh);
    const docker = await dockerConfig({ credHelpers: { [registry.host]: 'cmident' } });
    const { run, issued } = await push('c9', { env: { DOCKER_CONFIG: docker, PATH: `${binDir}${delimiter}${process.env.PATH}` } });
    expectAllPushed(run, 1);
    expectTokensFor(issued, 'identity', 'refresh_token');
  });

  it('a helper named in config.json but missing from PATH fails with a clear message', async () => {
    const docker = await dockerConfig({ credsStore: 'cmmissing' });
    const { run } = await push('c11', { env: { DOCKER_CONFIG: docker } });
    expect(run.code).toBe(1);
    expect(run.items[0]?.code).toBe('AUTH');
    expect(run.items[0]?.reason).toMatch(/docker-credential-cmmissing .*is not installed or not on PATH/);
    expectCleanFailure(run);
  });

  it('no credentials anywhere: says where it looked', async () => {
    const { run } = await push('c10');
    expect(run.code).toBe(1);
    expect(run.items[0]?.code).toBe('AUTH');
    expect(run.items[0]?.reason).toMatch(/^authentication failed for 127\.0\.0\.1:\d+: .*no credentials found \(looked in the target's auth, Helm's registry config and Docker's config\.json\)/);
    expectCleanFailure(run);
  });

  it('no secret from any source reached any output or report', () => {
    expect(runs.length).toBeGreaterThanOrEqual(10);
    expect(secrets.length).toBe(Object.keys(USERS).length + 3); // + two refresh tokens and the registry token
    for (const run of runs) expectCleanFailure(run, secrets);
  });
});
