/** loadKeyring: config errors before any work, and the accepted formats. */
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { checkProvenance, loadKeyring } from '../../src/chart/provenance.js';
import { haveBinaries, requireBinary } from '../support/bins.js';
import { CLI } from '../support/cli.js';
import { run } from '../support/exec.js';
import { makeGpgKey, type GpgKey } from '../support/gpg.js';
import { tmpDir } from '../support/tmp.js';
import { REPO_ROOT } from '../support/helm.js';

async function configError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('CONFIG');
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadKeyring errors are ConfigErrors naming the file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tmpDir('keyring-');
  });

  it('a missing file', async () => {
    const file = join(dir, 'nope.gpg');
    expect(await configError(loadKeyring([file]))).toBe(`verify.keyring: cannot read ${file}: no such file`);
  });

  it('a directory', async () => {
    expect(await configError(loadKeyring([dir]))).toBe(`verify.keyring: cannot read ${dir}: is a directory`);
  });

  it('a file without read permission', async () => {
    // Root reads any file: then the check runs as `nobody`, through the CLI (setpriv, util-linux).
    const asRoot = process.getuid?.() === 0;
    const base = asRoot ? await mkdtemp(join(tmpdir(), 'keyring-perm-')) : dir;
    const file = join(base, 'secret.gpg');
    await writeFile(file, 'x');
    await chmod(file, 0o000);
    if (!asRoot) {
      expect(await configError(loadKeyring([file]))).toBe(`verify.keyring: cannot read ${file}: permission denied`);
      return;
    }
    try {
      await chmod(base, 0o755);
      const config = join(base, 'c.yaml');
      await writeFile(config, `sources: [{name: s, url: ./repo, verify: {keyring: ${file}}}]\ntargets: [{name: d, layout: ./out}]\n`);
      await chmod(config, 0o644);
      const setpriv = requireBinary('setpriv', 'util-linux');
      if (!setpriv) return;
      const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
      const reach = await run(setpriv, [...nobody, process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(CLI)})`]);
      if (reach.code !== 0) {
        process.stderr.write(`\n[chartmirror tests] SKIPPING the permission check: user nobody cannot reach ${CLI}\n`);
        return;
      }
      const r = await run(setpriv, [...nobody, process.execPath, CLI, 'validate', '--config', config], { cwd: base });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`chartmirror: verify.keyring: cannot read ${file}: permission denied\n`);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('an empty file', async () => {
    const file = join(dir, 'empty.gpg');
    await writeFile(file, '');
    expect(await configError(loadKeyring([file]))).toBe(
      `verify.keyring: ${file} contains no OpenPGP public keys (empty file)`,
    );
  });

  it('a text file that holds no armored key', async () => {
    const file = join(dir, 'notes.txt');
    await writeFile(file, 'just some text\n');
    expect(await configError(loadKeyring([file]))).toBe(`verify.keyring: ${file} contains no OpenPGP public keys`);
  });

  it('binary garbage', async () => {
    const file = join(dir, 'garbage.gpg');
    await writeFile(file, Buffer.from([0x99, 0x01, 0x02, 0x03, 0x04, 0xff, 0xfe]));
    expect(await configError(loadKeyring([file]))).toMatch(new RegExp(`^verify\\.keyring: (cannot parse ${file}: |${file} contains no)`));
  });

  it('one bad file in a list fails the whole keyring', async () => {
    const file = join(dir, 'missing-too.gpg');
    const good = join(REPO_ROOT, 'examples', 'keys', 'pubring.gpg'); // committed, loads on its own
    expect((await loadKeyring([good])).keyCount).toBe(1);
    expect(await configError(loadKeyring([good, file]))).toContain(file);
  });

  it('no file at all', async () => {
    expect(await configError(loadKeyring([]))).toBe('verify.keyring: no keyring file given');
  });

  it('verify mode without a keyring', async () => {
    const msg = await configError(
      checkProvenance({ mode: 'verify', archiveSha256: '0'.repeat(64), archiveFileName: 'a-1.tgz', chartName: 'a', chartVersion: '1' }),
    );
    expect(msg).toBe('verify.keyring: required when verify.provenance is verify');
  });
});

describe.skipIf(!haveBinaries('gpg', 'gpg-agent'))('keyring formats from gpg', () => {
  let dir: string;
  let a: GpgKey;
  let b: GpgKey;
  beforeAll(async () => {
    dir = await tmpDir('keyring-gpg-');
    [a, b] = await Promise.all([
      makeGpgKey(join(dir, 'a'), { type: 'ed25519', name: 'Key A' }),
      makeGpgKey(join(dir, 'b'), { type: 'ed25519', name: 'Key B' }),
    ]);
  });

  it('binary, armored and secret exports each load one key', async () => {
    for (const f of [a.keyringFile, a.armoredFile, a.secretKeyringFile]) {
      const ring = await loadKeyring([f]);
      expect(ring).toEqual({ files: [f], keyCount: 1 });
    }
  });

  it('the same key in several files counts once; two keys count twice', async () => {
    expect((await loadKeyring([a.keyringFile, a.armoredFile])).keyCount).toBe(1);
    expect((await loadKeyring([a.keyringFile, b.armoredFile])).keyCount).toBe(2);
  });

  it('an armored file with several concatenated key blocks', async () => {
    const file = join(dir, 'both.asc');
    await writeFile(file, `${await readFile(a.armoredFile, 'utf8')}\n${await readFile(b.armoredFile, 'utf8')}`);
    expect((await loadKeyring([file])).keyCount).toBe(2);
  });

  it('a GnuPG keybox (pubring.kbx) is refused with the export command', async () => {
    await mkdir(join(dir, 'kbx'));
    const file = join(dir, 'kbx', 'pubring.kbx');
    await copyFile(join(a.gnupgHome, 'pubring.kbx'), file);
    expect(await configError(loadKeyring([file]))).toBe(
      `verify.keyring: ${file} is a GnuPG keybox (.kbx), not a keyring; export one with \`gpg --export > keyring.gpg\``,
    );
  });
});
