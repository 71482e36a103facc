/**
 * The library as a user gets it: `npm pack`, install the tarball into a new project, and use
 * the API by package name, from plain ESM (mirror a repository into a layout, copy between
 * stores, catch a typed error), as docs/api.md's example shows it, and from TypeScript (the
 * consumer type-checks against the published declarations).
 */
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runOk } from '../support/exec.js';
import { REPO_ROOT } from '../support/helm.js';
import { tmpDir } from '../support/tmp.js';

const npm = (args: string[], cwd: string) =>
  runOk('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, timeoutMs: 300_000 });

const ESM_CONSUMER = `
import { loadConfig, plan, mirror, exportBundle, importBundle, inspectBundle, copy, openStore, ChartMirrorError, VERSION } from 'chartmirror';
import assert from 'node:assert/strict';

for (const f of [loadConfig, plan, mirror, exportBundle, importBundle, inspectBundle, copy, openStore]) assert.equal(typeof f, 'function');
const cfg = await loadConfig({ sources: [{ name: 'ex', url: process.argv[2] }], targets: [{ name: 'disk', layout: './out' }] });
const p = await plan(cfg);
assert.equal(p.kind, 'chartmirror-plan');
const events = [];
const result = await mirror(cfg, { plan: p, onEvent: (e) => events.push(e.type) });
assert.equal(result.summary.failed, 0);
assert.ok(result.summary.pushed > 0);
assert.ok(events.includes('plan') && events.includes('item'));
const item = result.items.find((i) => i.status === 'pushed');
assert.match(item.digest, /^sha256:/);
assert.equal(item.reason, null); // as in the JSON report

const src = await openStore('oci-layout:./out:' + item.repository + ':' + item.tag);
const dst = await openStore('oci-layout:./copy');
const copied = await copy(src, dst, { tag: 'copied:1' });
assert.equal(copied.root.digest, item.digest);
assert.equal((await dst.resolve('copied:1')).digest, item.digest);
await src.close();
await dst.close();

try {
  await openStore('ftp://nowhere');
  assert.fail('openStore accepted ftp://');
} catch (e) {
  assert.ok(e instanceof ChartMirrorError);
  assert.equal(e.code, 'USAGE');
}
const inspected = await inspectBundle('./out');
assert.equal(inspected.listing.charts.length, result.summary.pushed);
console.log(JSON.stringify({ ok: true, version: VERSION, pushed: result.summary.pushed }));
`;

const TS_CONSUMER = `
import { loadConfig, plan, mirror, copy, openStore, ChartMirrorError, type Plan, type MirrorResult, type Store, type PipelineEvent } from 'chartmirror';

async function main(): Promise<void> {
  const cfg = await loadConfig('mirror.config.yaml');
  const p: Plan = await plan(cfg, { inspectTargets: false });
  const onEvent = (e: PipelineEvent): void => {
    if (e.type === 'item') console.log(e.result.status);
  };
  const result: MirrorResult = await mirror(cfg, { plan: p, onEvent, signal: AbortSignal.timeout(60_000) });
  const pushed: number = result.summary.pushed;
  const src: Store = await openStore('oci://127.0.0.1:5000/a/chart:1.0.0');
  const r = await copy(src, await openStore('oci-layout:./out'), { tag: 'chart:1.0.0' });
  const digest: string = r.root.digest;
  try {
    await openStore('nope');
  } catch (e) {
    if (e instanceof ChartMirrorError) {
      const code: string = e.code;
      console.log(code, pushed, digest);
    }
  }
  // @ts-expect-error mirror() wants a config, not a path
  await mirror('mirror.config.yaml');
}
void main;
`;

describe('the packed library, installed by name', () => {
  let project: string;

  beforeAll(async () => {
    const packs = await tmpDir('pack-');
    // dist/ is built by the test run's global setup; prepare would only build it again.
    await npm(['pack', '--ignore-scripts', '--pack-destination', packs], REPO_ROOT);
    const [tarball] = (await readdir(packs)).filter((n) => n.endsWith('.tgz'));
    project = await tmpDir('consumer-');
    const types = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')).devDependencies['@types/node'];
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await npm(['install', '--prefer-offline', join(packs, tarball!), `@types/node@${types}`], project);
  }, 300_000);

  it('ships what the exports map names, and nothing of the tests', async () => {
    const pkg = JSON.parse(await readFile(join(project, 'node_modules', 'chartmirror', 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' });
    const files = await readdir(join(project, 'node_modules', 'chartmirror', 'dist'));
    expect(files).toContain('index.js');
    expect(files).toContain('index.d.ts');
    expect(files).not.toContain('test');
  });

  it('works from plain ESM: plan, mirror, copy, typed errors', async () => {
    await writeFile(join(project, 'use.mjs'), ESM_CONSUMER);
    const r = await runOk(process.execPath, ['use.mjs', join(REPO_ROOT, 'examples', 'repo')], { cwd: project });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ ok: true, pushed: 7 });
  });

  it('runs the example in docs/api.md as it is written', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs', 'api.md'), 'utf8');
    const example = /```js\n(\/\/ example\.mjs\n[\s\S]*?)```/.exec(doc)?.[1];
    expect(example, 'docs/api.md has an example.mjs block').toBeDefined();
    await cp(join(REPO_ROOT, 'examples'), join(project, 'examples'), { recursive: true });
    await writeFile(join(project, 'example.mjs'), example!);
    const r = await runOk(process.execPath, ['example.mjs'], { cwd: project });
    expect(r.stdout).toMatch(/^7 chart versions to mirror, 0 settled$/m);
    expect(r.stdout).toMatch(/^pushed +hello-web 1\.0\.0$/m);
    expect(r.stdout).toMatch(/^copied sha256:[a-f0-9]{64} \d+ bytes$/m);
    expect(r.stdout).toMatch(/^refused: USAGE$/m);
  });

  it('type-checks from TypeScript against the published declarations', async () => {
    await mkdir(join(project, 'src'), { recursive: true });
    await writeFile(join(project, 'src', 'use.ts'), TS_CONSUMER);
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], skipLibCheck: false }, include: ['src'] }),
    );
    await runOk(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project });
  });
});
