import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chartmirror, writeConfig } from '../support/cli.js';
import { tmpDir } from '../support/tmp.js';

/**
 * A loopback port nothing listens on, so connecting is refused at once. Port 1 (tcpmux) is
 * never served on a test machine, and, unlike a port freed a moment ago, no concurrently
 * started test server can take it (they all get ephemeral ports).
 */
async function closedPort(): Promise<number> {
  const probe = createConnection({ host: '127.0.0.1', port: 1 });
  const refused = await new Promise<boolean>((resolve) => {
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
    probe.once('connect', () => resolve(false));
  });
  probe.destroy();
  if (!refused) throw new Error('something listens on 127.0.0.1:1; this test needs it closed');
  return 1;
}

/**
 * The mistakes users make, through the real CLI: each is one clear line on stderr naming what
 * and where, exit code 2, no stack trace, and nothing done (no state, no layout, no output).
 */
describe('mistakes users make: one line, exit 2, before any work', () => {
  let repo: string;
  let port: number;

  beforeAll(async () => {
    // A repository that exists, so that only the mistake under test can fail the run.
    repo = await tmpDir('cli-errors-repo-');
    await writeFile(join(repo, 'index.yaml'), 'apiVersion: v1\nentries: {}\n');
    port = await closedPort();
  });

  const config = (over: { source?: string; target?: string; extra?: string } = {}) => `
sources:
  - name: charts
    url: ${repo}
${over.source ?? ''}
targets:
  - name: disk
    layout: ./out/oci
${over.target ?? ''}
${over.extra ?? ''}`;

  async function mistake(text: string, command: string[], env: Record<string, string> = {}) {
    const dir = await tmpDir('cli-errors-');
    const file = await writeConfig(dir, text);
    const res = await chartmirror([...command, '--config', file], { env, cwd: dir, timeoutMs: 30_000 });
    const lines = res.stderr.split('\n').filter((l) => l !== '');
    return { ...res, lines, dir, written: (await readdir(dir)).filter((f) => f !== 'mirror.config.yaml') };
  }

  const cases: { name: string; text: () => string; env?: Record<string, string>; line: () => RegExp }[] = [
    {
      name: 'a typo in a key, with a "did you mean"',
      text: () => config({ target: '    plainHTTP: true' }),
      line: () => /^chartmirror: targets\[0\]\.plainHTTP: unknown key \(did you mean "plainHttp"\?\)$/,
    },
    {
      name: 'a typo in a selection key',
      text: () => config({ source: '    prerelease: false' }),
      line: () => /^chartmirror: sources\[0\]\.prerelease: unknown key \(did you mean "prereleases"\?\)$/,
    },
    {
      name: 'an unset variable',
      text: () => config({ target: '  - name: reg\n    url: oci://127.0.0.1:5000/x\n    auth: {username: u, password: "${CM_TEST_UNSET_PASSWORD}"}' }),
      line: () => /^chartmirror: targets\[1\]\.auth\.password: environment variable CM_TEST_UNSET_PASSWORD is not set$/,
    },
    {
      name: 'an unreadable keyring (missing)',
      text: () => config({ extra: 'verify: {provenance: verify, keyring: ./keys/nope.gpg}' }),
      line: () => /^chartmirror: verify\.keyring: cannot read \/\S+\/keys\/nope\.gpg: no such file$/,
    },
    {
      name: 'an unreadable keyring (a directory)',
      text: () => config({ extra: 'verify: {keyring: /}' }),
      line: () => /^chartmirror: verify\.keyring: cannot read \/: is a directory$/,
    },
    {
      name: 'a target URL without oci://',
      text: () => config({ target: '  - name: reg\n    url: https://registry.example.com/charts' }),
      line: () => /^chartmirror: targets\[1\]\.url: must start with oci:\/\/$/,
    },
    {
      name: 'a range that is not one (loose parsing would have dropped half of it)',
      text: () => config({ source: '    versions: ">=1.0.0 <<2"' }),
      line: () => /^chartmirror: sources\[0\]\.versions: ">=1\.0\.0 <<2" is not a valid semver range/,
    },
    {
      name: 'an unreachable source (connection refused)',
      text: () => config({ extra: 'http: {retries: {attempts: 2, backoff: 10ms}}' }).replace(`url: ${repo}`, `url: http://127.0.0.1:${port}/charts`),
      line: () => new RegExp(`^chartmirror: sources\\.charts: cannot read the index: GET http://127\\.0\\.0\\.1:${port}/charts/index\\.yaml: connection refused$`),
    },
    {
      name: 'an unreachable source (no such host)',
      text: () => config({ extra: 'http: {retries: {attempts: 1}}' }).replace(`url: ${repo}`, 'url: https://charts.nonexistent.invalid/stable'),
      // host not found, or "DNS lookup failed" where there is no resolver at all
      line: () => /^chartmirror: sources\.charts: cannot read the index: GET https:\/\/charts\.nonexistent\.invalid\/stable\/index\.yaml: (host not found|DNS lookup failed)$/,
    },
  ];

  // Each case is a separate process: run them side by side.
  it.concurrent.for(cases)('$name: plan', async (c, { expect }) => {
    const r = await mistake(c.text(), ['plan'], c.env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(c.line());
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(r.written).toEqual([]);
  });

  it.concurrent.for(cases)('$name: sync', async (c, { expect }) => {
    const r = await mistake(c.text(), ['sync'], c.env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(c.line());
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(r.written).toEqual([]); // no state directory, no layout
  });

  it.concurrent.for(cases.filter((c) => !c.name.startsWith('an unreachable')))('$name: validate', async (c, { expect }) => {
    const r = await mistake(c.text(), ['validate'], c.env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(c.line());
  });

  it('two sources mapping one chart to the same repository: exit 2 before anything is pushed', async () => {
    const dir = await tmpDir('cli-claims-');
    for (const name of ['one', 'two']) {
      await mkdir(join(dir, name));
      await writeFile(
        join(dir, name, 'index.yaml'),
        `apiVersion: v1\nentries:\n  app:\n    - {apiVersion: v2, name: app, version: 1.0.0, urls: [app-1.0.0.tgz]}\n`,
      );
    }
    const text = `sources:\n  - {name: one, url: ./one}\n  - {name: two, url: ./two}\ntargets:\n  - {name: disk, layout: ./out}\n`;
    const file = await writeConfig(dir, text);
    const r = await chartmirror(['plan', '--config', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe(
      'chartmirror: targets.disk: sources "one" and "two" both map chart "app" to app; add {source} to targets[].repository or use sources[].targets\n',
    );
    expect(await readdir(dir)).toEqual(['mirror.config.yaml', 'one', 'two']);
    const s = await chartmirror(['sync', '--config', file]);
    expect(s.code, s.stderr).toBe(2);
    expect(await readdir(dir)).toEqual(['mirror.config.yaml', 'one', 'two']);
    // With {source} in the template each source has its own repository.
    const fixed = await writeConfig(dir, text.replace('layout: ./out}', 'layout: ./out, repository: "{source}/{chart}"}'), 'fixed.yaml');
    const ok = await chartmirror(['plan', '--config', fixed]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ {2}push\s+app\s+1\.0\.0\s+\?\s+-> one\/app:1\.0\.0$/m);
    expect(ok.stdout).toMatch(/^ {2}push\s+app\s+1\.0\.0\s+\?\s+-> two\/app:1\.0\.0$/m);
  });

  it('validate needs no network and shows where each source goes', async () => {
    const dir = await tmpDir('cli-validate-');
    const file = await writeConfig(
      dir,
      config({ target: '  - name: reg\n    url: oci://registry.example.com/mirror\n    repository: "mirror/{source}/{chart}"' }).replace(`url: ${repo}`, 'url: https://charts.nonexistent.invalid/'),
    );
    const r = await chartmirror(['validate', '--config', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${file}: valid (1 source, 2 targets)\n  charts -> disk (${dir}/out/oci: {chart}), reg (oci://registry.example.com/mirror/charts/{chart})\n`);
  });

  it('the debug flag shows the stack trace the plain message leaves out', async () => {
    const r = await mistake(config({ target: '    plainHTTP: true' }), ['plan', '--debug']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('a report that cannot be written is a clear failure after the run, and the summary still prints', async () => {
    const dir = await tmpDir('cli-report-');
    await mkdir(join(dir, 'blocked'));
    await writeFile(join(dir, 'blocked', 'file'), 'x');
    const file = await writeConfig(dir, config());
    const r = await chartmirror(['plan', '--config', file, '--junit', join(dir, 'blocked', 'file', 'junit.xml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^plan: 0 to push/m);
    expect(r.stderr).toMatch(/^chartmirror: cannot write \/\S+\/blocked\/file\/junit\.xml: (ENOTDIR|EEXIST)$/m);
  });
});
