import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { requireBinary } from './bins.js';
import { simpleRequest } from './http.js';
import { freePort, probe, startDaemon, tail, waitUntilReady, type Daemon } from './proc.js';
import { tmpDir } from './tmp.js';

/** One sample of the Prometheus text format: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface RunningPushgateway {
  /** `http://127.0.0.1:<port>`, without credentials. */
  url: string;
  /** `127.0.0.1:<port>`. */
  host: string;
  /** `http://user:password@127.0.0.1:<port>` when basic auth is on. */
  authUrl?: string;
  username?: string;
  password?: string;
  logFile: string;
  /** Every sample the Pushgateway serves on /metrics now (its own go_* and process_* too). */
  samples(): Promise<Sample[]>;
  /** The samples of one metric name. */
  series(name: string): Promise<Sample[]>;
  stop(): Promise<void>;
}

/**
 * The real Prometheus Pushgateway (Debian prometheus-pushgateway) on a free loopback port, in
 * memory only (`--persistence.file=`: Debian's default would write /var/lib). With `basicAuth`,
 * a web config file makes every endpoint ask for that user (bcrypt, as exporter-toolkit wants).
 */
export async function startPushgateway(
  opts: { basicAuth?: { username: string; password: string }; address?: string; hostName?: string } = {},
): Promise<RunningPushgateway> {
  const address = opts.address ?? '127.0.0.1';
  const bin = requireBinary('prometheus-pushgateway');
  if (!bin) throw new Error('prometheus-pushgateway is not installed (Debian package prometheus-pushgateway); guard the test with haveBinaries()');
  const dir = await tmpDir('pushgateway-');
  const logFile = join(dir, 'pushgateway.log');
  const args = ['--persistence.file=', '--log.level=info'];
  if (opts.basicAuth) {
    const webConfig = join(dir, 'web.yml');
    await writeFile(webConfig, `basic_auth_users:\n  ${opts.basicAuth.username}: ${bcrypt.hashSync(opts.basicAuth.password, 4)}\n`);
    args.push(`--web.config.file=${webConfig}`);
  }
  let daemon: Daemon | undefined;
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort(address);
    await writeFile(logFile, '');
    daemon = startDaemon(bin, [...args, `--web.listen-address=${address}:${port}`], { cwd: dir, stdoutFile: logFile, stderrFile: logFile });
    try {
      await waitUntilReady(
        `prometheus-pushgateway on port ${port}`,
        async () => {
          const status = await probe(`http://${address}:${port}/-/ready`);
          return status === 200 || (opts.basicAuth !== undefined && status === 401);
        },
        { daemon, logs: () => tail(logFile, 30) },
      );
      break;
    } catch (e) {
      await daemon.stop(1000);
      if (/address already in use/i.test(await tail(logFile, 30)) && attempt < 5) continue;
      throw e;
    }
  }
  const host = `${opts.hostName ?? address}:${port}`;
  const url = `http://${host}`;
  const running: RunningPushgateway = {
    url,
    host,
    logFile,
    async samples() {
      const res = await simpleRequest(`${url}/metrics`, { basic: opts.basicAuth });
      if (res.status !== 200) throw new Error(`GET ${url}/metrics: ${res.status} ${res.text()}`);
      return parseExposition(res.text());
    },
    async series(name) {
      return (await running.samples()).filter((s) => s.name === name);
    },
    stop: () => daemon!.stop(),
  };
  if (opts.basicAuth) {
    running.username = opts.basicAuth.username;
    running.password = opts.basicAuth.password;
    running.authUrl = `http://${encodeURIComponent(opts.basicAuth.username)}:${encodeURIComponent(opts.basicAuth.password)}@${host}`;
  }
  return running;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

/** The samples of a text in the Prometheus text exposition format (comments and blank lines skipped); throws on a line it cannot read. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    let at = 0;
    let l: RegExpExecArray | null;
    while (at < body.length && (l = LABEL.exec(body))) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      at = LABEL.lastIndex;
    }
    if (at !== body.length) throw new Error(`cannot read the labels of ${JSON.stringify(line)}`);
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The one sample of `name` whose labels include `labels`; throws when there is none or several. */
export function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}; have: ${samples.filter((s) => s.name === name).map((s) => JSON.stringify(s.labels)).join(' ') || 'none'}`);
  return found[0]!;
}
