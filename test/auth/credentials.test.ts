import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from './rejection.js';
import { credentialFiles, resolveCredential } from '../../src/registry/auth/credentials.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

let root: string;
let binDir: string;
let n = 0;

/**
 * A docker-credential-test helper: logs each server address it is asked for, knows three servers,
 * fails for one, hangs for one, and answers "credentials not found" for the rest.
 */
const HELPER = `#!/bin/sh
[ "$1" = "get" ] || exit 2
server=$(cat)
printf '%s\\n' "$server" >> "$HELPER_LOG"
case "$server" in
  reg.example.com) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-pass-123"}\\n' "$server" ;;
  tok.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"helper-refresh-456"}\\n' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hubuser","Secret":"hub-pass-789"}\\n' "$server" ;;
  fail.example.com) echo "fatal: helper-leak-000" >&2; echo "helper-leak-000"; exit 3 ;;
  garbage.example.com) echo "Secret=helper-leak-111 not json" ;;
  slow.example.com) exec sleep 10 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'chartmirror-auth-creds-'));
  binDir = join(root, 'bin');
  await mkdir(binDir);
  await writeFile(join(binDir, 'docker-credential-test'), HELPER);
  await chmod(join(binDir, 'docker-credential-test'), 0o755);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh HOME with an environment that points nowhere else. */
async function home(): Promise<{ home: string; env: NodeJS.ProcessEnv; log: string }> {
  const h = join(root, `home-${++n}`);
  await mkdir(h, { recursive: true });
  const log = join(h, 'helper.log');
  return { home: h, log, env: { HOME: h, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}`, HELPER_LOG: log } };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
}

const dockerFile = (h: string): string => join(h, '.docker', 'config.json');
const helmFile = (h: string): string => join(h, '.config', 'helm', 'registry', 'config.json');

describe('resolveCredential: sources and order', () => {
  it('finds nothing in an empty home', async () => {
    const t = await home();
    expect(await resolveCredential('reg.example.com', { env: t.env, homeDir: t.home })).toBeUndefined();
  });

  it("prefers the target's auth, then Helm's file, then Docker's", async () => {
    const t = await home();
    await writeJson(dockerFile(t.home), { auths: { 'reg.example.com': { auth: b64('docker-user:docker-pass') } } });
    await writeJson(helmFile(t.home), { auths: { 'reg.example.com': { auth: b64('helm-user:helm-pass') } } });
    const opts = { env: t.env, homeDir: t.home };
    expect(await resolveCredential('reg.example.com', { ...opts, configAuth: { username: 'cfg', password: 'cfg-pass' } })).toEqual({
      kind: 'basic',
      username: 'cfg',
      password: 'cfg-pass',
      from: 'config',
    });
    expect(await resolveCredential('reg.example.com', opts)).toEqual({
      kind: 'basic',
      username: 'helm-user',
      password: 'helm-pass',
      from: helmFile(t.home),
    });
    await rm(helmFile(t.home));
    expect(await resolveCredential('reg.example.com', opts)).toMatchObject({ username: 'docker-user', from: dockerFile(t.home) });
  });

  it("falls through to Docker's file when Helm's has nothing for the host", async () => {
    const t = await home();
    await writeJson(helmFile(t.home), { auths: { 'other.example.com': { auth: b64('a:b') } } });
    await writeJson(dockerFile(t.home), { auths: { 'reg.example.com': { auth: b64('docker-user:docker-pass') } } });
    expect(await resolveCredential('reg.example.com', { env: t.env, homeDir: t.home })).toMatchObject({ username: 'docker-user' });
  });

  it('maps config token and identityToken', async () => {
    const t = await home();
    const opts = { env: t.env, homeDir: t.home };
    expect(await resolveCredential('r', { ...opts, configAuth: { token: 'tok-1' } })).toEqual({ kind: 'bearer', token: 'tok-1', from: 'config' });
    expect(await resolveCredential('r', { ...opts, configAuth: { identityToken: 'id-1', username: 'u' } })).toEqual({
      kind: 'identity',
      identityToken: 'id-1',
      username: 'u',
      from: 'config',
    });
    const err = await rejection(resolveCredential('r', { ...opts, configAuth: { username: 'u' } }));
    expect(err.code).toBe('CONFIG');
  });

  it('honours HELM_REGISTRY_CONFIG, HELM_CONFIG_HOME, XDG_CONFIG_HOME and DOCKER_CONFIG', async () => {
    const t = await home();
    const h = t.home;
    expect(credentialFiles({ env: t.env, homeDir: h, platform: 'linux' })).toEqual([helmFile(h), dockerFile(h)]);
    expect(credentialFiles({ env: t.env, homeDir: h, platform: 'darwin' })[0]).toBe(
      join(h, 'Library', 'Preferences', 'helm', 'registry', 'config.json'),
    );
    expect(credentialFiles({ env: { ...t.env, XDG_CONFIG_HOME: '/xdg' }, homeDir: h, platform: 'linux' })[0]).toBe(
      join('/xdg', 'helm', 'registry', 'config.json'),
    );
    expect(
      credentialFiles({ env: { ...t.env, XDG_CONFIG_HOME: '/xdg', HELM_CONFIG_HOME: '/hch' }, homeDir: h, platform: 'linux' })[0],
    ).toBe(join('/hch', 'registry', 'config.json'));
    expect(credentialFiles({ env: { ...t.env, HELM_REGISTRY_CONFIG: '/x/reg.json', HELM_CONFIG_HOME: '/hch' }, homeDir: h })[0]).toBe(
      '/x/reg.json',
    );
    expect(credentialFiles({ env: { ...t.env, DOCKER_CONFIG: '/dc' }, homeDir: h })[1]).toBe(join('/dc', 'config.json'));

    // And they are really read.
    const custom = join(h, 'custom');
    await writeJson(join(custom, 'helm.json'), { auths: { 'reg.example.com': { auth: b64('from-helm-env:p') } } });
    await writeJson(join(custom, 'docker', 'config.json'), { auths: { 'other.example.com': { auth: b64('from-docker-env:p') } } });
    const env = { ...t.env, HELM_REGISTRY_CONFIG: join(custom, 'helm.json'), DOCKER_CONFIG: join(custom, 'docker') };
    expect(await resolveCredential('reg.example.com', { env, homeDir: h })).toMatchObject({ username: 'from-helm-env' });
    expect(await resolveCredential('other.example.com', { env, homeDir: h })).toMatchObject({ username: 'from-docker-env' });
  });
});

