import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { requireBinary } from './bins.js';
import { makeCA, makeCert } from './pki.js';
import { freePort, loopbackHostname, noticeOnce, LOG_MARKER, probe, readLogThrough, startDaemon, tail, waitUntilReady, type Daemon } from './proc.js';
import { tmpDir } from './tmp.js';
import { startTokenIssuer, type IssuedToken, type TokenIssuer } from './token-issuer.js';

export type { IssuedToken } from './token-issuer.js';

export interface RegistryRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The request target as sent (path and query). */
  url: string;
  status: number;
  /** Response body size in bytes (0 when the log says '-'). */
  bytes: number;
  userAgent: string;
}

export interface RunningRegistry {
  /** '127.0.0.1:<port>'. With tls: '<machine hostname>:<port>' when that name resolves to a loopback address
   *  (Helm 3's resolver, containerd's MatchLocalhost, always speaks plain HTTP to localhost and loopback IPs, so
   *  it can only reach an HTTPS registry by another name); otherwise '127.0.0.1:<port>' with a notice. */
  host: string;
  baseUrl: string;         // 'http://127.0.0.1:<port>' or https
  oci(path: string): string; // `oci://${host}/${path}`
  username?: string; password?: string;   // the htpasswd/token user when auth is on
  caFile?: string;         // when tls
  storageDir: string;
  /** auth === 'token': the realm and service the registry advertises in WWW-Authenticate. */
  tokenRealm?: string;
  tokenService?: string;
  /** The registry's config.yml and its two logs (access log = stdout, app log = stderr), for debugging. */
  configFile: string;
  logFile: string;
  accessLogFile: string;
  /** Requests the registry served since it became ready (readiness probes and log markers excluded), from its access log. */
  requests(): Promise<RegistryRequest[]>;
  /** Forget the requests seen so far: requests() then starts from here. */
  clearRequests(): Promise<void>;
  /** Token issuer stats when auth==='token': every token issued, with its scopes. */
  tokensIssued?(): IssuedToken[];
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';      // default none
  tls?: boolean;                              // HTTPS with a CA made by makeCA; caFile returned
  users?: Record<string, string>;             // default { pusher: 'secret-pw' }
  /** Token lifetime in seconds (default 300). The registry rejects a token exactly this long after issue. */
  tokenExpiresIn?: number;
  /** Listen here under this name (the certificate names it; the token realm uses it), e.g. 127.0.0.3 as
   *  registry.chartmirror.test (hosts.ts): a name that a proxy does not exempt as loopback. */
  address?: string;
  hostName?: string;
}

const DEFAULT_USERS = { pusher: 'secret-pw' };
const TOKEN_SERVICE = 'chartmirror-test-registry';
const TOKEN_ISSUER = 'chartmirror-test-token-issuer';

