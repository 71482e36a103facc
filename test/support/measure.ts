import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface Measured {
  code: number;
  ms: number;
  /** Peak resident set size of the child in MB (VmHWM), sampled every 20 ms. */
  peakRssMb: number;
  /** CPU time (user + system) of the child in ms, as last sampled (up to 20 ms before it ended). */
  cpuMs: number;
  stdout: string;
  stderr: string;
}

async function hwmKb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** utime + stime of a process in ms (/proc/PID/stat fields 14 and 15, in USER_HZ = 100 on Linux). */
async function cpuMsOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Run a command, timing it and tracking the high-water mark of its memory. */
export function runMeasured(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let peak = 0;
    let cpu = 0;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setInterval(() => {
      void hwmKb(child.pid!).then((kb) => (peak = Math.max(peak, kb)));
      void cpuMsOf(child.pid!).then((ms) => (cpu = Math.max(cpu, ms ?? 0)));
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({
        code: code ?? 1,
        ms: performance.now() - started,
        peakRssMb: Math.round(peak / 1024),
        cpuMs: cpu,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}
