/**
 * checkProvenance against charts signed by real `helm package --sign` (3.17.3 for RSA, 4.1.4 for
 * ed25519, which Helm 3 cannot sign with) and keys made with gpg in setup.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkProvenance, loadKeyring, type Keyring, type ProvenanceInput } from '../../src/chart/provenance.js';
import { haveBinaries } from '../support/bins.js';
import { packageChart } from '../support/charts.js';
import { makeGpgKey, revokeKey, type GpgKey } from '../support/gpg.js';
import { runHelm } from '../support/helm.js';
import { tmpDir } from '../support/tmp.js';
import { addSigningSubkey, gpgClearSign, inputFor, makeRsa1024Key, messageBlockOf, sha256Hex } from './helpers.js';

const DAY = 86_400_000;

interface Signed {
  tgz: string;
  chart: { name: string; version: string };
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect((e as { code?: string }).code).toBe('PROVENANCE');
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected the check to fail');
}

/** A .prov rewritten by `edit`, then clear-signed by gpg with `key` (a Helm-format message block). */
async function resign(key: GpgKey, from: Signed, edit: (body: string) => string, opts: Parameters<typeof gpgClearSign>[2] = {}): Promise<Buffer> {
  const body = messageBlockOf(await readFile(`${from.tgz}.prov`, 'utf8'));
  return Buffer.from(await gpgClearSign(key, edit(body), opts));
}

