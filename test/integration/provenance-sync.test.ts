import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { chartmirror, writeConfig, type ReportItem } from '../support/cli.js';
import { makeGpgKey, revokeKey, type GpgKey } from '../support/gpg.js';
import { runHelm } from '../support/helm.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { gpgClearSign } from '../provenance/helpers.js';
import { sha256Hex } from '../../src/util/digest.js';

type IndexDoc = { apiVersion: string; entries: Record<string, Array<Record<string, unknown>>> };

/** A Helm-format .prov body (Chart.yaml block, `...`, files map), clear-signed by `key` with gpg. */
async function signedProv(key: GpgKey, chart: { name: string; version: string }, fileName: string, archive: Buffer): Promise<string> {
  const body = `apiVersion: v2\nname: ${chart.name}\nversion: ${chart.version}\n\n...\nfiles:\n  ${fileName}: sha256:${sha256Hex(archive)}\n`;
  return gpgClearSign(key, body);
}

/**
 * Issue 3 through the whole pipeline: signed charts made by real `helm package --sign`, served by
 * nginx, mirrored into the real registry, and pulled back with `helm pull --verify`.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx', 'gpg'))('provenance through sync', () => {
  let work: string;
  let repo: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  let trusted: GpgKey;
  let ed: GpgKey;
  let stranger: GpgKey;
  let expired: GpgKey;
  let revoked: GpgKey;
  let report: { items: ReportItem[] };
  let runCode: number;

  const item = (chart: string) => report.items.find((i) => i.chart === chart && i.target === 'registry')!;
  const tags = async (chart: string) =>
    (await simpleRequest(`${registry.baseUrl}/v2/mirror/${chart}/tags/list`)).status;

  beforeAll(async () => {
    work = await tmpDir('prov-it-');
    repo = join(work, 'repo');
    [trusted, ed, stranger, expired, revoked] = await Promise.all([
      makeGpgKey(join(work, 'k-trusted'), { name: 'Trusted Signer', email: 'trusted@example.invalid' }),
      makeGpgKey(join(work, 'k-ed'), { type: 'ed25519', name: 'Ed Signer', email: 'ed@example.invalid' }),
      makeGpgKey(join(work, 'k-stranger'), { name: 'Stranger', email: 'stranger@example.invalid' }),
      makeGpgKey(join(work, 'k-expired'), { name: 'Expired', email: 'expired@example.invalid', createdAt: new Date('2020-01-01T00:00:00Z'), expire: '1d' }),
      makeGpgKey(join(work, 'k-revoked'), { name: 'Revoked', email: 'revoked@example.invalid' }),
    ]);
    await packageChart(repo, { name: 'signed-rsa', version: '1.0.0' }, { sign: trusted });
    await packageChart(repo, { name: 'signed-ed', version: '1.0.0' }, { sign: ed, helm: 4 });
    await packageChart(repo, { name: 'unsigned', version: '1.0.0' });
    await packageChart(repo, { name: 'unknown-signer', version: '1.0.0' }, { sign: stranger });
    await packageChart(repo, { name: 'expired-signer', version: '1.0.0' }, { sign: expired });
    await packageChart(repo, { name: 'revoked-signer', version: '1.0.0' }, { sign: revoked });
    await revokeKey(revoked);
    // bad signature: the signed text altered after signing.
    const tampered = await packageChart(repo, { name: 'tampered', version: '1.0.0' }, { sign: trusted });
    const prov = await readFile(`${tampered}.prov`, 'utf8');
    await writeFile(`${tampered}.prov`, prov.replace('name: tampered', 'name: tampered\ndescription: sneaky'));
    // archive hash mismatch: a good signature over another build of the same chart.
    const hashA = await packageChart(join(work, 'first-build'), { name: 'rebuilt', version: '1.0.0', files: { 'NOTES.txt': 'one' } }, { sign: trusted });
    const hashB = await packageChart(repo, { name: 'rebuilt', version: '1.0.0', files: { 'NOTES.txt': 'two' } });
    await copyFile(`${hashA}.prov`, `${hashB}.prov`);
    // chart metadata mismatch: a good signature and hash, but the Chart.yaml block names another chart.
    const meta = await packageChart(repo, { name: 'metamismatch', version: '1.0.0' });
    await writeFile(`${meta}.prov`, await signedProv(trusted, { name: 'someone-else', version: '1.0.0' }, 'metamismatch-1.0.0.tgz', await readFile(meta)));
    // served under another file name, signed for that name: mirrored, with a warning.
    const odd = await packageChart(repo, { name: 'oddname', version: '1.0.0' });
    await rename(odd, join(repo, 'oddname-latest.tgz'));
    await writeFile(join(repo, 'oddname-latest.tgz.prov'), await signedProv(trusted, { name: 'oddname', version: '1.0.0' }, 'oddname-latest.tgz', await readFile(join(repo, 'oddname-latest.tgz'))));
    await indexRepo(repo);
    const index = yaml.load(await readFile(join(repo, 'index.yaml'), 'utf8')) as IndexDoc;
    index.entries.oddname![0]!.urls = ['oddname-latest.tgz'];
    await writeFile(join(repo, 'index.yaml'), yaml.dump(index));

    server = await startStaticServer({ root: repo });
    registry = await startRegistry();
    const config = await writeConfig(work, {
      sources: [{ name: 'signed', url: server.url }],
      targets: [{ name: 'registry', url: registry.oci('mirror'), plainHttp: true }],
      verify: { provenance: 'verify', keyring: [trusted.keyringFile, ed.armoredFile, expired.keyringFile, revoked.keyringFile] },
    });
    const run = await chartmirror(['sync', '--config', config, '--report', join(work, 'report.json')]);
    runCode = run.code;
    report = JSON.parse(await readFile(join(work, 'report.json'), 'utf8'));
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it('mirrors good signatures (RSA and ed25519) and unsigned charts in verify mode', () => {
    expect(runCode).toBe(1);
    expect(item('signed-rsa')).toMatchObject({ status: 'pushed', provenance: 'verified' });
    expect(item('signed-ed')).toMatchObject({ status: 'pushed', provenance: 'verified' });
    expect(item('unsigned')).toMatchObject({ status: 'pushed', provenance: 'absent' });
  });

  it.each([
    ['unknown-signer', () => new RegExp(`^provenance: signed by unknown key ${stranger.keyId}`)],
    ['tampered', () => /^provenance: bad signature/],
    ['rebuilt', () => /^provenance: archive hash mismatch/],
    ['metamismatch', () => /^provenance: chart metadata mismatch/],
    ['expired-signer', () => /^provenance: key [0-9A-F]{16} expired/],
    ['revoked-signer', () => /^provenance: key [0-9A-F]{16} revoked/],
  ])('fails %s with its reason and pushes nothing', async (chart, reason) => {
    expect(item(chart).status).toBe('failed');
    expect(item(chart).reason).toMatch(reason());
    expect(await tags(chart)).toBe(404);
  });

  it('mirrors an archive served under another name, with a warning about helm pull --verify', () => {
    const i = item('oddname');
    expect(i).toMatchObject({ status: 'pushed', provenance: 'verified' });
    expect((i.warnings as string[]).join(' ')).toMatch(/helm pull --verify/);
  });

  it('carries the .prov as Helm\'s provenance layer, bytes unchanged', async () => {
    const m = await simpleRequest(`${registry.baseUrl}/v2/mirror/signed-rsa/manifests/1.0.0`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const manifest = m.json<{ layers: Array<{ mediaType: string; digest: string }> }>();
    const provLayer = manifest.layers.find((l) => l.mediaType === 'application/vnd.cncf.helm.chart.provenance.v1.prov')!;
    expect(provLayer.digest).toBe(`sha256:${sha256Hex(await readFile(join(repo, 'signed-rsa-1.0.0.tgz.prov')))}`);
  });

  it.each([3, 4] as const)('helm %i pull --verify works on the mirrored RSA-signed chart', async (major) => {
    const dest = await tmpDir('verify-');
    const r = await runHelm(major, ['pull', registry.oci('mirror/signed-rsa'), '--version', '1.0.0', '--verify', '--keyring', trusted.keyringFile, '--plain-http', '-d', dest]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  });

  it('helm 4 pull --verify works on the mirrored ed25519-signed chart', async () => {
    const dest = await tmpDir('verify-');
    const r = await runHelm(4, ['pull', registry.oci('mirror/signed-ed'), '--version', '1.0.0', '--verify', '--keyring', ed.keyringFile, '--plain-http', '-d', dest]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  });

  it('require mode fails a chart without .prov and pushes nothing for it', async () => {
    const registry2 = await startRegistry();
    try {
      const config = await writeConfig(work, {
        sources: [{ name: 'signed', url: server.url, charts: { include: ['unsigned', 'signed-rsa'] } }],
        targets: [{ name: 'registry', url: registry2.oci('mirror'), plainHttp: true }],
        verify: { provenance: 'require', keyring: trusted.keyringFile },
      }, 'require.yaml');
      const run = await chartmirror(['sync', '--config', config, '--report', join(work, 'require.json'), '--state', await tmpDir('state-')]);
      expect(run.code).toBe(1);
      const r = JSON.parse(await readFile(join(work, 'require.json'), 'utf8')) as { items: ReportItem[] };
      expect(r.items.find((i) => i.chart === 'unsigned')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^provenance: no \.prov/) });
      expect(r.items.find((i) => i.chart === 'signed-rsa')).toMatchObject({ status: 'pushed' });
      expect((await simpleRequest(`${registry2.baseUrl}/v2/mirror/unsigned/tags/list`)).status).toBe(404);
    } finally {
      await registry2.stop();
    }
  });

  it('copy mode needs no key: a stranger\'s signature passes, a tampered hash does not', async () => {
    const registry3 = await startRegistry();
    try {
      const config = await writeConfig(work, {
        sources: [{ name: 'signed', url: server.url, charts: { include: ['unknown-signer', 'rebuilt'] } }],
        targets: [{ name: 'registry', url: registry3.oci('mirror'), plainHttp: true }],
      }, 'copy.yaml');
      const run = await chartmirror(['sync', '--config', config, '--report', join(work, 'copy.json'), '--state', await tmpDir('state-')]);
      expect(run.code).toBe(1);
      const r = JSON.parse(await readFile(join(work, 'copy.json'), 'utf8')) as { items: ReportItem[] };
      expect(r.items.find((i) => i.chart === 'unknown-signer')).toMatchObject({ status: 'pushed', provenance: 'checked' });
      expect(r.items.find((i) => i.chart === 'rebuilt')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^provenance: archive hash mismatch/) });
    } finally {
      await registry3.stop();
    }
  });

  it('an unreadable keyring is a config error before any work', async () => {
    const config = await writeConfig(work, {
      sources: [{ name: 'signed', url: server.url }],
      targets: [{ name: 'disk', layout: './never' }],
      verify: { keyring: join(work, 'no-such-keyring.gpg') },
    }, 'badkeyring.yaml');
    const run = await chartmirror(['sync', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/keyring.*no-such-keyring\.gpg/);
    await expect(readFile(join(work, 'never', 'index.json'))).rejects.toThrow(/ENOENT/);
  });
});
