/**
 * Hostile sources (issue 14): a remote index that points at local files, servers that drip or
 * never end, entries with endless URL lists, versions that forge output lines, signed URLs that
 * must not reach the state directory, charts whose nesting would fill memory, archives that
 * together would, a state directory that cannot be written, a full disk under the journal, and
 * SIGTERM while the index loads. Each asserts its bound: exit code, message, what landed, time
 * or peak memory (measured in a child process). Well-behaved servers are nginx; the hostile
 * ones are scripted here.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { CLI, chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { chartYaml, craftTgz } from '../support/craft.js';
import { runMeasured } from '../support/measure.js';
import { run } from '../support/exec.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { sha256Hex } from '../../src/util/digest.js';
import { onExit } from '../support/cleanup.js';

type Report = { items: ReportItem[]; summary: Record<string, number> };

/** A scripted server: each test installs its handler; requests are counted by path. */
interface Scripted {
  url: string;
  hits: Map<string, number>;
  handle(fn: (req: IncomingMessage, res: ServerResponse) => void): void;
}

async function startScripted(): Promise<Scripted> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.writeHead(404).end();
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onExit('processes', () => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, handle: (fn) => (handler = fn) };
}

function indexYaml(entries: Record<string, Array<Record<string, unknown>>>): string {
  return yaml.dump({ apiVersion: 'v1', entries, generated: '2026-11-30T00:00:00Z' });
}

function chart(name: string, version: string): Buffer {
  return craftTgz([
    { name: `${name}/Chart.yaml`, data: chartYaml(name, version) },
    { name: `${name}/values.yaml`, data: 'a: 1\n' },
  ]);
}

async function report(dir: string, file = 'r.json'): Promise<Report> {
  return JSON.parse(await readFile(join(dir, file), 'utf8')) as Report;
}