describe('resolveCredential: auths entries', () => {
  async function lookup(auths: Record<string, unknown>, host: string): Promise<unknown> {
    const t = await home();
    await writeJson(dockerFile(t.home), { auths });
    return resolveCredential(host, { env: t.env, homeDir: t.home });
  }

  it('decodes auth, and reads legacy username/password fields', async () => {
    expect(await lookup({ 'reg.example.com:5000': { auth: b64('u:pa:ss') } }, 'reg.example.com:5000')).toMatchObject({
      kind: 'basic',
      username: 'u',
      password: 'pa:ss',
    });
    expect(await lookup({ 'reg.example.com': { username: 'lu', password: 'lp' } }, 'reg.example.com')).toMatchObject({
      kind: 'basic',
      username: 'lu',
      password: 'lp',
    });
  });

  it('turns identitytoken into an identity credential and registrytoken into a bearer one', async () => {
    expect(await lookup({ 'reg.example.com': { auth: b64('u:'), identitytoken: 'idt-1' } }, 'reg.example.com')).toMatchObject({
      kind: 'identity',
      identityToken: 'idt-1',
      username: 'u',
    });
    expect(await lookup({ 'reg.example.com': { auth: b64('u:p'), registrytoken: 'rt-1' } }, 'reg.example.com')).toMatchObject({
      kind: 'bearer',
      token: 'rt-1',
    });
  });

  it('matches legacy URL keys to the host', async () => {
    for (const key of ['https://reg.example.com/', 'https://reg.example.com/v1/', 'http://reg.example.com', 'HTTPS://Reg.Example.com/v2/']) {
      expect(await lookup({ [key]: { auth: b64('legacy:p') } }, 'reg.example.com'), key).toMatchObject({ username: 'legacy' });
    }
    expect(await lookup({ 'https://reg.example.com:5000/': { auth: b64('legacy:p') } }, 'reg.example.com')).toBeUndefined();
  });

  it("finds Docker Hub's https://index.docker.io/v1/ key for every Hub name", async () => {
    for (const host of ['docker.io', 'registry-1.docker.io', 'index.docker.io']) {
      expect(await lookup({ 'https://index.docker.io/v1/': { auth: b64('hub:p') } }, host), host).toMatchObject({ username: 'hub' });
    }
    expect(await lookup({ 'docker.io': { auth: b64('hub2:p') } }, 'registry-1.docker.io')).toMatchObject({ username: 'hub2' });
  });

  it('prefers the exact key over a legacy one', async () => {
    expect(
      await lookup({ 'https://reg.example.com/': { auth: b64('legacy:p') }, 'reg.example.com': { auth: b64('exact:p') } }, 'reg.example.com'),
    ).toMatchObject({ username: 'exact' });
  });

  it('ignores empty entries (written next to a credsStore)', async () => {
    expect(await lookup({ 'reg.example.com': {} }, 'reg.example.com')).toBeUndefined();
  });

  it('rejects a broken auth field or file without quoting it', async () => {
    const t = await home();
    await writeJson(dockerFile(t.home), { auths: { 'reg.example.com': { auth: b64('no-colon-secret-pw') } } });
    let err = await rejection(resolveCredential('reg.example.com', { env: t.env, homeDir: t.home }));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain(dockerFile(t.home));
    expect(err.message).not.toContain('no-colon-secret-pw');
    await writeJson(dockerFile(t.home), '{"auths":{"reg.example.com":{"auth":"c2VjcmV0LXB3"}}, oops');
    err = await rejection(resolveCredential('reg.example.com', { env: t.env, homeDir: t.home }));
    expect(err.message).toBe(`authentication failed for reg.example.com: ${dockerFile(t.home)} is not valid JSON`);
  });
});

