import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireBinary } from './bins.js';
import { freePort, LOG_MARKER, readLogThrough, startDaemon, tail, waitUntilReady, type Daemon } from './proc.js';
import { tmpDir } from './tmp.js';

export interface StaticRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The request target as sent (path and query). */
  url: string;
  status: number;
  /** Response body bytes sent. */
  bytes: number;
  /** The If-None-Match / If-Modified-Since request headers ('' when absent): conditional GETs show here. */
  ifNoneMatch: string;
  ifModifiedSince: string;
  /** The Basic-auth user nginx accepted ('' when none). */
  user: string;
  userAgent: string;
}

export interface StaticServerOptions {
  root: string;
  basicAuth?: { username: string; password: string };
  tls?: { certFile: string; keyFile: string; clientCaFile?: string }; // clientCaFile => require a client certificate
  /** Serve .tgz files with `Content-Encoding: gzip` added (the bytes are the .tgz as is, as a misconfigured
   *  server or object store does), and compress text (index.yaml) on the fly for clients that accept gzip. */
  gzip?: boolean;
  /** Where to listen (default 127.0.0.1), and the name in `url` and `host` (default: the address),
   *  e.g. 127.0.0.2 as charts.chartmirror.test (hosts.ts), a name a proxy does not exempt. */
  address?: string;
  hostName?: string;
}

export interface StaticServer {
  url: string;   // 'http://127.0.0.1:<port>' or https, no trailing slash
  host: string;  // '127.0.0.1:<port>' (or '<hostName>:<port>')
  configFile: string;
  errorLogFile: string;
  accessLogFile: string;
  stop(): Promise<void>;
  /** Requests served since the server became ready (log markers excluded), from nginx's access log. */
  requests(): Promise<StaticRequest[]>;
  clearRequests(): Promise<void>;
}

/**
 * nginx (non-daemon, generated config, everything in a tmpDir) serving `root` on a free loopback port.
 * ETag and Last-Modified are on (nginx defaults), so conditional GETs get 304s.
 */
export async function startStaticServer(opts: StaticServerOptions): Promise<StaticServer> {
  const bin = requireBinary('nginx', 'nginx-light');
  if (!bin) throw new Error('nginx is not installed (Debian package nginx-light); guard the test with haveBinaries()');
  const dir = await tmpDir('nginx-');
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir, sub));
  let htpasswd: string | undefined;
  if (opts.basicAuth) {
    htpasswd = join(dir, 'htpasswd');
    await writeFile(htpasswd, `${opts.basicAuth.username}:${ssha(opts.basicAuth.password)}\n`);
  }
  const configFile = join(dir, 'nginx.conf');
  const errorLogFile = join(dir, 'error.log');
  const accessLogFile = join(dir, 'access.log');
  const stdoutFile = join(dir, 'stdout.log');
  const scheme = opts.tls ? 'https' : 'http';

  let daemon: Daemon | undefined;
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort(opts.address);
    await writeFile(configFile, nginxConfig({ dir, port, opts, htpasswd, errorLogFile, accessLogFile }));
    await writeFile(accessLogFile, '');
    await writeFile(errorLogFile, '');
    // -e: nginx opens its compiled-in error log before reading the config; keep that in the tmp dir too.
    daemon = startDaemon(bin, ['-p', dir, '-c', configFile, '-e', errorLogFile], {
      cwd: dir,
      stdoutFile,
      stderrFile: stdoutFile,
    });
    try {
      // The master has bound the port once a worker runs; no HTTP probe (it would need credentials, a client
      // certificate, and would show up in the access log).
      await waitUntilReady(`nginx on port ${port}`, async () => (await readFile(errorLogFile, 'utf8').catch(() => '')).includes('start worker process'), { daemon, logs: async () => `--- nginx error log ---\n${await tail(errorLogFile, 30)}\n${await tail(stdoutFile, 10)}` });
      break;
    } catch (e) {
      await daemon.stop(1000);
      if (/Address already in use/i.test(await tail(errorLogFile, 50)) && attempt < 5) continue;
      throw e;
    }
  }
  const host = `${opts.hostName ?? opts.address ?? '127.0.0.1'}:${port}`;
  let offset = (await readFile(accessLogFile, 'utf8')).length;
  return {
    url: `${scheme}://${host}`,
    host,
    configFile,
    errorLogFile,
    accessLogFile,
    async stop() {
      await daemon?.stop();
    },
    async requests() {
      const text = (await readLogThrough(accessLogFile, `${scheme}://${host}`)).slice(offset);
      return parseAccessLog(text).filter((r) => !r.path.startsWith(LOG_MARKER));
    },
    async clearRequests() {
      offset = (await readLogThrough(accessLogFile, `${scheme}://${host}`)).length;
    },
  };
}

