import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { requireBinary } from './bins.js';
import { freePort, startDaemon, tail, waitUntilReady, type Daemon } from './proc.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

/** One request a forward proxy received: an absolute-form request, or a CONNECT. */
export interface ProxyRequest {
  /** GET, POST, CONNECT, … */
  method: string;
  /** What followed the method: `http://host:port/path` or, for CONNECT, `host:port`. */
  target: string;
  /** `host:port` the request was for. */
  host: string;
}

export interface ForwardProxy {
  /** `http://127.0.0.1:<port>`, without credentials. */
  url: string;
  /** `http://user:password@127.0.0.1:<port>` when basic auth is on. */
  authUrl?: string;
  username?: string;
  password?: string;
  configFile: string;
  logFile: string;
  /** Requests received since start (or clearRequests), complete up to now, from the proxy's own log. */
  requests(): Promise<ProxyRequest[]>;
  clearRequests(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real forward proxy (Debian tinyproxy) on a free loopback port, foreground, config and log in
 * a tmpDir; `basicAuth` makes it ask for that user (tinyproxy's BasicAuth). No ConnectPort line:
 * CONNECT is allowed to every port. Facts: tinyproxy answers missing credentials with 407, and
 * wrong ones with 401 (to a CONNECT as to a request); it logs each request line (method and
 * target) when it reads it, before it checks credentials or connects anywhere.
 */
export async function startForwardProxy(opts: { basicAuth?: { username: string; password: string } } = {}): Promise<ForwardProxy> {
  const bin = requireBinary('tinyproxy');
  if (!bin) throw new Error('tinyproxy is not installed (Debian package tinyproxy); guard the test with haveBinaries()');
  const dir = await tmpDir('tinyproxy-');
  const configFile = join(dir, 'tinyproxy.conf');
  const logFile = join(dir, 'tinyproxy.log');
  const outFile = join(dir, 'stdout.log');
  let daemon: Daemon | undefined;
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    await writeFile(configFile, tinyproxyConfig({ port, logFile, basicAuth: opts.basicAuth }));
    await writeFile(logFile, '');
    daemon = startDaemon(bin, ['-d', '-c', configFile], { cwd: dir, stdoutFile: outFile, stderrFile: outFile });
    try {
      await waitUntilReady(`tinyproxy on port ${port}`, () => canConnect(port), { daemon, logs: async () => `${await tail(logFile, 30)}\n${await tail(outFile, 10)}` });
      break;
    } catch (e) {
      await daemon.stop(1000);
      if (/address already in use|could not create listening/i.test(`${await tail(logFile, 30)}${await tail(outFile, 10)}`) && attempt < 5) continue;
      throw e;
    }
  }
  const url = `http://127.0.0.1:${port}`;
  const authUrl = opts.basicAuth ? `http://${encodeURIComponent(opts.basicAuth.username)}:${encodeURIComponent(opts.basicAuth.password)}@127.0.0.1:${port}` : undefined;
  let offset = (await readFile(logFile, 'utf8')).length;
  const readThrough = async (): Promise<string> => {
    // A marker request through the proxy (to a port where nothing listens): once its line is in
    // the log, so is every request the proxy read before it.
    const marker = `/chartmirror-log-marker/${randomUUID()}`;
    await sendThrough(port, `http://127.0.0.1:9${marker}`, opts.basicAuth);
    let text = '';
    await waitFor(async () => (text = await readFile(logFile, 'utf8')).includes(marker), { what: `the marker request in ${logFile}` });
    return text;
  };
  return {
    url,
    ...(authUrl ? { authUrl, username: opts.basicAuth!.username, password: opts.basicAuth!.password } : {}),
    configFile,
    logFile,
    async requests() {
      return parseTinyproxyLog((await readThrough()).slice(offset)).filter((r) => !r.target.includes('/chartmirror-log-marker/'));
    },
    async clearRequests() {
      offset = (await readThrough()).length;
    },
    async stop() {
      await daemon?.stop();
    },
  };
}

function tinyproxyConfig(o: { port: number; logFile: string; basicAuth?: { username: string; password: string } }): string {
  return [
    `Port ${o.port}`,
    'Listen 127.0.0.1',
    'Timeout 60',
    `LogFile "${o.logFile}"`,
    // Connect: each connection and each request line, nothing more.
    'LogLevel Connect',
    'MaxClients 200',
    'Allow 127.0.0.1',
    'DisableViaHeader Yes',
    ...(o.basicAuth ? [`BasicAuth ${o.basicAuth.username} ${o.basicAuth.password}`] : []),
    '',
  ].join('\n');
}

// CONNECT   Nov 30 14:17:32.478 [3469]: Request (file descriptor 5): GET http://charts.chartmirror.test:38999/ HTTP/1.1
const REQUEST_LINE = /\]: Request \(file descriptor \d+\): (\S+) (\S+) HTTP\/\d\.\d\s*$/;

export function parseTinyproxyLog(text: string): ProxyRequest[] {
  const out: ProxyRequest[] = [];
  for (const line of text.split('\n')) {
    const m = REQUEST_LINE.exec(line);
    if (!m) continue;
    const method = m[1]!;
    const target = m[2]!;
    let host = target;
    if (method !== 'CONNECT') {
      try {
        const u = new URL(target);
        host = `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
      } catch {
        host = '';
      }
    }
    out.push({ method, target, host });
  }
  return out;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** One absolute-form GET through the proxy; its answer (a 500: nothing listens there) does not matter. */
function sendThrough(port: number, target: string, auth?: { username: string; password: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (auth) headers['proxy-authorization'] = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path: target, headers, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve());
      res.on('error', () => resolve());
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from the proxy on port ${port}`)));
    req.on('error', (e) => reject(new Error(`cannot send a marker through the proxy on port ${port}: ${e.message}`)));
    req.end();
  });
}
