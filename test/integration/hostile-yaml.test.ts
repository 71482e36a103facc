import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, writeConfig } from '../support/cli.js';
import { craftTgz } from '../support/craft.js';
import { run } from '../support/exec.js';
import { REPO_ROOT } from '../support/helm.js';
import { runMeasured } from '../support/measure.js';
import { tmpDir } from '../support/tmp.js';

const DIST = join(REPO_ROOT, 'dist');
const H = 'apiVersion: v2\nname: h\nversion: 0.1.0\n';

/**
 * Run `body` (an async function body with `dist` and `input` in scope) in a child process, so
 * that work that would hang blocks the child, not the test runner, and is killed at the bound.
 * Resolves with what the body returned and how long the child took.
 */
async function inChild(body: string, input: Record<string, string>, boundMs: number): Promise<{ result: string; ms: number }> {
  const dir = await tmpDir('hostile-');
  const script = join(dir, 'run.mjs');
  await writeFile(join(dir, 'input.json'), JSON.stringify(input));
  await writeFile(
    script,
    `import { readFileSync } from 'node:fs';
const dist = ${JSON.stringify(DIST)};
const input = JSON.parse(readFileSync(${JSON.stringify(join(dir, 'input.json'))}, 'utf8'));
const b64 = (k) => Buffer.from(input[k], 'base64');
const started = performance.now();
const result = await (async () => { ${body} })().catch((e) => 'threw: ' + e.message.slice(0, 300));
process.stdout.write(JSON.stringify({ result: String(result), ms: performance.now() - started }));
`,
  );
  const r = await run(process.execPath, [script], { timeoutMs: boundMs });
  expect(r.code, `still running after ${boundMs} ms, or failed: ${r.stderr.slice(0, 500)}`).toBe(0);
  return JSON.parse(r.stdout) as { result: string; ms: number };
}

const load = `const { loadChartArchive } = await import(dist + '/chart/archive.js');
try { const c = await loadChartArchive(b64('tgz')); return 'loaded ' + c.metadata.name; } catch (e) { return 'refused: ' + e.message.slice(0, 200); }`;
const tgz = (files: Record<string, string>) => craftTgz(Object.entries(files).map(([n, d]) => ({ name: `h/${n}`, data: d }))).toString('base64');

/**
 * Issue 14 (3): every pattern applied to what a repository serves runs in linear time. Each of
 * these took minutes before (a `\s+$`-style regular expression over a long run of spaces, a
 * YAML document re-read once per `\'`); the bounds are generous and still far below that.
 */
