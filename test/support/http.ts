import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface SimpleResponse { status: number; headers: IncomingHttpHeaders; body: Buffer; text(): string; json<T = unknown>(): T }

/**
 * A plain node:http(s) request for assertions in tests (no decompression, no redirects, no keep-alive).
 * `ca`, `cert`, `key` are PEM contents (not paths). `basic` adds an Authorization: Basic header.
 */
export function simpleRequest(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    ca?: string | Buffer;
    cert?: string | Buffer;
    key?: string | Buffer;
    basic?: { username: string; password: string };
    timeoutMs?: number;
  } = {},
): Promise<SimpleResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.basic) {
    headers.authorization = `Basic ${Buffer.from(`${opts.basic.username}:${opts.basic.password}`).toString('base64')}`;
  }
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(
      url,
      { method: opts.method ?? 'GET', headers, ca: opts.ca, cert: opts.cert, key: opts.key, agent: false, timeout: opts.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: () => body.toString('utf8'),
            json: <T>() => JSON.parse(body.toString('utf8')) as T,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${opts.method ?? 'GET'} ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
