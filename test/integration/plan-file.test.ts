/**
 * Review, then apply: `plan --output plan.json` holds the plan; `sync --plan plan.json`
 * executes exactly it (a version published after the plan is not pushed), and refuses with
 * exit 2 a plan made from another config, or a file that is not a plan. Against a real
 * registry, with a repository served by nginx.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { craftRepo } from './registry-helpers.js';

type Report = { items: ReportItem[]; summary: Record<string, number> };

describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('plan files: plan --output, then sync --plan', () => {
  let work: string;
  let repoDir: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  let config: string;
  let plan: { kind: string; configHash: string; jobs: Array<{ chart: string; version: string; origin: { url?: string } }> };

  const report = async (name: string) => JSON.parse(await readFile(join(work, name), 'utf8')) as Report;

  beforeAll(async () => {
    work = await tmpDir('plan-file-');
    repoDir = join(work, 'repo');
    await craftRepo(repoDir, [
      ['alpha', '1.0.0'],
      ['alpha', '1.1.0'],
      ['beta', '0.1.0'],
    ]);
    // The source URL carries a token in its query: the plan file must not.
    server = await startStaticServer({ root: repoDir });
    registry = await startRegistry();
    config = await writeConfig(work, {
      sources: [{ name: 'src', url: `${server.url}/?token=s3cr3t-query-token` }],
      targets: [{ name: 'reg', url: registry.oci('mirror'), plainHttp: true }],
    });
    const r = await chartmirror(['plan', '--config', config, '--output', join(work, 'plan.json')]);
    expect(r.code, r.stderr).toBe(0);
    plan = JSON.parse(await readFile(join(work, 'plan.json'), 'utf8'));
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it('writes the plan as JSON: every job with its URL and digest, and the config hash; no secret', async () => {
    expect(plan.kind).toBe('chartmirror-plan');
    expect(plan.configHash).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(plan.jobs.map((j) => `${j.chart} ${j.version}`).sort()).toEqual(['alpha 1.0.0', 'alpha 1.1.0', 'beta 0.1.0']);
    const text = await readFile(join(work, 'plan.json'), 'utf8');
    expect(text).toContain('"digest": "sha256:');
    expect(text).toContain('"size": ');
    expect(text).not.toContain('s3cr3t-query-token');
    expect(plan.jobs[0]!.origin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\w+-[\d.]+\.tgz$/);
  });

  it('executes exactly the plan: a version published after it is not pushed', async () => {
    // Publish a new version after the plan was made.
    await craftRepo(repoDir, [
      ['alpha', '1.0.0'],
      ['alpha', '1.1.0'],
      ['alpha', '1.2.0'],
      ['beta', '0.1.0'],
    ]);
    const r = await chartmirror(['sync', '--config', config, '--plan', join(work, 'plan.json'), '--report', join(work, 'applied.json')]);
    expect(r.code, r.stderr).toBe(0);
    const applied = await report('applied.json');
    expect(applied.items.map((i) => `${i.chart} ${i.version} ${i.status}`).sort()).toEqual([
      'alpha 1.0.0 pushed',
      'alpha 1.1.0 pushed',
      'beta 0.1.0 pushed',
    ]);
    const tags = await fetch(`${registry.baseUrl}/v2/mirror/alpha/tags/list`).then((x) => x.json() as Promise<{ tags: string[] }>);
    expect(tags.tags.sort()).toEqual(['1.0.0', '1.1.0']);

    // The same plan again: everything is confirmed in the journal, nothing is sent.
    await registry.clearRequests();
    const again = await chartmirror(['sync', '--config', config, '--plan', join(work, 'plan.json'), '--report', join(work, 'again.json')]);
    expect(again.code, again.stderr).toBe(0);
    expect((await report('again.json')).items.every((i) => i.status === 'present' && i.via === 'journal')).toBe(true);
    expect(await registry.requests()).toEqual([]);

    // A fresh sync (no plan) sees the new version.
    const fresh = await chartmirror(['sync', '--config', config, '--report', join(work, 'fresh.json')]);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect((await report('fresh.json')).items.filter((i) => i.status === 'pushed').map((i) => i.version)).toEqual(['1.2.0']);
  });

  it('refuses, exit 2, a plan made from a config that has changed since', async () => {
    const doc = yaml.load(await readFile(config, 'utf8')) as Record<string, unknown>;
    const changed = await writeConfig(work, { ...doc, targets: [{ name: 'reg', url: registry.oci('elsewhere'), plainHttp: true }] }, 'changed.yaml');
    const r = await chartmirror(['sync', '--config', changed, '--plan', join(work, 'plan.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^chartmirror: --plan .*plan\.json was made from a different config than .*changed\.yaml is now .*make a new plan with chartmirror plan --output\n$/);
  });

  it('refuses, exit 2, a file that is not a plan, and a plan file that is not there', async () => {
    await writeFile(join(work, 'not-a-plan.json'), JSON.stringify({ kind: 'chartmirror-report' }));
    const bad = await chartmirror(['sync', '--config', config, '--plan', join(work, 'not-a-plan.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a chartmirror plan .*write one with chartmirror plan --output/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const missing = await chartmirror(['sync', '--config', config, '--plan', join(work, 'missing.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--plan .*missing\.json: no such file/);
  });
});
