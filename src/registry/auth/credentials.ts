/**
 * Where credentials for a registry host come from, first hit wins:
 *   1. the target's `auth` in chartmirror's config;
 *   2. Helm's registry config ($HELM_REGISTRY_CONFIG, else <helm config home>/registry/config.json);
 *   3. Docker's config ($DOCKER_CONFIG/config.json, else ~/.docker/config.json).
 * Within a file: credHelpers[host], then credsStore, then auths[host] (HELM-OCI-SPEC §5,
 * oras-go credentials/store.go). Every secret found is registered for redaction.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ChartMirrorError } from '../../errors.js';
import { getFromHelper } from './credential-helper.js';
import { lookupKey, parseAuthEntry, readAuthFile, serverAddress, type AuthFile } from './docker-config.js';
import { registerSecret } from '../../util/secrets.js';

export type Credential =
  /** `from` names the source for messages ('config', a file path, 'helper docker-credential-x'); never the secret. */
  | { kind: 'basic'; username: string; password: string; from: string }
  /** A ready bearer token (config `token`, config.json `registrytoken`): sent as is. */
  | { kind: 'bearer'; token: string; from: string }
  /** An OAuth2 refresh token (config `identityToken`, config.json `identitytoken`, helper user `<token>`). */
  | { kind: 'identity'; username?: string; identityToken: string; from: string };

/** The target's `auth` block in chartmirror's config. */
export interface ConfigAuth {
  username?: string;
  password?: string;
  token?: string;
  identityToken?: string;
}

export interface ResolveOptions {
  configAuth?: ConfigAuth;
  /** Default process.env. Also the environment credential helpers run with (PATH included). */
  env?: NodeJS.ProcessEnv;
  /** Default $HOME, else os.homedir(). */
  homeDir?: string;
  /** Default process.platform; picks Helm's default config home. */
  platform?: NodeJS.Platform;
  /** Per helper run; default 30 s (DEFAULT_HELPER_TIMEOUT_MS). */
  helperTimeoutMs?: number;
}

/** `host` is the registry's host[:port] as written in the reference, e.g. 'reg.example.com:5000'. */
export async function resolveCredential(host: string, opts: ResolveOptions = {}): Promise<Credential | undefined> {
  const h = host.toLowerCase();
  const fromConfig = configCredential(h, opts.configAuth);
  if (fromConfig) return fromConfig;
  const env = opts.env ?? process.env;
  for (const path of credentialFiles(opts)) {
    const file = await readAuthFile(path, h);
    if (!file) continue;
    const cred = await fromFile(file, h, env, opts.helperTimeoutMs);
    if (cred) return cred;
  }
  return undefined;
}

/** The config files consulted, in order. */
export function credentialFiles(opts: Pick<ResolveOptions, 'env' | 'homeDir' | 'platform'> = {}): string[] {
  const env = opts.env ?? process.env;
  const home = opts.homeDir ?? (env.HOME || homedir());
  return [helmRegistryConfigPath(env, home, opts.platform ?? process.platform), dockerConfigPath(env, home)];
}

/** Helm's registry config (helm pkg/helmpath lazypath + pkg/cli/environment.go). */
export function helmRegistryConfigPath(env: NodeJS.ProcessEnv, home: string, platform: NodeJS.Platform): string {
  if (env.HELM_REGISTRY_CONFIG) return env.HELM_REGISTRY_CONFIG;
  return join(helmConfigHome(env, home, platform), 'registry', 'config.json');
}

function helmConfigHome(env: NodeJS.ProcessEnv, home: string, platform: NodeJS.Platform): string {
  if (env.HELM_CONFIG_HOME) return env.HELM_CONFIG_HOME;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'helm');
  if (platform === 'darwin') return join(home, 'Library', 'Preferences', 'helm');
  if (platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'helm');
  return join(home, '.config', 'helm');
}

export function dockerConfigPath(env: NodeJS.ProcessEnv, home: string): string {
  return join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json');
}

function configCredential(host: string, auth: ConfigAuth | undefined): Credential | undefined {
  if (!auth) return undefined;
  const from = 'config';
  // Empty strings (an unset ${VAR}) count as absent.
  const username = auth.username || undefined;
  const password = auth.password || undefined;
  if (auth.token) {
    registerSecret(auth.token);
    return { kind: 'bearer', token: auth.token, from };
  }
  if (auth.identityToken) {
    registerSecret(auth.identityToken);
    return { kind: 'identity', identityToken: auth.identityToken, from, ...(username ? { username } : {}) };
  }
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    registerSecret(password);
    throw new ChartMirrorError('CONFIG', `auth for ${host}: username and password must be given together`);
  }
  registerSecret(password);
  registerSecret(`${username}:${password}`);
  return { kind: 'basic', username, password, from };
}

async function fromFile(
  file: AuthFile,
  host: string,
  env: NodeJS.ProcessEnv,
  helperTimeoutMs: number | undefined,
): Promise<Credential | undefined> {
  const helper = lookupKey(file.credHelpers, host) ?? file.credsStore;
  if (helper) {
    const got = await getFromHelper(helper, serverAddress(host), host, {
      env,
      configPath: file.path,
      timeoutMs: helperTimeoutMs,
    });
    const from = `helper docker-credential-${helper}`;
    if (got?.kind === 'basic') {
      registerSecret(`${got.username}:${got.password}`);
      return { ...got, from };
    }
    if (got) return { ...got, from };
  }
  // Docker writes empty `auths` entries next to a credsStore; they simply yield nothing.
  const entry = parseAuthEntry(lookupKey(file.auths, host), file.path, host);
  return entry ? { ...entry, from: file.path } : undefined;
}