describe.skipIf(!haveBinaries('gpg', 'gpg-agent'))('provenance with gpg keys and helm-signed charts', () => {
  let dir: string;
  let rsa: GpgKey; // signs alpha with helm 3
  let ed: GpgKey; // signs beta with helm 4
  let stranger: GpgKey; // never in a keyring
  let expired: GpgKey; // expired before it signed gamma
  let expiring: GpgKey; // valid now, expires in a year; signs epsilon with helm 4
  let revoked: GpgKey; // signed delta, then revoked
  let withSub: GpgKey; // has a signing subkey
  let subkeyId: string;
  let withShortSub: GpgKey; // has a signing subkey that expires in a day
  let shortSubkeyId: string;
  let weak: GpgKey; // RSA-1024
  let alpha: Signed, beta: Signed, gamma: Signed, delta: Signed, epsilon: Signed, zeta: Signed;
  let rsaRing: Keyring;
  let edRing: Keyring;

  beforeAll(async () => {
    dir = await tmpDir('provenance-');
    [rsa, ed, stranger, expired, expiring, revoked, withSub, withShortSub, weak] = await Promise.all([
      makeGpgKey(join(dir, 'rsa'), { type: 'rsa', name: 'RSA Signer', email: 'rsa@chartmirror.invalid' }),
      makeGpgKey(join(dir, 'ed'), { type: 'ed25519', name: 'Ed Signer', email: 'ed@chartmirror.invalid' }),
      makeGpgKey(join(dir, 'stranger'), { type: 'ed25519', name: 'Stranger' }),
      makeGpgKey(join(dir, 'expired'), { type: 'rsa', name: 'Expired', createdAt: new Date(Date.now() - 10 * DAY), expire: '1d' }),
      makeGpgKey(join(dir, 'expiring'), { type: 'ed25519', name: 'Expiring', expire: '1y' }),
      makeGpgKey(join(dir, 'revoked'), { type: 'rsa', name: 'Revoked' }),
      makeGpgKey(join(dir, 'withsub'), { type: 'rsa', name: 'With Subkey' }),
      makeGpgKey(join(dir, 'shortsub'), { type: 'ed25519', name: 'Short Subkey' }),
      makeRsa1024Key(join(dir, 'weak')),
    ]);
    const out = join(dir, 'charts');
    const make = async (name: string, version: string, key: GpgKey, helm: 3 | 4, chartYaml?: Record<string, unknown>): Promise<Signed> => ({
      tgz: await packageChart(join(out, name), { name, version, chartYaml }, { sign: key, helm }),
      chart: { name, version },
    });
    // keywords and a description starting with '-' make dash-escaped lines in the clear-signed text.
    [alpha, beta, gamma, delta, epsilon, zeta] = await Promise.all([
      make('alpha', '1.0.0', rsa, 3, { keywords: ['web', '-dash'], description: '- starts with a dash' }),
      make('beta', '2.0.0+build.7', ed, 4),
      make('gamma', '0.1.0', expired, 3),
      make('delta', '1.10', revoked, 3),
      make('epsilon', '3.0.0', expiring, 4),
      make('zeta', '0.0.1', withSub, 3),
    ]);
    await mkdir(join(dir, 'before-revocation'));
    await copyFile(revoked.keyringFile, join(dir, 'before-revocation', 'pubring.gpg'));
    await revokeKey(revoked);
    subkeyId = await addSigningSubkey(withSub);
    shortSubkeyId = await addSigningSubkey(withShortSub, '1d');
    [rsaRing, edRing] = await Promise.all([loadKeyring([rsa.keyringFile]), loadKeyring([ed.armoredFile])]);
  });

  describe('verify mode passes', () => {
    it('an RSA key, helm 3.17.3 --sign, binary keyring; dash-escaped lines included', async () => {
      const prov = await readFile(`${alpha.tgz}.prov`, 'utf8');
      expect(prov).toMatch(/^Hash: SHA512$/m);
      expect(prov).toMatch(/^- - -dash$/m); // the keyword "-dash" in a YAML list, dash-escaped twice
      const result = await checkProvenance(await inputFor(alpha.tgz, alpha.chart, { keyring: rsaRing }));
      expect(result).toEqual({
        status: 'verified',
        signer: { keyId: rsa.keyId, fingerprint: rsa.fingerprint, userIds: ['RSA Signer <rsa@chartmirror.invalid>'] },
        warnings: [],
      });
    });

    it('an ed25519 key, helm 4.1.4 --sign, armored keyring, a version with +', async () => {
      const result = await checkProvenance(await inputFor(beta.tgz, beta.chart, { keyring: edRing }));
      expect(result.status).toBe('verified');
      expect(result.signer?.fingerprint).toBe(ed.fingerprint);
    });

    it('a list of keyring files (binary RSA + armored ed25519) verifies charts by either key', async () => {
      const both = await loadKeyring([rsa.keyringFile, ed.armoredFile]);
      expect(both.keyCount).toBe(2);
      expect(both.files).toEqual([rsa.keyringFile, ed.armoredFile]);
      for (const c of [alpha, beta]) {
        expect((await checkProvenance(await inputFor(c.tgz, c.chart, { keyring: both }))).status).toBe('verified');
      }
    });

    it('a signature made by a signing subkey', async () => {
      const prov = await resign(withSub, zeta, (b) => b, { localUser: `${subkeyId}!` });
      const ring = await loadKeyring([withSub.keyringFile]);
      const result = await checkProvenance(await inputFor(zeta.tgz, zeta.chart, { prov, keyring: ring }));
      expect(result.status).toBe('verified');
      expect(result.signer?.keyId).toBe(subkeyId);
      expect(subkeyId).not.toBe(withSub.keyId);
      expect(result.signer?.fingerprint).toBe(withSub.fingerprint);
    });

    it('a Hash header that names another digest than the signature uses (Helm ignores the header too)', async () => {
      const signed = (await resign(rsa, alpha, (b) => b, { digest: 'SHA256' })).toString();
      const prov = Buffer.from(signed.replace('Hash: SHA256', 'Hash: SHA512'));
      const result = await checkProvenance(await inputFor(alpha.tgz, alpha.chart, { prov, keyring: rsaRing }));
      expect(result.status).toBe('verified');
    });

    it('a gpg clear-signature with Hash: SHA256 and CRLF line endings', async () => {
      const signed = await resign(rsa, alpha, (b) => b, { digest: 'SHA256' });
      expect(signed.toString()).toMatch(/^Hash: SHA256$/m);
      const prov = Buffer.from(signed.toString().replace(/\r?\n/g, '\r\n'));
      const result = await checkProvenance(await inputFor(alpha.tgz, alpha.chart, { prov, keyring: rsaRing }));
      expect(result.status).toBe('verified');
    });

    it('a version Go would read as a float (1.10) is compared as text', async () => {
      const before = await loadKeyring([join(dir, 'before-revocation', 'pubring.gpg')]);
      expect(await readFile(`${delta.tgz}.prov`, 'utf8')).toMatch(/^version: "1.10"$/m);
      expect((await checkProvenance(await inputFor(delta.tgz, delta.chart, { keyring: before }))).status).toBe('verified');
    });

    it('many concurrent checks share one parsed keyring', async () => {
      const both = await loadKeyring([rsa.keyringFile, ed.armoredFile]);
      const inputs = await Promise.all([alpha, beta].map((c) => inputFor(c.tgz, c.chart, { keyring: both })));
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => checkProvenance(inputs[i % 2]!)));
      const ms = performance.now() - started;
      expect(results.every((r) => r.status === 'verified')).toBe(true);
      expect(ms).toBeLessThan(10_000);
    });
  });

  describe('absent .prov', () => {
    it('passes as absent in copy and verify mode', async () => {
      const base = await inputFor(alpha.tgz, alpha.chart, { prov: undefined });
      expect(await checkProvenance({ ...base, mode: 'copy' })).toEqual({ status: 'absent', warnings: [] });
      expect(await checkProvenance({ ...base, mode: 'verify', keyring: rsaRing })).toEqual({ status: 'absent', warnings: [] });
    });

    it('fails in require mode: no .prov', async () => {
      const input = await inputFor(alpha.tgz, alpha.chart, { prov: undefined, mode: 'require', keyring: rsaRing });
      expect(await reason(checkProvenance(input))).toMatch(/^provenance: no \.prov/);
    });
  });

  describe('failure reasons', () => {
    it('not a clear-signed message', async () => {
      const input = await inputFor(alpha.tgz, alpha.chart, { keyring: rsaRing });
      expect(await reason(checkProvenance({ ...input, prov: await readFile(alpha.tgz) }))).toMatch(
        /^provenance: not a clear-signed message: no "-----BEGIN PGP SIGNED MESSAGE-----" line$/,
      );
      expect(await reason(checkProvenance({ ...input, prov: Buffer.alloc(0), mode: 'copy' }))).toMatch(
        /^provenance: not a clear-signed message/,
      );
    });

    it('signed by unknown key <16-hex issuer id>', async () => {
      const input = await inputFor(alpha.tgz, alpha.chart, { keyring: await loadKeyring([stranger.keyringFile]) });
      expect(await reason(checkProvenance(input))).toBe(`provenance: signed by unknown key ${rsa.keyId}`);
    });

    it('bad signature: a signed line was changed', async () => {
      const prov = (await readFile(`${alpha.tgz}.prov`, 'utf8')).replace('appVersion: 1.16.0', 'appVersion: 6.6.6');
      const input = await inputFor(alpha.tgz, alpha.chart, { prov: Buffer.from(prov), keyring: rsaRing });
      expect(await reason(checkProvenance(input))).toBe(
        `provenance: bad signature: the signature by ${rsa.keyId} does not match the signed text`,
      );
    });

    it('archive hash mismatch: the archive is not the one signed', async () => {
      const input = await inputFor(alpha.tgz, alpha.chart, { keyring: rsaRing, archiveSha256: sha256Hex('other bytes') });
      expect(await reason(checkProvenance(input))).toMatch(
        /^provenance: archive hash mismatch: the \.prov has sha256:[0-9a-f]{64} for alpha-1\.0\.0\.tgz, the archive is sha256:[0-9a-f]{64}$/,
      );
    });

    it('chart metadata mismatch: the archive is another chart or version', async () => {
      const input = await inputFor(alpha.tgz, alpha.chart, { keyring: rsaRing });
      expect(await reason(checkProvenance({ ...input, chartVersion: '1.0.1' }))).toBe(
        'provenance: chart metadata mismatch: the .prov names "alpha" "1.0.0", the archive\'s Chart.yaml "alpha" "1.0.1"',
      );
      expect(await reason(checkProvenance({ ...input, chartName: 'alpha2', mode: 'copy' }))).toMatch(
        /^provenance: chart metadata mismatch: /,
      );
    });

    it('no files entry for <archive file name>', async () => {
      const input = await inputFor(alpha.tgz, alpha.chart, { keyring: rsaRing, archiveFileName: 'alpha-latest.tgz' });
      expect(await reason(checkProvenance(input))).toBe(
        'provenance: no files entry for alpha-latest.tgz (the .prov lists alpha-1.0.0.tgz)',
      );
    });

    it('malformed message block: no "..." separator', async () => {
      const prov = await resign(rsa, alpha, (b) => b.replace('\n...\n', '\n'));
      const input = await inputFor(alpha.tgz, alpha.chart, { prov, keyring: rsaRing });
      expect(await reason(checkProvenance(input))).toMatch(/^provenance: malformed message block: no "\.\.\." line/);
    });

    it('key expired (the key had expired before it signed)', async () => {
      const input = await inputFor(gamma.tgz, gamma.chart, { keyring: await loadKeyring([expired.keyringFile]) });
      expect(await reason(checkProvenance(input))).toMatch(
        new RegExp(`^provenance: key ${expired.keyId} expired on \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`),
      );
    });

    it('key expired by the time of the check (Helm 4 judges keys at the current time)', async () => {
      const input = await inputFor(epsilon.tgz, epsilon.chart, { keyring: await loadKeyring([expiring.armoredFile]) });
      expect((await checkProvenance(input)).status).toBe('verified');
      const later = new Date(Date.now() + 2 * 365 * DAY);
      expect(await reason(checkProvenance({ ...input, now: later }))).toMatch(
        new RegExp(`^provenance: key ${expiring.keyId} expired on `),
      );
    });

    it('key revoked', async () => {
      const input = await inputFor(delta.tgz, delta.chart, { keyring: await loadKeyring([revoked.keyringFile]) });
      expect(await reason(checkProvenance(input))).toMatch(new RegExp(`^provenance: key ${revoked.keyId} revoked`));
    });

    it('key revoked when one keyring file holds the key and another its revocation', async () => {
      const ring = await loadKeyring([join(dir, 'before-revocation', 'pubring.gpg'), revoked.armoredFile]);
      expect(ring.keyCount).toBe(1);
      const input = await inputFor(delta.tgz, delta.chart, { keyring: ring });
      expect(await reason(checkProvenance(input))).toMatch(new RegExp(`^provenance: key ${revoked.keyId} revoked`));
    });

    it('signing subkey expired (the primary key is fine)', async () => {
      const prov = await resign(withShortSub, zeta, (b) => b, { localUser: `${shortSubkeyId}!` });
      const input = await inputFor(zeta.tgz, zeta.chart, { prov, keyring: await loadKeyring([withShortSub.keyringFile]) });
      expect((await checkProvenance(input)).signer?.keyId).toBe(shortSubkeyId);
      const later = new Date(Date.now() + 2 * DAY);
      expect(await reason(checkProvenance({ ...input, now: later }))).toMatch(
        new RegExp(`^provenance: key ${shortSubkeyId} expired on \\S+ \\(subkey of ${withShortSub.keyId}\\)$`),
      );
    });

    it('insecure signature: a SHA-1 digest (stricter than Helm, which accepts it)', async () => {
      const prov = await resign(rsa, alpha, (b) => b, { digest: 'SHA1' });
      const input = await inputFor(alpha.tgz, alpha.chart, { prov, keyring: rsaRing });
      expect(await reason(checkProvenance(input))).toBe(
        `provenance: insecure signature: SHA1 digests are not accepted (signature by ${rsa.keyId})`,
      );
    });

    it('a key openpgp.js considers too weak (RSA-1024; Helm accepts it)', async () => {
      const prov = await resign(weak, alpha, (b) => b);
      const input = await inputFor(alpha.tgz, alpha.chart, { prov, keyring: await loadKeyring([weak.keyringFile]) });
      expect(await reason(checkProvenance(input))).toMatch(
        new RegExp(`^provenance: key ${weak.keyId} cannot be used to verify: .*RSA keys shorter than 2047 bits`),
      );
    });

    it('signature expired', async () => {
      const prov = await resign(rsa, alpha, (b) => b, { sigExpire: '1d' });
      const input = await inputFor(alpha.tgz, alpha.chart, { prov, keyring: rsaRing });
      expect((await checkProvenance(input)).status).toBe('verified');
      const later = new Date(Date.now() + 2 * DAY);
      expect(await reason(checkProvenance({ ...input, now: later }))).toMatch(
        new RegExp(`^provenance: signature by ${rsa.keyId} expired on `),
      );
    });

    it('signature dated in the future', async () => {
      const input = await inputFor(alpha.tgz, alpha.chart, { keyring: rsaRing, now: new Date(Date.now() - DAY) });
      expect(await reason(checkProvenance(input))).toMatch(
        new RegExp(`^provenance: signature by ${rsa.keyId} is dated in the future`),
      );
    });
  });

  describe('copy mode (no key needed)', () => {
    it('passes a signed chart whose key is unknown, without a keyring', async () => {
      const input = await inputFor(beta.tgz, beta.chart, { mode: 'copy' });
      expect(await checkProvenance(input)).toEqual({ status: 'checked', warnings: [] });
    });

    it('fails a tampered hash (verify mode calls the same file a bad signature)', async () => {
      const good = await readFile(`${beta.tgz}.prov`, 'utf8');
      const tampered = good.replace(/sha256:[0-9a-f]{64}/, `sha256:${sha256Hex('evil')}`);
      expect(tampered).not.toBe(good);
      const input = await inputFor(beta.tgz, beta.chart, { mode: 'copy', prov: Buffer.from(tampered) });
      expect(await reason(checkProvenance(input))).toMatch(/^provenance: archive hash mismatch: /);
      expect(await reason(checkProvenance({ ...input, mode: 'verify', keyring: edRing }))).toMatch(
        /^provenance: bad signature: /,
      );
    });
  });

  describe('an archive published under another file name', () => {
    let renamedTgz: string;
    let input: ProvenanceInput;
    beforeAll(async () => {
      await mkdir(join(dir, 'renamed'));
      renamedTgz = join(dir, 'renamed', 'alpha-1.0.0-linux.tgz');
      await copyFile(alpha.tgz, renamedTgz);
      const prov = await resign(rsa, alpha, (b) => b.replace('alpha-1.0.0.tgz:', 'alpha-1.0.0-linux.tgz:'));
      await writeFile(`${renamedTgz}.prov`, prov);
      input = await inputFor(renamedTgz, alpha.chart, { keyring: rsaRing });
    });

    it('passes, with a warning that helm pull --verify from OCI will fail', async () => {
      const result = await checkProvenance(input);
      expect(result.status).toBe('verified');
      expect(result.warnings).toHaveLength(1);
      expect(result.warnings[0]).toMatch(/^provenance: the \.prov covers alpha-1\.0\.0-linux\.tgz, not alpha-1\.0\.0\.tgz; `helm pull --verify` from OCI will fail/);
      expect((await checkProvenance({ ...input, mode: 'copy', keyring: undefined })).warnings).toHaveLength(1);
    });

    it('Helm agrees: the source file verifies, the same bytes as <name>-<version>.tgz do not', async () => {
      const asSource = await runHelm(3, ['verify', renamedTgz, '--keyring', rsa.keyringFile]);
      expect(asSource.code, asSource.stderr).toBe(0);
      await mkdir(join(dir, 'pulled'));
      const asPulled = join(dir, 'pulled', 'alpha-1.0.0.tgz');
      await copyFile(renamedTgz, asPulled);
      await copyFile(`${renamedTgz}.prov`, `${asPulled}.prov`);
      const pulled = await runHelm(3, ['verify', asPulled, '--keyring', rsa.keyringFile]);
      expect(pulled.code).not.toBe(0);
      expect(pulled.stderr).toContain('provenance does not contain a SHA for a file named "alpha-1.0.0.tgz"');
    });
  });

  it('Helm 4 agrees on good, unknown-key, expired and revoked (Helm 3 also accepts the expired key)', async () => {
    const verify = async (major: 3 | 4, c: Signed, keyring: string): Promise<number> =>
      (await runHelm(major, ['verify', c.tgz, '--keyring', keyring])).code;
    const cases: Array<[Signed, string, boolean]> = [
      [alpha, rsa.keyringFile, true],
      [alpha, stranger.keyringFile, false],
      [gamma, expired.keyringFile, false],
      [delta, revoked.keyringFile, false],
    ];
    for (const [c, ring, ok] of cases) {
      const ours = await checkProvenance(await inputFor(c.tgz, c.chart, { keyring: await loadKeyring([ring]) })).then(
        () => true,
        () => false,
      );
      expect(ours, `${c.chart.name} with ${ring}`).toBe(ok);
      expect(await verify(4, c, ring) === 0, `helm 4 verify ${c.chart.name}`).toBe(ok);
    }
    expect(await verify(3, gamma, expired.keyringFile)).toBe(0);
  });
});