/** nginx's {SSHA} scheme: base64(sha1(password + salt) + salt). */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

function nginxConfig(o: {
  dir: string;
  port: number;
  opts: StaticServerOptions;
  htpasswd?: string;
  errorLogFile: string;
  accessLogFile: string;
}): string {
  const { dir, port, opts } = o;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const lines = [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    // As root, workers would drop to "nobody" and could not read a 0700 tmp dir: stay root.
    ...(asRoot ? ['user root;'] : []),
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${o.errorLogFile} info;`,
    'events { worker_connections 256; }',
    'http {',
    '  types {',
    '    text/html html;',
    '    text/plain txt;',
    '    application/x-yaml yaml yml;',
    '    application/json json;',
    '    application/gzip tgz gz;',
    '    application/pgp-signature prov asc;',
    '  }',
    '  default_type application/octet-stream;',
    // Tab-separated and escaped: method, status, bytes, request URI, conditional headers, user, user agent.
    "  log_format chartmirror escape=json '$request_method\\t$status\\t$body_bytes_sent\\t$request_uri\\t$http_if_none_match\\t$http_if_modified_since\\t$remote_user\\t$http_user_agent';",
    `  access_log ${o.accessLogFile} chartmirror;`,
    `  client_body_temp_path ${join(dir, 'client_body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    '  sendfile on;',
    '  keepalive_timeout 30;',
    '  server_tokens off;',
    ...(opts.gzip
      ? ['  gzip on;', '  gzip_min_length 1;', '  gzip_types text/plain application/x-yaml application/json;', '  gzip_vary on;']
      : []),
    '  server {',
    `    listen ${opts.address ?? '127.0.0.1'}:${port}${opts.tls ? ' ssl' : ''};`,
    '    server_name localhost;',
    `    root ${opts.root};`,
    ...(opts.tls
      ? [
          `    ssl_certificate ${opts.tls.certFile};`,
          `    ssl_certificate_key ${opts.tls.keyFile};`,
          ...(opts.tls.clientCaFile
            ? [`    ssl_client_certificate ${opts.tls.clientCaFile};`, '    ssl_verify_client on;', '    ssl_verify_depth 2;']
            : []),
        ]
      : []),
    ...(o.htpasswd ? ['    auth_basic "chartmirror-test";', `    auth_basic_user_file ${o.htpasswd};`] : []),
    '    location / {',
    '      autoindex off;',
    '    }',
    ...(opts.gzip ? ['    location ~ \\.tgz$ {', '      add_header Content-Encoding gzip;', '    }'] : []),
    '  }',
    '}',
    '',
  ];
  return lines.join('\n');
}

function unescape(field: string): string {
  // escape=json writes \" \\ \n \t \uXXXX and the like.
  try {
    return JSON.parse(`"${field}"`) as string;
  } catch {
    return field;
  }
}

export function parseAccessLog(text: string): StaticRequest[] {
  const out: StaticRequest[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    if (f.length < 8) continue;
    const url = unescape(f[3]!);
    out.push({
      method: unescape(f[0]!),
      status: Number(f[1]),
      bytes: Number(f[2]),
      url,
      path: url.split('?')[0]!,
      ifNoneMatch: unescape(f[4]!),
      ifModifiedSince: unescape(f[5]!),
      user: unescape(f[6]!),
      userAgent: unescape(f.slice(7).join('\t')),
    });
  }
  return out;
}
