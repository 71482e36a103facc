/**
 * The docker-credential-helpers protocol: `docker-credential-<name> get`, the server address on
 * stdin, `{"ServerURL","Username","Secret"}` on stdout. "credentials not found" (exit != 0) means
 * none (oras-go credentials/native_store.go). Nothing a helper prints reaches a message: on
 * failure we say which helper failed and how, never what it wrote.
 */
import { spawn } from 'node:child_process';
import { ChartMirrorError } from '../../errors.js';
import { registerSecret } from '../../util/secrets.js';

/** Default for `helperTimeoutMs`: long enough for a keychain unlock prompt, short enough to notice a hang. */
export const DEFAULT_HELPER_TIMEOUT_MS = 30_000;

/** Docker writes this username when the secret is an identity (refresh) token. */
export const TOKEN_USERNAME = '<token>';

const NOT_FOUND = /credentials not found/i;
const MAX_OUTPUT_BYTES = 1024 * 1024;
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export type HelperResult =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'identity'; identityToken: string };

export interface HelperOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Only for messages: the config file that named the helper. */
  configPath: string;
}

/** Runs `docker-credential-<name> get`. Undefined when the helper has nothing for the server. */
export async function getFromHelper(
  name: string,
  serverAddress: string,
  host: string,
  opts: HelperOptions,
): Promise<HelperResult | undefined> {
  const program = `docker-credential-${name}`;
  if (!HELPER_NAME.test(name)) {
    throw authError(host, `credential helper name ${JSON.stringify(name)} in ${opts.configPath} is not valid`);
  }
  const out = await run(program, serverAddress, host, opts);
  if (out.code !== 0) {
    if (NOT_FOUND.test(out.stdout) || NOT_FOUND.test(out.stderr)) return undefined;
    throw authError(host, `credential helper ${program} (from ${opts.configPath}) failed with exit code ${out.code}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(out.stdout);
  } catch {
    // The parser's message can quote the output, which holds the secret.
    throw authError(host, `credential helper ${program} (from ${opts.configPath}) printed something that is not JSON`);
  }
  const rec = (parsed ?? {}) as Record<string, unknown>;
  const username = typeof rec.Username === 'string' ? rec.Username : '';
  const secret = typeof rec.Secret === 'string' ? rec.Secret : '';
  if (secret === '') return undefined;
  registerSecret(secret);
  if (username === TOKEN_USERNAME) return { kind: 'identity', identityToken: secret };
  return { kind: 'basic', username, password: secret };
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(program: string, input: string, host: string, opts: HelperOptions): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const child = spawn(program, ['get'], { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_OUTPUT_BYTES) into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() =>
        reject(authError(host, `credential helper ${program} (from ${opts.configPath}) did not answer within ${timeoutMs / 1000} s`)),
      );
    }, timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT'
          ? `credential helper ${program} (named in ${opts.configPath}) is not installed or not on PATH`
          : `credential helper ${program} (from ${opts.configPath}) could not be started (${err.code ?? 'error'})`;
      finish(() => reject(authError(host, why)));
    });
    child.on('close', (code, signal) => {
      finish(() =>
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(stdout).toString('utf8').trim(),
          stderr: Buffer.concat(stderr).toString('utf8').trim(),
        }),
      );
    });
    // A helper that exits without reading stdin makes the write fail with EPIPE; the exit code tells.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

function authError(host: string, why: string): ChartMirrorError {
  return new ChartMirrorError('AUTH', `authentication failed for ${host}: ${why}`);
}
