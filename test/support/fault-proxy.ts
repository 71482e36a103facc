import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { onExit } from './cleanup.js';

export type Fault = 'reset' | '503' | '429' | 'truncate' | 'corrupt' | 'slow' | 'stall' | 'hold';

export interface FaultProxy {
  url: string;
  host: string;
  /** Faults injected so far, by kind. */
  injected(): Record<Fault, number>;
  /** Requests seen (method and path, query stripped) with the fault applied, if any. */
  log(): Array<{ method: string; path: string; fault?: Fault; at: number }>;
  /** Stalled responses the client gave up on (closed the connection) before the stall ended. */
  abandoned(): number;
  /** Change the plan (e.g. to stop injecting). */
  setPlan(plan: FaultPlan): void;
  /** Forward the requests held so far ('hold'); the plan decides about later ones as before. */
  release(): void;
  stop(): Promise<void>;
}

/** Decide the fault for a request, given how many times its key was seen before (0 = first). */
export type FaultPlan = (req: { method: string; path: string; key: string; seen: number; index: number }) => Fault | undefined;

/**
 * A scripted HTTP proxy for fault injection (the one place the tests use a fake server): it
 * forwards to a real upstream (nginx, the registry) and, per the plan, resets the connection,
 * answers 503 or 429 + Retry-After, truncates the body, corrupts it (same length, last byte
 * flipped), answers slowly, stalls mid-body, or holds the request until release() (so a test
 * can act while requests are known to be in flight). The Host header is passed through, so the
 * registry writes upload Locations that point back at the proxy.
 */
export async function startFaultProxy(upstream: string, plan: FaultPlan, opts: { slowMs?: number; stallMs?: number } = {}): Promise<FaultProxy> {
  const up = new URL(upstream);
  const counts = new Map<string, number>();
  const injected: Record<Fault, number> = { reset: 0, '503': 0, '429': 0, truncate: 0, corrupt: 0, slow: 0, stall: 0, hold: 0 };
  const held: Array<() => void> = [];
  const timers = new Set<NodeJS.Timeout>();
  let abandoned = 0;
  const log: Array<{ method: string; path: string; fault?: Fault; at: number }> = [];
  let index = 0;
  let current = plan;
  const sockets = new Set<Socket>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://x');
    const key = faultKey(method, url);
    const seen = counts.get(key) ?? 0;
    counts.set(key, seen + 1);
    const fault = current({ method, path: url.pathname, key, seen, index: index++ });
    log.push({ method, path: url.pathname, fault, at: Date.now() });
    if (fault) injected[fault]++;

    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === '503' || fault === '429') {
      req.resume();
      res.writeHead(Number(fault), fault === '429' ? { 'retry-after': '1', 'content-length': '0' } : { 'content-length': '0' });
      res.end();
      return;
    }
    const forward = () => {
      const upstreamReq = httpRequest(
        { host: up.hostname, port: up.port, method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          if (fault === 'truncate' && method === 'GET') {
            // Send half of what Content-Length promises, then drop the connection.
            const chunks: Buffer[] = [];
            upRes.on('data', (c: Buffer) => chunks.push(c));
            upRes.on('end', () => {
              const body = Buffer.concat(chunks);
              // Drop the connection once the half has been handed to the socket.
              res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
            });
            return;
          }
          if (fault === 'corrupt' && method === 'GET') {
            // The promised length, with the last byte changed: a body that lies about its content.
            const chunks: Buffer[] = [];
            upRes.on('data', (c: Buffer) => chunks.push(c));
            upRes.on('end', () => {
              const body = Buffer.concat(chunks);
              if (body.length) body[body.length - 1] = body[body.length - 1]! ^ 0xff;
              res.end(body);
            });
            return;
          }
          if (fault === 'stall') {
            // Headers, then silence for longer than the client's body timeout.
            const chunks: Buffer[] = [];
            upRes.on('data', (c: Buffer) => chunks.push(c));
            upRes.on('end', () => {
              const body = Buffer.concat(chunks);
              res.write(body.subarray(0, 1));
              const timer = setTimeout(() => {
                timers.delete(timer);
                res.write(body.subarray(1));
                res.end();
              }, opts.stallMs ?? 3000);
              timers.add(timer);
              res.on('close', () => {
                if (!timers.delete(timer)) return;
                clearTimeout(timer);
                abandoned++;
              });
            });
            return;
          }
          upRes.pipe(res);
        },
      );
      upstreamReq.on('error', () => res.destroy());
      req.pipe(upstreamReq);
    };
    if (fault === 'slow') setTimeout(forward, opts.slowMs ?? 700);
    else if (fault === 'hold') held.push(forward);
    else forward();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  onExit('processes', () => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    injected: () => ({ ...injected }),
    log: () => [...log],
    abandoned: () => abandoned,
    setPlan: (p) => {
      current = p;
    },
    release: () => {
      for (const forward of held.splice(0)) forward();
    },
    stop,
  };
}

/**
 * What counts as "the same request" across retries: method and path, with an upload session's
 * id replaced by the blob digest it finishes (a retried upload starts a new session).
 */
function faultKey(method: string, url: URL): string {
  const path = url.pathname.replace(/\/blobs\/uploads\/[^/]+$/, '/blobs/uploads/*');
  const digest = url.searchParams.get('digest') ?? url.searchParams.get('mount') ?? '';
  return `${method} ${path} ${digest}`;
}

/** The first attempt of every request fails, cycling through the given faults. */
export function firstAttemptFails(faults: Fault[]): FaultPlan {
  let n = 0;
  return ({ seen }) => (seen === 0 ? faults[n++ % faults.length] : undefined);
}
