import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { craftRepo } from './registry-helpers.js';

/**
 * Helm's rule for source credentials, against real nginx: they go only to the repository's own
 * scheme, host and port. A chart URL on another host gets none, unless passCredentials is set.
 */
describe.skipIf(!haveBinaries('nginx'))('source credentials stay with their host', () => {
  let work: string;
  let home: StaticServer;
  let cdn: StaticServer;
  const auth = { username: 'reader', password: 'repo-secret-pw' };

  beforeAll(async () => {
    work = await tmpDir('source-creds-');
    const files = join(work, 'cdn');
    await craftRepo(files, [['app', '1.0.0'], ['app', '1.1.0']]);
    // The repository (with basic auth) lists one archive on itself and one on another host.
    const repo = join(work, 'repo');
    await mkdir(repo);
    cdn = await startStaticServer({ root: files });
    const index = yaml.load(await readFile(join(files, 'index.yaml'), 'utf8')) as {
      entries: Record<string, Array<{ version: string; urls: string[] }>>;
    };
    for (const e of index.entries.app!) {
      if (e.version === '1.1.0') e.urls = [`${cdn.url}/${e.urls[0]}`];
    }
    await writeFile(join(repo, 'index.yaml'), yaml.dump(index));
    await writeFile(join(repo, 'app-1.0.0.tgz'), await readFile(join(files, 'app-1.0.0.tgz')));
    home = await startStaticServer({ root: repo, basicAuth: auth });
  });

  afterAll(async () => {
    await home?.stop();
    await cdn?.stop();
  });

  async function run(passCredentials: boolean): Promise<ReportItem[]> {
    const dir = await tmpDir('source-creds-run-');
    const cfg = await writeConfig(dir, {
      sources: [{ name: 'private', url: home.url, auth: { username: auth.username, password: '${REPO_PASSWORD}' }, passCredentials }],
      targets: [{ name: 'disk', layout: './out' }],
    });
    const r = await chartmirror(['sync', '--config', cfg, '--report', join(dir, 'report.json')], { env: { REPO_PASSWORD: auth.password } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).not.toContain(auth.password);
    return (JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as { items: ReportItem[] }).items;
  }

  it('sends them to the repository host only', async () => {
    await home.clearRequests();
    await cdn.clearRequests();
    const items = await run(false);
    expect(items.map((i) => i.status)).toEqual(['pushed', 'pushed']);
    const homeRequests = await home.requests();
    expect(homeRequests.filter((r) => r.path === '/index.yaml' || r.path === '/app-1.0.0.tgz').every((r) => r.user === 'reader' && r.status === 200)).toBe(true);
    const cdnRequests = await cdn.requests();
    expect(cdnRequests.some((r) => r.path === '/app-1.1.0.tgz' && r.status === 200)).toBe(true);
    expect(cdnRequests.map((r) => r.user)).toEqual(cdnRequests.map(() => ''));
  });

  it('sends them to other hosts too with passCredentials: true', async () => {
    await cdn.clearRequests();
    await run(true);
    const cdnRequests = await cdn.requests();
    expect(cdnRequests.find((r) => r.path === '/app-1.1.0.tgz')?.user).toBe('reader');
  });
});
