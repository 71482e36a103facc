/** Helm's own provenance vectors (test/support/testdata.ts: skipped with a notice when absent, a failure in CI). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkProvenance, loadKeyring, type Keyring, type ProvenanceInput } from '../../src/chart/provenance.js';
import { decodeClearSigned } from '../../src/helmcompat/clearsign.js';
import { haveTestdata, HELM_TESTDATA } from '../support/testdata.js';
import { sha256Hex } from './helpers.js';

const PROV = join(HELM_TESTDATA, 'provenance');
const TESTCHARTS = join(HELM_TESTDATA, 'testcharts');
const HELM_TEST_FPR = '5E615389B53CA37F0EE60BD3843BBF981FC18762';

async function hashtestInput(extra: Partial<ProvenanceInput> = {}): Promise<ProvenanceInput> {
  const archive = await readFile(join(PROV, 'hashtest-1.2.3.tgz'));
  return {
    mode: 'verify',
    prov: await readFile(join(PROV, 'hashtest-1.2.3.tgz.prov')),
    archiveSha256: sha256Hex(archive),
    archiveFileName: 'hashtest-1.2.3.tgz',
    chartName: 'hashtest',
    chartVersion: '1.2.3',
    ...extra,
  };
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect((e as { code?: string }).code).toBe('PROVENANCE');
    return (e as Error).message;
  }
  throw new Error('expected the check to fail');
}

describe.skipIf(!haveTestdata())('Helm test vectors', () => {
  let helmKey: Keyring;
  beforeAll(async () => {
    helmKey = await loadKeyring([join(PROV, 'helm-test-key.pub')]);
  });

  it('hashtest-1.2.3.tgz + .prov verifies with helm-test-key.pub', async () => {
    const input = await hashtestInput({ keyring: helmKey });
    expect(input.archiveSha256).toBe((await readFile(join(PROV, 'hashtest.sha256'), 'utf8')).trim().split(/\s+/)[0]);
    const result = await checkProvenance(input);
    expect(result).toEqual({
      status: 'verified',
      signer: {
        keyId: '843BBF981FC18762',
        fingerprint: HELM_TEST_FPR,
        userIds: ['Helm Testing (This key should only be used for testing. DO NOT TRUST.) <helm-testing@helm.sh>'],
      },
      warnings: [],
    });
  });

  it('msgblock.yaml.asc (the signed body) verifies as the hashtest .prov', async () => {
    const prov = await readFile(join(PROV, 'msgblock.yaml.asc'));
    const result = await checkProvenance(await hashtestInput({ prov, keyring: helmKey }));
    expect(result.status).toBe('verified');
    // Helm splits the body exactly like this: the plaintext is msgblock.yaml.
    expect(decodeClearSigned(prov).plaintext).toBe(await readFile(join(PROV, 'msgblock.yaml'), 'utf8'));
  });

  it('msgblock.yaml.tampered fails with bad signature', async () => {
    const prov = await readFile(join(PROV, 'msgblock.yaml.tampered'));
    const msg = await reason(checkProvenance(await hashtestInput({ prov, keyring: helmKey })));
    expect(msg).toMatch(/^provenance: bad signature: the signature by 843BBF981FC18762 does not match the signed text$/);
  });

  it('the tampered body passes no copy-mode check either (its hash is not the archive’s)', async () => {
    const prov = await readFile(join(PROV, 'msgblock.yaml.tampered'));
    const msg = await reason(checkProvenance(await hashtestInput({ prov, mode: 'copy' })));
    expect(msg).toMatch(/^provenance: archive hash mismatch: /);
  });

  it('the mixed RSA/ed25519 keyring (helm-mixed-keyring.pub) loads and verifies', async () => {
    const mixed = await loadKeyring([join(PROV, 'helm-mixed-keyring.pub')]);
    expect(mixed.keyCount).toBe(2);
    const result = await checkProvenance(await hashtestInput({ keyring: mixed }));
    expect(result.status).toBe('verified');
    expect(result.signer?.fingerprint).toBe(HELM_TEST_FPR);
  });

  it('testcharts/signtest-0.1.0.tgz.prov verifies with helm-test-key.pub', async () => {
    const archive = await readFile(join(TESTCHARTS, 'signtest-0.1.0.tgz'));
    const result = await checkProvenance({
      mode: 'verify',
      prov: await readFile(join(TESTCHARTS, 'signtest-0.1.0.tgz.prov')),
      archiveSha256: sha256Hex(archive),
      archiveFileName: 'signtest-0.1.0.tgz',
      chartName: 'signtest',
      chartVersion: '0.1.0',
      keyring: helmKey,
    });
    expect(result.status).toBe('verified');
    expect(result.warnings).toEqual([]);
  });

  it('a secret keyring works as a verification keyring, as in Helm', async () => {
    const secret = await loadKeyring([join(PROV, 'helm-test-key.secret')]);
    expect((await checkProvenance(await hashtestInput({ keyring: secret }))).status).toBe('verified');
  });

  it('copy mode needs no keyring', async () => {
    expect(await checkProvenance(await hashtestInput({ mode: 'copy' }))).toEqual({ status: 'checked', warnings: [] });
  });

  describe('clear-signed decoding, as Go reads it', () => {
    let prov: string;
    beforeAll(async () => {
      prov = await readFile(join(PROV, 'hashtest-1.2.3.tgz.prov'), 'utf8');
    });

    it('CRLF line endings and text before the message still verify', async () => {
      const crlf = Buffer.from(`some preamble\r\n${prov.replace(/\n/g, '\r\n')}\r\n`);
      expect(decodeClearSigned(crlf).plaintext).toBe(decodeClearSigned(Buffer.from(prov)).plaintext);
      expect((await checkProvenance(await hashtestInput({ prov: crlf, keyring: helmKey }))).status).toBe('verified');
    });

    it('trailing blanks are not signed; dash-escaped lines are unescaped', async () => {
      const edited = prov.replace('name: hashtest\n', 'name: hashtest  \t\n').replace('apiVersion: v1', '- apiVersion: v1');
      expect((await checkProvenance(await hashtestInput({ prov: Buffer.from(edited), keyring: helmKey }))).status).toBe(
        'verified',
      );
    });

    it('an armor header other than Hash is refused (Helm 4 refuses it)', async () => {
      const edited = prov.replace('Hash: SHA512\n', 'Hash: SHA512\nComment: hi\n');
      const msg = await reason(checkProvenance(await hashtestInput({ prov: Buffer.from(edited), mode: 'copy' })));
      expect(msg).toBe('provenance: not a clear-signed message: unexpected armor header "Comment" (only Hash is allowed)');
    });

    it('a corrupt CRC-24 in the signature armor is refused', async () => {
      const edited = prov.replace(/\n=....\n-----END/, '\n=AAAA\n-----END');
      expect(edited).not.toBe(prov);
      const msg = await reason(checkProvenance(await hashtestInput({ prov: Buffer.from(edited), keyring: helmKey })));
      expect(msg).toMatch(/^provenance: not a clear-signed message: .*CRC-24/);
    });

    it('a signature block without an OpenPGP signature fails even in copy mode', async () => {
      const start = prov.indexOf('-----BEGIN PGP SIGNATURE-----');
      const junk = Buffer.from('not an openpgp packet at all').toString('base64');
      const edited = `${prov.slice(0, start)}-----BEGIN PGP SIGNATURE-----\n\n${junk}\n-----END PGP SIGNATURE-----\n`;
      const msg = await reason(checkProvenance(await hashtestInput({ prov: Buffer.from(edited), mode: 'copy' })));
      expect(msg).toMatch(/^provenance: not a clear-signed message: (unreadable signature packet|no document signature packet)/);
    });

    it('a message without a signature block is refused', async () => {
      const cut = prov.slice(0, prov.indexOf('-----BEGIN PGP SIGNATURE-----'));
      const msg = await reason(checkProvenance(await hashtestInput({ prov: Buffer.from(cut), mode: 'copy' })));
      expect(msg).toBe('provenance: not a clear-signed message: no BEGIN PGP SIGNATURE block');
    });
  });
});
