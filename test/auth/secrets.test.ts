import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Authenticator, repositoryScope } from '../../src/registry/auth/authenticator.js';
import { resolveCredential, type Credential } from '../../src/registry/auth/credentials.js';
import { knownSecrets, redactSecrets, registerSecret } from '../../src/util/secrets.js';
import { fakeTokenService } from './fake-token-service.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('redactSecrets', () => {
  it('replaces registered secrets and their encoded forms', () => {
    registerSecret('p@ss word/1');
    expect(knownSecrets()).toContain('p@ss word/1');
    expect(redactSecrets('x p@ss word/1 y')).toBe('x *** y');
    expect(redactSecrets(`form password2=${encodeURIComponent('p@ss word/1')}`)).toBe('form password2=***');
    expect(redactSecrets(`b64 ${Buffer.from('p@ss word/1').toString('base64')}`)).toBe('b64 ***');
  });

  it('replaces longer secrets before the shorter ones inside them', () => {
    registerSecret('abcd');
    registerSecret('abcdefgh-long');
    expect(redactSecrets('abcdefgh-long')).toBe('***');
  });

  it('hides credential-shaped text even when it was never registered', () => {
    expect(redactSecrets('Authorization: Basic dXNlcjpwYXNzd29yZA==')).toBe('Authorization: ***');
    expect(redactSecrets('sent Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe('sent Bearer ***');
    expect(redactSecrets('https://user:hunter2@reg.example.com/v2/')).toBe('https://***@reg.example.com/v2/');
    expect(redactSecrets('{"token":"zzz","access_token":"yyy","expires_in":60}')).toBe('{"token":"***","access_token":"***","expires_in":60}');
    expect(redactSecrets('grant_type=refresh_token&refresh_token=qqq&client_id=chartmirror')).toBe(
      'grant_type=refresh_token&refresh_token=***&client_id=chartmirror',
    );
  });

  it('leaves ordinary prose alone', () => {
    const text = 'authentication failed for reg: the registry asks for Basic authentication; Bearer token service answered 401';
    expect(redactSecrets(text)).toBe(text);
  });

  it('does not scrub by value secrets shorter than 4 characters', () => {
    registerSecret('ab');
    expect(redactSecrets('table')).toBe('table');
  });
});

describe('no secret in any error message', () => {
  it('holds across credential, helper and token failures', async () => {
    const root = await mkdtemp(join(tmpdir(), 'chartmirror-auth-secrets-'));
    dirs.push(root);
    const raw = {
      password: 'Sweep-Password-1',
      identity: 'Sweep-Identity-2',
      registryToken: 'Sweep-RegistryToken-3',
      helperSecret: 'Sweep-Helper-4',
      configToken: 'Sweep-ConfigToken-5',
    };
    const messages: string[] = [];
    const capture = async (p: Promise<unknown>): Promise<void> => {
      try {
        await p;
      } catch (e) {
        messages.push((e as Error).message, String((e as Error).stack));
        return;
      }
      throw new Error('expected a failure');
    };

    // Broken files and helpers.
    const bin = join(root, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'docker-credential-leaky'), `#!/bin/sh\necho "${raw.helperSecret}"; echo "${raw.helperSecret}" >&2; exit 4\n`);
    await chmod(join(bin, 'docker-credential-leaky'), 0o755);
    await writeFile(join(bin, 'docker-credential-halfjson'), `#!/bin/sh\necho '{"Username":"u","Secret":"${raw.helperSecret}"'\n`);
    await chmod(join(bin, 'docker-credential-halfjson'), 0o755);
    const env = { HOME: root, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };
    const dockerDir = join(root, '.docker');
    await mkdir(dockerDir);
    const config = join(dockerDir, 'config.json');
    for (const content of [
      `{"auths":{"r.example":{"auth":"${Buffer.from(raw.password).toString('base64')}"}}}`,
      `{"auths":{"r.example":{"password":"${raw.password}", }}}`,
      `{"credsStore":"leaky"}`,
      `{"credsStore":"halfjson"}`,
    ]) {
      await writeFile(config, content);
      await capture(resolveCredential('r.example', { env, homeDir: root }));
    }

    // Token services that refuse or echo what they were sent.
    const challenge = 'Bearer realm="https://r.example/token",service="r"';
    const scopes = [repositoryScope('a', ['pull', 'push'])];
    const creds: Credential[] = [
      { kind: 'basic', username: 'u', password: raw.password, from: 'config' },
      { kind: 'identity', identityToken: raw.identity, from: 'config' },
    ];
    for (const cred of creds) {
      const svc = fakeTokenService({ users: { u: 'other' }, refreshTokens: [] });
      const echo = new Authenticator({
        registry: 'https://r.example',
        credential: async () => cred,
        request: async (req) => ({
          status: 401,
          headers: {},
          // A service that quotes back everything it was sent.
          body: JSON.stringify({ errors: [{ message: `rejected ${req.headers.authorization ?? ''} ${req.url} ${req.body ?? ''}` }] }),
        }),
      });
      await capture(echo.onUnauthorized(challenge, scopes, undefined));
      await capture(new Authenticator({ registry: 'https://r.example', credential: async () => cred, request: svc.request }).onUnauthorized(challenge, scopes, undefined));
      // Refresh once, then the final rejection.
      const ok = fakeTokenService({ users: { u: raw.password }, refreshTokens: [raw.identity] });
      const auth = new Authenticator({ registry: 'https://r.example', credential: async () => cred, request: ok.request });
      const t1 = await auth.onUnauthorized(challenge, scopes, undefined);
      const t2 = await auth.onUnauthorized(challenge, scopes, t1);
      await capture(auth.onUnauthorized(challenge, scopes, t2));
      await capture(auth.onUnauthorized('Basic realm="r"', scopes, `Basic ${Buffer.from(`u:${raw.password}`).toString('base64')}`));
    }
    const basic = new Authenticator({
      registry: 'https://r.example',
      credential: async () => creds[0],
      request: fakeTokenService().request,
    });
    await capture(basic.onUnauthorized('Basic', scopes, `Basic ${Buffer.from(`u:${raw.password}`).toString('base64')}`));
    const token = new Authenticator({
      registry: 'https://r.example',
      credential: async () => ({ kind: 'bearer', token: raw.configToken, from: 'config' }),
      request: fakeTokenService().request,
    });
    await capture(token.onUnauthorized(challenge, scopes, `Bearer ${raw.configToken}`));
    // A registrytoken from a config.json, rejected by the registry.
    await writeFile(config, `{"auths":{"r.example":{"registrytoken":"${raw.registryToken}"}}}`);
    const fromFile = await resolveCredential('r.example', { env, homeDir: root });
    const viaFile = new Authenticator({ registry: 'https://r.example', credential: async () => fromFile, request: fakeTokenService().request });
    await capture(viaFile.onUnauthorized(challenge, scopes, `Bearer ${raw.registryToken}`));

    expect(messages.length).toBeGreaterThanOrEqual(24);
    const forbidden = [
      ...Object.values(raw),
      Buffer.from(`u:${raw.password}`).toString('base64'),
      Buffer.from(raw.password).toString('base64'),
    ];
    for (const m of messages) for (const s of forbidden) expect(m, m).not.toContain(s);
    // Everything that reached us is registered for the rest of the tool to scrub (the helper's
    // output never did: it failed).
    for (const s of [raw.password, raw.identity, raw.registryToken, raw.configToken]) expect(knownSecrets()).toContain(s);
  });
});