describe('resolveCredential: credential helpers', () => {
  it('runs credHelpers[host] with the host on stdin', async () => {
    const t = await home();
    await writeJson(dockerFile(t.home), {
      credHelpers: { 'reg.example.com': 'test' },
      auths: { 'reg.example.com': { auth: b64('file-user:p') } },
    });
    expect(await resolveCredential('reg.example.com', { env: t.env, homeDir: t.home })).toEqual({
      kind: 'basic',
      username: 'helper-user',
      password: 'helper-pass-123',
      from: 'helper docker-credential-test',
    });
    expect(await readFile(t.log, 'utf8')).toBe('reg.example.com\n');
  });

  it('uses credsStore when there is no credHelpers entry, and passes Docker Hub as its legacy URL', async () => {
    const t = await home();
    await writeJson(dockerFile(t.home), { credsStore: 'test' });
    expect(await resolveCredential('registry-1.docker.io', { env: t.env, homeDir: t.home })).toMatchObject({
      username: 'hubuser',
      password: 'hub-pass-789',
    });
    expect(await readFile(t.log, 'utf8')).toBe('https://index.docker.io/v1/\n');
  });

  it('reads Username <token> as an identity token', async () => {
    const t = await home();
    await writeJson(helmFile(t.home), { credsStore: 'test' });
    expect(await resolveCredential('tok.example.com', { env: t.env, homeDir: t.home })).toEqual({
      kind: 'identity',
      identityToken: 'helper-refresh-456',
      from: 'helper docker-credential-test',
    });
  });

  it('treats "credentials not found" as none and falls through to auths, then the next file', async () => {
    const t = await home();
    await writeJson(helmFile(t.home), { credsStore: 'test', auths: { 'unknown.example.com': { auth: b64('helm-file:p') } } });
    expect(await resolveCredential('unknown.example.com', { env: t.env, homeDir: t.home })).toMatchObject({ username: 'helm-file' });
    await writeJson(helmFile(t.home), { credsStore: 'test' });
    await writeJson(dockerFile(t.home), { auths: { 'unknown.example.com': { auth: b64('docker-file:p') } } });
    expect(await resolveCredential('unknown.example.com', { env: t.env, homeDir: t.home })).toMatchObject({ username: 'docker-file' });
    await rm(dockerFile(t.home));
    expect(await resolveCredential('unknown.example.com', { env: t.env, homeDir: t.home })).toBeUndefined();
  });

  it('names a missing helper in an AUTH error', async () => {
    const t = await home();
    await writeJson(dockerFile(t.home), { credHelpers: { 'reg.example.com': 'nonexistent' } });
    const err = await rejection(resolveCredential('reg.example.com', { env: t.env, homeDir: t.home }));
    expect(err.code).toBe('AUTH');
    expect(err.message).toBe(
      `authentication failed for reg.example.com: credential helper docker-credential-nonexistent (named in ${dockerFile(t.home)}) is not installed or not on PATH`,
    );
  });

  it('reports a failing helper by exit code, never by its output', async () => {
    const t = await home();
    await writeJson(dockerFile(t.home), { credsStore: 'test' });
    let err = await rejection(resolveCredential('fail.example.com', { env: t.env, homeDir: t.home }));
    expect(err.code).toBe('AUTH');
    expect(err.message).toContain('credential helper docker-credential-test');
    expect(err.message).toContain('exit code 3');
    expect(err.message).not.toContain('helper-leak-000');
    err = await rejection(resolveCredential('garbage.example.com', { env: t.env, homeDir: t.home }));
    expect(err.message).toContain('not JSON');
    expect(err.message).not.toContain('helper-leak-111');
  });

  it('times a hanging helper out', async () => {
    const t = await home();
    await writeJson(dockerFile(t.home), { credsStore: 'test' });
    const started = Date.now();
    const err = await rejection(resolveCredential('slow.example.com', { env: t.env, homeDir: t.home, helperTimeoutMs: 300 }));
    expect(err.message).toContain('did not answer within 0.3 s');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses helper names that are paths', async () => {
    const t = await home();
    await writeJson(dockerFile(t.home), { credsStore: '../../bin/sh' });
    expect((await rejection(resolveCredential('reg.example.com', { env: t.env, homeDir: t.home }))).message).toContain('is not valid');
  });
});