describe.skipIf(!haveBinaries('nginx'))('hostile sources', () => {
  let scripted: Scripted;
  let work: string;

  beforeAll(async () => {
    scripted = await startScripted();
    work = await tmpDir('hostile-');
  });

  const layoutConfig = async (dir: string, url: string, extra: Record<string, unknown> = {}) => {
    await mkdir(dir, { recursive: true });
    return writeConfig(dir, { sources: [{ name: 'src', url, verify: { provenance: 'ignore' } }], targets: [{ name: 'disk', layout: './out' }], http: { retries: { attempts: 1 } }, ...extra });
  };

  it('a remote index cannot make it read local files: file:// chart URLs fail that item, nothing is read', async () => {
    const dir = join(work, 'file-urls');
    const local = join(dir, 'local.tgz');
    await mkdir(dir, { recursive: true });
    await writeFile(local, chart('stolen', '1.0.0'));
    scripted.handle((req, res) => {
      if (req.url === '/index.yaml') {
        res.end(indexYaml({ zero: [{ name: 'zero', version: '1.0.0', urls: ['file:///dev/zero'] }], stolen: [{ name: 'stolen', version: '1.0.0', urls: [`file://${local}`] }], ftp: [{ name: 'ftp', version: '1.0.0', urls: ['ftp://example.com/x.tgz'] }] }));
      } else res.writeHead(404).end();
    });
    const cfg = await layoutConfig(dir, scripted.url);
    const r = await runMeasured(process.execPath, [CLI, 'sync', '-c', cfg, '--report', 'r.json', '--quiet'], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.peakRssMb).toBeLessThan(300);
    const items = (await report(dir)).items;
    const reason = (chartName: string) => items.find((i) => i.chart === chartName)!.reason!;
    expect(items.every((i) => i.status === 'failed')).toBe(true);
    expect(reason('zero')).toContain('a chart URL in a remote index may not point at a local file');
    expect(reason('stolen')).toContain('a chart URL in a remote index may not point at a local file');
    expect(reason('ftp')).toContain('unsupported URL scheme "ftp:"');
    expect(existsSync(join(dir, 'out', 'index.json')) ? await readFile(join(dir, 'out', 'index.json'), 'utf8') : '').not.toContain('stolen');
  });

  it('a local index may list local files, but only regular files, and each read is capped', async () => {
    const dir = join(work, 'local-index');
    const repo = join(dir, 'repo');
    await mkdir(repo, { recursive: true });
    await writeFile(join(repo, 'ok-1.0.0.tgz'), chart('ok', '1.0.0'));
    await writeFile(join(repo, 'big-1.0.0.tgz'), randomBytes(64 * 1024));
    await writeFile(
      join(repo, 'index.yaml'),
      indexYaml({ ok: [{ name: 'ok', version: '1.0.0', urls: ['ok-1.0.0.tgz'] }], zero: [{ name: 'zero', version: '1.0.0', urls: ['file:///dev/zero'] }], big: [{ name: 'big', version: '1.0.0', urls: ['big-1.0.0.tgz'] }] }),
    );
    const cfg = await layoutConfig(dir, './repo', { limits: { archive: '32KiB' } });
    const r = await chartmirror(['sync', '-c', cfg, '--report', 'r.json', '--quiet'], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    const items = (await report(dir)).items;
    expect(items.find((i) => i.chart === 'ok')!.status).toBe('pushed');
    expect(items.find((i) => i.chart === 'zero')!.reason).toContain('/dev/zero: not a regular file');
    expect(items.find((i) => i.chart === 'big')!.reason).toMatch(/big-1\.0\.0\.tgz: larger than 32768 bytes \(limits\.archive\)/);
  });

  it('a server that drips the index one byte at a time is cut off by http.timeouts.total', async () => {
    const dir = join(work, 'drip');
    scripted.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/yaml' });
      const t = setInterval(() => (res.writableEnded || res.destroyed ? clearInterval(t) : res.write(' ')), 100);
      res.on('close', () => clearInterval(t));
    });
    const cfg = await layoutConfig(dir, scripted.url, { http: { retries: { attempts: 1 }, timeouts: { total: '2s', body: '60s' } } });
    const started = Date.now();
    const r = await chartmirror(['sync', '-c', cfg, '--quiet'], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/index\.yaml: not complete after 2 s \(http\.timeouts\.total\)/);
    // Bounded by the total timeout, not by the server: well under the 60 s body-idle timeout.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('an index that never ends stops at limits.index', async () => {
    const dir = join(work, 'endless');
    scripted.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/yaml' });
      const block = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(block));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const cfg = await layoutConfig(dir, scripted.url, { limits: { index: '4MiB' } });
    const r = await runMeasured(process.execPath, [CLI, 'sync', '-c', cfg, '--quiet'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/body larger than 4194304 bytes/);
    expect(r.peakRssMb).toBeLessThan(250);
  });

  it('an entry with twenty URLs that all fail costs three tries, and says how many it left', async () => {
    const dir = join(work, 'urls');
    scripted.hits.clear();
    scripted.handle((req, res) => {
      if (req.url === '/index.yaml') res.end(indexYaml({ many: [{ name: 'many', version: '1.0.0', urls: Array.from({ length: 20 }, (_, i) => `${scripted.url}/u${i}.tgz`) }] }));
      else res.writeHead(500).end();
    });
    const cfg = await layoutConfig(dir, scripted.url);
    const r = await chartmirror(['sync', '-c', cfg, '--report', 'r.json', '--quiet'], { cwd: dir });
    expect(r.code).toBe(1);
    const tried = [...scripted.hits.keys()].filter((p) => /^\/u\d+\.tgz$/.test(p));
    expect(tried.sort()).toEqual(['/u0.tgz', '/u1.tgz', '/u2.tgz']);
    expect((await report(dir)).items[0]!.reason).toContain('17 more URLs in the index not tried (at most 3 are)');
  });

  it('a newline in an index version cannot forge a progress line', async () => {
    const dir = join(work, 'forge');
    const evil = '1.0.0\npushed   s/evil 6.6.6 -> disk';
    scripted.handle((req, res) => {
      if (req.url === '/index.yaml') res.end(indexYaml({ evil: [{ name: 'evil', version: evil, urls: ['evil.tgz'] }] }));
      else res.writeHead(404).end();
    });
    const cfg = await layoutConfig(dir, scripted.url);
    const r = await chartmirror(['sync', '-c', cfg, '--verbose'], { cwd: dir });
    const lines = r.stderr.split('\n');
    expect(lines.some((l) => l.startsWith('pushed   s/evil'))).toBe(false);
    expect(r.stderr).toContain('1.0.0\\npushed   s/evil 6.6.6');
  });

  it('a signed URL\'s secret never reaches the state directory, and the cache still answers 304s', async () => {
    const dir = join(work, 'signed');
    const repo = join(dir, 'repo');
    await mkdir(repo, { recursive: true });
    await writeFile(join(repo, 'a-1.0.0.tgz'), chart('a', '1.0.0'));
    await writeFile(join(repo, 'index.yaml'), indexYaml({ a: [{ name: 'a', version: '1.0.0', urls: ['a-1.0.0.tgz'], digest: sha256Hex(chart('a', '1.0.0')) }] }));
    const nginx: StaticServer = await startStaticServer({ root: repo });
    try {
      const cfg = await layoutConfig(dir, `${nginx.url}/?sig=TOPSECRETSIGNATURE`);
      expect((await chartmirror(['sync', '-c', cfg, '--quiet'], { cwd: dir })).code).toBe(0);
      const again = await chartmirror(['sync', '-c', cfg, '--log-format', 'json'], { cwd: dir });
      expect(again.code).toBe(0);
      expect(again.stderr).toMatch(/"notModified":true/);
      const files = await readdir(join(dir, '.chartmirror'), { recursive: true });
      for (const f of files) {
        const p = join(dir, '.chartmirror', f);
        if (f.endsWith('.json') || f.endsWith('.jsonl')) expect(await readFile(p, 'utf8'), f).not.toContain('TOPSECRETSIGNATURE');
      }
    } finally {
      await nginx.stop();
    }
  });

  it('a state directory that cannot be written: exit 2, one line naming it, before any request', async () => {
    const dir = join(work, 'unwritable');
    await mkdir(dir, { recursive: true });
    // A file where a directory should be: not writable for anyone, root included.
    await writeFile(join(dir, 'blocked'), 'not a directory');
    scripted.hits.clear();
    const cfg = await layoutConfig(dir, scripted.url, { state: './blocked/state' });
    const r = await chartmirror(['sync', '-c', cfg], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`state ${join(dir, 'blocked', 'state')}: cannot create the state directory (ENOTDIR)`);
    expect(scripted.hits.size).toBe(0);
  });

  it('SIGTERM while the index loads exits 143 at once', async () => {
    const dir = join(work, 'sigterm');
    let asked = false;
    scripted.handle(() => {
      asked = true; // never answered
    });
    const cfg = await layoutConfig(dir, scripted.url);
    const child = spawn(process.execPath, [CLI, 'sync', '-c', cfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const done = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
    await waitFor(() => asked, { what: 'the index request' });
    const sent = Date.now();
    child.kill('SIGTERM');
    expect(await done).toBe(143);
    expect(Date.now() - sent).toBeLessThan(4_000); // before the 5 s grace: nothing was in flight
    expect(Buffer.concat(err).toString()).toContain('interrupted by SIGTERM before any chart version was tried');
  });

  it('a journal that cannot grow (a full disk): what was pushed is reported pushed, with one warning', async () => {
    const dir = join(work, 'disk-full');
    const repo = join(dir, 'repo');
    await mkdir(repo, { recursive: true });
    await writeFile(join(repo, 'a-1.0.0.tgz'), chart('a', '1.0.0'));
    await writeFile(join(repo, 'index.yaml'), indexYaml({ a: [{ name: 'a', version: '1.0.0', urls: ['a-1.0.0.tgz'] }] }));
    // The disk is "full" for the journal: it is already at the file size limit the process
    // runs under (ulimit -f, with SIGXFSZ ignored so a write fails with EFBIG instead).
    await mkdir(join(dir, '.chartmirror'), { recursive: true });
    const lines = Array.from({ length: 800 }, (_, i) => `${JSON.stringify({ k: JSON.stringify(['old', 'c', String(i), 'x']), d: `sha256:${'0'.repeat(64)}`, t: '2026-01-01T00:00:00Z' })}\n`);
    await writeFile(join(dir, '.chartmirror', 'journal.jsonl'), lines.join(''));
    const cfg = await layoutConfig(dir, './repo');
    const r = await run('bash', ['-c', `trap '' XFSZ; ulimit -f 64; exec "${process.execPath}" "${CLI}" sync -c "${cfg}" --report r.json`], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((await report(dir)).items.map((i) => i.status)).toEqual(['pushed']);
    expect(r.stderr).toMatch(/the journal could not be written \(.*journal\.jsonl: EFBIG\)/);
  });

  it('charts nesting subcharts six deep, full of zeros, sixteen at once: memory stays small', async () => {
    const dir = join(work, 'nested');
    const repo = join(dir, 'repo');
    await mkdir(repo, { recursive: true });
    const zeros = Buffer.alloc(5 * 1024 * 1024 - 1024);
    const filler = (prefix: string) => Array.from({ length: 8 }, (_, i) => ({ name: `${prefix}/templates/z${i}.txt`, data: zeros }));
    // Innermost first: each level holds the next as charts/<name>.tgz, beside 40 MB of zeros.
    let inner: Buffer | undefined;
    for (let level = 6; level >= 1; level--) {
      const name = `l${level}`;
      inner = craftTgz([{ name: `${name}/Chart.yaml`, data: chartYaml(name, '1.0.0') }, ...filler(name), ...(inner ? [{ name: `${name}/charts/l${level + 1}-1.0.0.tgz`, data: inner }] : [])]);
    }
    const entries: Record<string, Array<Record<string, unknown>>> = {};
    for (let i = 0; i < 16; i++) {
      const name = `nest${i}`;
      const tgz = craftTgz([{ name: `${name}/Chart.yaml`, data: chartYaml(name, '1.0.0') }, ...filler(name), { name: `${name}/charts/l1-1.0.0.tgz`, data: inner! }]);
      await writeFile(join(repo, `${name}-1.0.0.tgz`), tgz);
      entries[name] = [{ name, version: '1.0.0', urls: [`${name}-1.0.0.tgz`] }];
    }
    await writeFile(join(repo, 'index.yaml'), indexYaml(entries));
    const cfg = await layoutConfig(dir, './repo', { concurrency: 16 });
    const r = await runMeasured(process.execPath, [CLI, 'sync', '-c', cfg, '--report', 'r.json', '--quiet'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((await report(dir)).summary.pushed).toBe(16);
    // Every level inflates 40 MB; holding them would take 16 x 7 x 40 MB = 4.4 GB.
    expect(r.peakRssMb).toBeLessThan(400);
  });

  it('limits.inFlight bounds the archive bytes held by all versions in flight together', async () => {
    const dir = join(work, 'budget');
    const repo = join(dir, 'repo');
    await mkdir(repo, { recursive: true });
    const entries: Record<string, Array<Record<string, unknown>>> = {};
    const noise = randomBytes(4 * 1024 * 1024);
    for (let i = 0; i < 12; i++) {
      const name = `big${i}`;
      // 24 MB of incompressible content (stored, not compressed: fast to make), under Helm's limits.
      const files = Array.from({ length: 6 }, (_, k) => ({ name: `${name}/files/n${k}.bin`, data: Buffer.concat([Buffer.from(`${name}-${k}`), noise]) }));
      await writeFile(join(repo, `${name}-1.0.0.tgz`), craftTgz([{ name: `${name}/Chart.yaml`, data: chartYaml(name, '1.0.0') }, ...files], { level: 0 }));
      entries[name] = [{ name, version: '1.0.0', urls: [`${name}-1.0.0.tgz`] }];
    }
    await writeFile(join(repo, 'index.yaml'), indexYaml(entries));
    const nginx = await startStaticServer({ root: repo });
    try {
      const run = async (sub: string, inFlight: string) => {
        const cfg = await layoutConfig(join(dir, sub), nginx.url, { concurrency: 12, limits: { inFlight } });
        const m = await runMeasured(process.execPath, [CLI, 'sync', '-c', cfg, '--quiet'], { cwd: join(dir, sub) });
        expect(m.code, m.stderr).toBe(0);
        // Thousands of waits on the inflater leave no listener behind (no MaxListenersExceededWarning).
        expect(m.stderr).not.toContain('MaxListeners');
        return m.peakRssMb;
      };
      const budgeted = await run('budgeted', '32MiB');
      const unbounded = await run('unbounded', '4GiB');
      // 12 x 24 MB in flight at once without the budget; about one archive at a time with it.
      expect(budgeted).toBeLessThan(unbounded - 100);
      expect(budgeted).toBeLessThan(300);
    } finally {
      await nginx.stop();
    }
  });
});
