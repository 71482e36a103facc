import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartmirror, writeConfig } from '../support/cli.js';
import { tmpDir } from '../support/tmp.js';
import { REPO_ROOT } from '../support/helm.js';

/** How repeated options are read. */
describe('repeated options', () => {
  it('a single-value option takes its last value', async () => {
    const dir = await tmpDir('cli-options-');
    const good = await writeConfig(dir, { sources: [{ name: 's', url: './repo' }], targets: [{ name: 'd', layout: './out' }] }, 'good.yaml');
    const r = await chartmirror(['validate', '--config', join(dir, 'missing.yaml'), '--config', good]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/good\.yaml: valid/);
  });

  it('a list option keeps every value (--tls-ca given twice: the first is read too)', async () => {
    const dir = await tmpDir('cli-options-');
    const cfg = await writeConfig(dir, { sources: [{ name: 's', url: join(REPO_ROOT, 'examples', 'repo') }], targets: [{ name: 'd', layout: './layout' }] });
    expect((await chartmirror(['sync', '--config', cfg, '--quiet'])).code).toBe(0);
    const r = await chartmirror([
      'import', '--from', join(dir, 'layout'), '--to', 'oci://127.0.0.1:1/x', '--state', join(dir, 'state'),
      '--tls-ca', '/nonexistent-first.pem', '--tls-ca', '/nonexistent-second.pem',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/nonexistent-first\.pem/);
  });
});