describe('hostile text is read in linear time', () => {
  it("values.yaml `a: 1\\n--- #` + 400,000 spaces + `x` (a 580-byte archive; was 123 s)", async () => {
    const input = { tgz: tgz({ 'Chart.yaml': H, 'values.yaml': `a: 1\n--- #${' '.repeat(400_000)}x\n` }) };
    expect(Buffer.from(input.tgz, 'base64').length).toBeLessThan(2000);
    const { result, ms } = await inChild(load, input, 20_000);
    expect(result).toBe('loaded h'); // a comment after `---`: Helm 3 and 4 both load it
    expect(ms).toBeLessThan(3000);
  });

  it('values.yaml `--- ` + 400,000 spaces + `x` is refused quickly with the separator error', async () => {
    const { result, ms } = await inChild(load, { tgz: tgz({ 'Chart.yaml': H, 'values.yaml': `a: 1\n--- ${' '.repeat(400_000)}x\n` }) }, 20_000);
    expect(result).toBe('refused: cannot load values.yaml: error reading yaml document: invalid Yaml document separator: x');
    expect(ms).toBeLessThan(3000);
  });

  it("values.yaml with 2,000 `\\'` escapes in 1 MB is read once (was 17 s)", async () => {
    const line = `k: "${"\\'".repeat(1)}${'x'.repeat(500)}"\n`;
    const values = Array.from({ length: 2000 }, (_, i) => line.replace('k', `k${i}`)).join('');
    expect(values.length).toBeGreaterThan(1_000_000);
    const { result, ms } = await inChild(load, { tgz: tgz({ 'Chart.yaml': H, 'values.yaml': values }) }, 20_000);
    expect(result).toBe('loaded h');
    expect(ms).toBeLessThan(5000);
  });

  it('Chart.yaml strings of 400,000 spaces then `x` (trimmed, sanitised, base-named) and a 1 MB plain scalar', async () => {
    const spaces = ' '.repeat(400_000);
    const chart = `${H}description: "${spaces}x"\nhome: "a${spaces}x"\nannotations: {k: "${spaces}x"}\nkeywords: [${'y'.repeat(1_000_000)}]\n`;
    const { result, ms } = await inChild(load, { tgz: tgz({ 'Chart.yaml': chart }) }, 20_000);
    expect(result).toBe('loaded h');
    expect(ms).toBeLessThan(5000);
    const slashes = await inChild(load, { tgz: tgz({ 'Chart.yaml': `apiVersion: v2\nname: a${'/'.repeat(400_000)}x\nversion: 0.1.0\n` }) }, 20_000);
    expect(slashes.result).toMatch(/^refused: Chart.yaml: validation: chart.metadata.name "a\/\/\/\//);
    expect(slashes.ms).toBeLessThan(3000);
  });

  it('a .prov whose signature block has a line of 400,000 spaces then `x` (was 152 s)', async () => {
    const prov =
      '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: h\nversion: 0.1.0\n\n...\nfiles:\n  h-0.1.0.tgz: sha256:00\n' +
      `-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQ${' '.repeat(400_000)}x\n=abcd\n-----END PGP SIGNATURE-----\n`;
    const body = `const { decodeClearSigned } = await import(dist + '/helmcompat/clearsign.js');
try { decodeClearSigned(b64('prov')); return 'decoded'; } catch (e) { return 'refused: ' + e.message; }`;
    const { result, ms } = await inChild(body, { prov: Buffer.from(prov).toString('base64') }, 20_000);
    expect(result).toBe('refused: signature block is not valid base64');
    expect(ms).toBeLessThan(3000);
  });

  it('an index whose chart key line holds 400,000 spaces then `x`, and error text like "a.a.a…"', async () => {
    const index = `apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, urls: [a.tgz]}\n  b${' '.repeat(400_000)}x\n  c:\n  - {name: c, version: 1.0.0}\n`;
    const body = `const { parseIndex } = await import(dist + '/source/index-file.js');
const { redactSecrets } = await import(dist + '/util/secrets.js');
let out;
try { out = 'read ' + parseIndex(b64('index'), 'hostile').entries.length; } catch (e) { out = 'refused: ' + e.message.slice(0, 80); }
return out + ' / redacted ' + redactSecrets('a.'.repeat(200000) + '://u:p@h').length;`;
    const { result, ms } = await inChild(body, { index: Buffer.from(index).toString('base64') }, 20_000);
    expect(result).toMatch(/^refused: hostile: index.yaml is not valid YAML.* \/ redacted \d+$/);
    expect(ms).toBeLessThan(3000);
  });
});

/** An index with `versions` entries under one chart, each `urls: *u` of one anchored list of `urls` URLs. */
function aliasedUrlsIndex(versions: number, urls: number): string {
  const list = Array.from({ length: urls }, (_, i) => `https://charts.example.com/very/long/path/to/the/chart/archives/c-${i}.tgz`);
  let text = `apiVersion: v1\nurlsAnchor: &u [${list.join(', ')}]\nentries:\n  c:\n`;
  for (let v = 0; v < versions; v++) text += `  - {name: c, version: 1.0.${v}, urls: *u}\n`;
  return text;
}

/** An index with `charts` chart keys, each aliasing one list of `versions` versions. */
function aliasedChartsIndex(charts: number, versions: number): string {
  const list = Array.from({ length: versions }, (_, v) => `    - {name: c, version: 1.0.${v}, urls: [c-1.0.${v}.tgz], description: a chart, digest: ${'ab'.repeat(32)}}`);
  let text = `apiVersion: v1\nentries:\n  c0: &all\n${list.join('\n')}\n`;
  for (let c = 1; c < charts; c++) text += `  c${c}: *all\n`;
  return text;
}

/**
 * Issue 14 (4): an index that aliases its way to billions of nodes is refused with goyaml's own
 * budget (Helm's YAML reader refuses it too), before anything walks the expansion: exit 2, one
 * line naming the source, in bounded time and memory (peak RSS of the CLI process).
 */
describe('an index that expands through aliases is refused, in bounded time and memory', () => {
  it.each([
    ['10,000 versions aliasing one list of 10,000 URLs (1.1 MB; was 43 s, then out of memory)', () => aliasedUrlsIndex(10_000, 10_000)],
    ['10,000 chart keys aliasing one list of versions (was 3 min 19 s of CPU)', () => aliasedChartsIndex(10_000, 50)],
  ])('%s', async (_name, make) => {
    const work = await tmpDir('alias-index-');
    const repo = join(work, 'repo');
    await mkdir(repo);
    const text = make();
    await writeFile(join(repo, 'index.yaml'), text);
    const config = await writeConfig(work, {
      sources: [{ name: 'bomb', url: repo }],
      targets: [{ name: 'disk', layout: join(work, 'out') }],
    });
    const m = await runMeasured(process.execPath, [CLI, 'sync', '--config', config], { cwd: work, env: { ...process.env, NO_COLOR: '1' } });
    expect(m.code, m.stderr).toBe(2);
    const lines = m.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^chartmirror: sources\.bomb: .*index\.yaml refused: yaml: document contains excessive aliasing \(its aliases expand it to \d+ nodes/);
    expect(m.ms).toBeLessThan(15_000);
    expect(m.peakRssMb).toBeLessThan(400);
  });

  it('the same anchors within budget are read (aliases as such are fine)', async () => {
    const work = await tmpDir('alias-ok-');
    const repo = join(work, 'repo');
    await mkdir(repo);
    await writeFile(join(repo, 'index.yaml'), aliasedChartsIndex(20, 5));
    const config = await writeConfig(work, { sources: [{ name: 'fine', url: repo }], targets: [{ name: 'disk', layout: join(work, 'out') }] });
    const r = await run(process.execPath, [CLI, 'plan', '--config', config], { cwd: work, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.stderr).not.toMatch(/excessive aliasing/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fine\s+disk\s+5\s/); // 20 chart keys, one list of 5 versions: 5 items
  });

  it('values.yaml and Chart.yaml are held to the same budget (Helm refuses them too)', async () => {
    const laughs = (key: string) =>
      `${key}:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n` +
      Array.from({ length: 8 }, (_, i) => `  l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]\n`).join('');
    const cases: Array<Record<string, string>> = [{ 'Chart.yaml': H + laughs('extra') }, { 'Chart.yaml': H, 'values.yaml': laughs('values') }];
    for (const files of cases) {
      const { result, ms } = await inChild(load, { tgz: tgz(files) }, 20_000);
      expect(result).toMatch(/^refused: cannot load (Chart|values)\.yaml: error converting YAML to JSON: yaml: document contains excessive aliasing$/);
      expect(ms).toBeLessThan(3000);
    }
  });
});
