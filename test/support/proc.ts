import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { createServer, isIP } from 'node:net';
import { onExit } from './cleanup.js';
import { waitFor } from './wait.js';

/** A free loopback TCP port (bind port 0, read it, release it). Racy by nature: callers retry on EADDRINUSE. */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, address, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Daemon {
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s). */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a long-running process whose stdout/stderr go to files; it is killed at process exit. */
export function startDaemon(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdoutFile: string; stderrFile: string },
): Daemon {
  const out = openSync(opts.stdoutFile, 'a');
  const err = opts.stderrFile === opts.stdoutFile ? out : openSync(opts.stderrFile, 'a');
  let child;
  try {
    child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', out, err] });
  } finally {
    closeSync(out);
    if (err !== out) closeSync(err);
  }
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
    child.on('error', (e) => {
      alive = false;
      // Surface spawn failures through the log the caller will show.
      resolve({ code: -1, signal: null });
      void e;
    });
  });
  const unhook = onExit('processes', () => {
    if (alive && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  void exited.then(unhook);
  return {
    pid: child.pid ?? -1,
    exited,
    running: () => alive,
    async stop(graceMs = 5000) {
      if (!alive) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Last `lines` lines of a file ('' if it cannot be read). */
export async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Status of GET url, or undefined when nothing answers (yet). */
export function probe(url: string, ca?: Buffer | string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', ca, timeout: 2000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Polls `check` until it returns true; fails early when `daemon` exits. */
export async function waitUntilReady(
  what: string,
  check: () => Promise<boolean>,
  opts: { daemon?: Daemon; timeoutMs?: number; logs?: () => Promise<string> } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    if (opts.daemon && !opts.daemon.running()) {
      const status = await opts.daemon.exited;
      throw new Error(`${what} exited before it was ready (code ${status.code}, signal ${status.signal})\n${opts.logs ? await opts.logs() : ''}`);
    }
    if (await check()) return;
    if (Date.now() > deadline) {
      await opts.daemon?.stop(1000);
      throw new Error(`${what} was not ready after ${opts.timeoutMs ?? 20_000} ms\n${opts.logs ? await opts.logs() : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Path prefix of the marker requests readLogThrough() sends; requests() leaves their lines out. */
export const LOG_MARKER = '/chartmirror-log-marker/';

/**
 * The access log of a server that logs each request once it has answered it, complete up to now:
 * sends a marker request (whatever the answer: 404, 401, 400 without a client certificate) and
 * waits until the marker's line is in the log, rather than until the file seems to stop growing.
 */
export async function readLogThrough(file: string, baseUrl: string): Promise<string> {
  const path = `${LOG_MARKER}${randomUUID()}`;
  await mark(`${baseUrl}${path}`);
  let text = '';
  await waitFor(async () => (text = await readFile(file, 'utf8')).includes(path), { what: `the marker request in ${file}` });
  return text;
}

function mark(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    // Our own loopback server: its certificate does not matter for a marker.
    const req = request(url, { method: 'GET', rejectUnauthorized: false, timeout: 10_000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${url}`)));
    req.on('error', (e) => reject(new Error(`cannot mark the access log with ${url}: ${e.message}`)));
    req.end();
  });
}

/**
 * The machine's hostname when it resolves to a loopback IPv4 address (as /etc/hosts usually makes it).
 * Clients that treat "localhost" and loopback IPs as plain-HTTP hosts (Helm 3) still use TLS with this name.
 */
let loopbackName: Promise<{ name: string; address: string } | undefined> | undefined;
export function loopbackHostname(): Promise<{ name: string; address: string } | undefined> {
  loopbackName ??= findLoopbackHostname();
  return loopbackName;
}

async function findLoopbackHostname(): Promise<{ name: string; address: string } | undefined> {
  const name = hostname();
  if (!name || name === 'localhost' || isIP(name)) return undefined;
  try {
    const { address } = await lookup(name, { family: 4 });
    return address.startsWith('127.') ? { name, address } : undefined;
  } catch {
    return undefined;
  }
}

const notices = new Set<string>();
/** Prints a notice to stderr once per process. */
export function noticeOnce(message: string): void {
  if (notices.has(message)) return;
  notices.add(message);
  process.stderr.write(`\n[chartmirror tests] NOTE: ${message}\n`);
}