/**
 * A real CNCF distribution registry (docker-registry 2.8) on a free loopback port, storage in a tmpDir,
 * deletes enabled. auth 'htpasswd' uses bcrypt entries (the only kind distribution accepts); auth 'token'
 * starts a token issuer (token-issuer.ts) and points auth.token at it.
 */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const bin = requireBinary('docker-registry', 'docker-registry');
  if (!bin) throw new Error('docker-registry is not installed (Debian package docker-registry); guard the test with haveBinaries()');
  const auth = opts.auth ?? 'none';
  const users = opts.users ?? DEFAULT_USERS;
  let address = opts.address ?? '127.0.0.1';
  let hostName = opts.hostName ?? address;
  const dir = await tmpDir('registry-');
  const storageDir = join(dir, 'storage');
  await mkdir(storageDir);

  let tls: { certFile: string; keyFile: string; caFile: string } | undefined;
  if (opts.tls) {
    const ca = await makeCA(join(dir, 'pki'), 'chartmirror-registry-ca');
    if (!opts.hostName) {
      const named = await loopbackHostname();
      if (named) {
        hostName = named.name;
        address = named.address;
      } else {
        noticeOnce('no machine hostname resolves to a loopback address: the TLS registry is at 127.0.0.1, where Helm 3 speaks plain HTTP');
      }
    }
    const cert = await makeCert(ca, { name: 'registry', hosts: [...new Set([hostName, address, '127.0.0.1', 'localhost'])] });
    tls = { ...cert, caFile: ca.certFile };
  }

  let authConfig = '';
  let issuer: TokenIssuer | undefined;
  if (auth === 'htpasswd') {
    const htpasswd = join(dir, 'htpasswd');
    // Cost 4 (bcrypt's minimum): the registry checks the hash on every request.
    const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}`);
    await writeFile(htpasswd, `${lines.join('\n')}\n`);
    authConfig = `auth:\n  htpasswd:\n    realm: chartmirror-test\n    path: ${htpasswd}\n`;
  } else if (auth === 'token') {
    issuer = await startTokenIssuer({
      dir,
      users,
      service: TOKEN_SERVICE,
      issuer: TOKEN_ISSUER,
      expiresIn: opts.tokenExpiresIn,
      tls: tls && { certFile: tls.certFile, keyFile: tls.keyFile },
      address,
      hostName,
    });
    authConfig = [
      'auth:',
      '  token:',
      `    realm: ${issuer.realm}`,
      `    service: ${issuer.service}`,
      `    issuer: ${issuer.issuer}`,
      `    rootcertbundle: ${issuer.certFile}`,
      '',
    ].join('\n');
  }

  const configFile = join(dir, 'config.yml');
  const logFile = join(dir, 'registry.log');
  const accessLogFile = join(dir, 'access.log');
  const env: NodeJS.ProcessEnv = {};
  // REGISTRY_* variables override the config file: keep the developer's own out.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;

  let daemon: Daemon | undefined;
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort(address);
    await writeFile(configFile, registryConfig({ address, port, storageDir, authConfig, tls }));
    await writeFile(logFile, '');
    await writeFile(accessLogFile, '');
    daemon = startDaemon(bin, ['serve', configFile], { cwd: dir, env, stdoutFile: accessLogFile, stderrFile: logFile });
    const url = `${tls ? 'https' : 'http'}://${address}:${port}/v2/`;
    const ca = tls ? await readFile(tls.caFile) : undefined;
    try {
      await waitUntilReady(`docker-registry on port ${port}`, async () => {
        const status = await probe(url, ca);
        return status === 200 || status === 401;
      }, { daemon, logs: () => logs(logFile, accessLogFile) });
      break;
    } catch (e) {
      await daemon.stop(1000);
      const inUse = /address already in use/i.test(await tail(logFile, 50));
      if (inUse && attempt < 5) continue;
      await issuer?.stop();
      throw e;
    }
  }

  const host = `${hostName}:${port}`;
  let offset = (await readFile(accessLogFile, 'utf8')).length; // readiness probes are not the test's requests
  const running: RunningRegistry = {
    host,
    baseUrl: `${tls ? 'https' : 'http'}://${host}`,
    oci: (path: string) => `oci://${host}/${path.replace(/^\/+/, '')}`,
    storageDir,
    configFile,
    logFile,
    accessLogFile,
    async requests() {
      const text = (await readLogThrough(accessLogFile, running.baseUrl)).slice(offset);
      return parseCombinedLog(text).filter((r) => !r.path.startsWith(LOG_MARKER));
    },
    async clearRequests() {
      offset = (await readLogThrough(accessLogFile, running.baseUrl)).length;
    },
    async stop() {
      await daemon?.stop();
      await issuer?.stop();
    },
  };
  if (auth !== 'none') {
    const [username, password] = Object.entries(users)[0] ?? [];
    running.username = username;
    running.password = password;
  }
  if (tls) running.caFile = tls.caFile;
  if (issuer) {
    const iss = issuer;
    running.tokenRealm = iss.realm;
    running.tokenService = iss.service;
    running.tokensIssued = () => iss.issued();
  }
  return running;
}

function registryConfig(o: {
  address: string;
  port: number;
  storageDir: string;
  authConfig: string;
  tls?: { certFile: string; keyFile: string };
}): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: json',
    '  accesslog:',
    '    disabled: false', // Apache combined format on stdout (registry/registry.go, v2.8)
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${o.storageDir}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${o.address}:${o.port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    ...(o.tls ? ['  tls:', `    certificate: ${o.tls.certFile}`, `    key: ${o.tls.keyFile}`] : []),
    'health:',
    '  storagedriver:',
    '    enabled: false',
    o.authConfig,
  ].join('\n');
}

async function logs(logFile: string, accessLogFile: string): Promise<string> {
  return `--- registry log (tail) ---\n${await tail(logFile, 30)}\n--- access log (tail) ---\n${await tail(accessLogFile, 10)}`;
}

// 127.0.0.1 - - [25/Nov/2025:13:04:05 +0000] "GET /v2/ HTTP/1.1" 401 87 "" "helm/3.17.3"
const COMBINED = /^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+|-) "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"/;

export function parseCombinedLog(text: string): RegistryRequest[] {
  const out: RegistryRequest[] = [];
  for (const line of text.split('\n')) {
    const m = COMBINED.exec(line);
    if (!m) continue;
    const url = m[2]!;
    out.push({
      method: m[1]!,
      url,
      path: url.split('?')[0]!,
      status: Number(m[3]),
      bytes: m[4] === '-' ? 0 : Number(m[4]),
      userAgent: m[5]!,
    });
  }
  return out;
}
