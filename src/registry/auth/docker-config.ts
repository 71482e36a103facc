/**
 * Docker's config.json format, which Helm's registry config shares: `auths`, `credsStore`,
 * `credHelpers` (oras-go credentials/internal/config/config.go, docker/cli configfile/file.go).
 */
import { readFile } from 'node:fs/promises';
import { ChartMirrorError } from '../../errors.js';
import { registerSecret } from '../../util/secrets.js';

/** The key Docker uses for Docker Hub, whichever of its names the user typed. */
export const DOCKER_HUB_SERVER_ADDRESS = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'registry-1.docker.io', 'index.docker.io']);

export interface AuthFile {
  path: string;
  auths: Record<string, unknown>;
  credsStore?: string;
  credHelpers: Record<string, string>;
}

/** What an `auths` entry holds, before it becomes a Credential. */
export type AuthEntry =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'identity'; username?: string; identityToken: string };

export function isDockerHub(host: string): boolean {
  return DOCKER_HUB_HOSTS.has(host.toLowerCase());
}

/** The address given to helpers and used as the preferred key: Docker Hub's legacy URL, else the host. */
export function serverAddress(host: string): string {
  return isDockerHub(host) ? DOCKER_HUB_SERVER_ADDRESS : host.toLowerCase();
}

/**
 * The host a key stands for: legacy keys carry a scheme and a path (`https://host/v1/`),
 * and the Docker Hub aliases are one host.
 */
export function keyHost(key: string): string {
  let h = key.trim().toLowerCase();
  h = h.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  const slash = h.indexOf('/');
  if (slash !== -1) h = h.slice(0, slash);
  return isDockerHub(h) ? 'docker.io' : h;
}

/** Reads a config file; undefined when it does not exist. */
export async function readAuthFile(path: string, host: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ChartMirrorError('AUTH', `authentication failed for ${host}: cannot read ${path} (${code ?? 'error'})`);
  }
  if (text.trim() === '') return { path, auths: {}, credHelpers: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse messages quote the text around the error, which may be a password.
    throw new ChartMirrorError('AUTH', `authentication failed for ${host}: ${path} is not valid JSON`);
  }
  if (!isRecord(parsed)) {
    throw new ChartMirrorError('AUTH', `authentication failed for ${host}: ${path} is not a JSON object`);
  }
  const credHelpers: Record<string, string> = {};
  if (isRecord(parsed.credHelpers)) {
    for (const [k, v] of Object.entries(parsed.credHelpers)) if (typeof v === 'string' && v !== '') credHelpers[k] = v;
  }
  return {
    path,
    auths: isRecord(parsed.auths) ? parsed.auths : {},
    credsStore: typeof parsed.credsStore === 'string' && parsed.credsStore !== '' ? parsed.credsStore : undefined,
    credHelpers,
  };
}

/** The value under the key for `host`: the exact server address first, then legacy spellings. */
export function lookupKey<T>(map: Record<string, T>, host: string): T | undefined {
  const exact = serverAddress(host);
  if (Object.hasOwn(map, exact)) return map[exact];
  if (Object.hasOwn(map, host)) return map[host];
  const want = keyHost(host);
  for (const [key, value] of Object.entries(map)) if (keyHost(key) === want) return value;
  return undefined;
}

/**
 * The credential in an `auths` entry. Precedence as in oras-go: registrytoken (used as is),
 * then identitytoken (OAuth2 refresh token), then auth / username+password.
 */
export function parseAuthEntry(entry: unknown, path: string, host: string): AuthEntry | undefined {
  if (!isRecord(entry)) return undefined;
  const str = (k: string): string => (typeof entry[k] === 'string' ? (entry[k] as string) : '');
  let username = str('username');
  let password = str('password');
  const auth = str('auth').replace(/\s+/g, '');
  if (auth !== '') {
    const decoded = decodeBase64(auth);
    const colon = decoded?.indexOf(':') ?? -1;
    if (decoded === undefined || colon === -1) {
      throw new ChartMirrorError(
        'AUTH',
        `authentication failed for ${host}: the "auth" field for ${host} in ${path} is not base64 of user:password`,
      );
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  registerSecret(password);
  const registryToken = str('registrytoken');
  if (registryToken !== '') {
    registerSecret(registryToken);
    return { kind: 'bearer', token: registryToken };
  }
  const identityToken = str('identitytoken');
  if (identityToken !== '') {
    registerSecret(identityToken);
    return { kind: 'identity', identityToken, ...(username !== '' ? { username } : {}) };
  }
  if (username === '' && password === '') return undefined;
  registerSecret(`${username}:${password}`);
  return { kind: 'basic', username, password };
}

function decodeBase64(s: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 === 1) return undefined;
  return Buffer.from(s, 'base64').toString('utf8');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
