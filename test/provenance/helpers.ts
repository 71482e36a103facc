/**
 * Helpers for the provenance tests only (gpg operations test/support/gpg.ts does not offer).
 * gpg runs in test setup only; the code under test never calls it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { onExit } from '../support/cleanup.js';
import { runOk } from '../support/exec.js';
import type { GpgKey } from '../support/gpg.js';
import type { ProvenanceInput } from '../../src/chart/provenance.js';


export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A verify-mode input for a packaged chart and its .prov next to it. */
export async function inputFor(
  tgz: string,
  chart: { name: string; version: string },
  extra: Partial<ProvenanceInput> = {},
): Promise<ProvenanceInput> {
  const [archive, prov] = await Promise.all([readFile(tgz), readFile(`${tgz}.prov`)]);
  return {
    mode: 'verify',
    prov,
    archiveSha256: sha256Hex(archive),
    archiveFileName: basename(tgz),
    chartName: chart.name,
    chartVersion: chart.version,
    ...extra,
  };
}

function gpg(key: GpgKey, args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  return runOk(
    'gpg',
    ['--homedir', key.gnupgHome, '--batch', '--no-tty', '--yes', '--pinentry-mode', 'loopback', ...args],
    { input, env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } },
  );
}

async function reexport(key: GpgKey): Promise<void> {
  await gpg(key, ['--output', key.keyringFile, '--export', key.fingerprint]);
  await gpg(key, ['--armor', '--output', key.armoredFile, '--export', key.fingerprint]);
}

/** Adds a signing subkey (RSA 2048) and re-exports the public keyring files; returns its 16-hex id. */
export async function addSigningSubkey(key: GpgKey, expire = 'never'): Promise<string> {
  await gpg(key, ['--passphrase', '', '--quick-add-key', key.fingerprint, 'rsa2048', 'sign', expire]);
  const listing = await gpg(key, ['--with-colons', '--list-keys', key.fingerprint]);
  const subs = listing.stdout.split('\n').filter((l) => l.startsWith('sub:'));
  const id = subs.at(-1)?.split(':')[4];
  if (!id) throw new Error(`no subkey in gpg listing:\n${listing.stdout}`);
  await reexport(key);
  return id.toUpperCase();
}

export interface ClearSignOptions {
  /** Key or subkey id to sign with; a trailing `!` forces exactly that (sub)key. */
  localUser?: string;
  /** gpg --default-sig-expire value, e.g. '1d'. */
  sigExpire?: string;
  digest?: 'SHA1' | 'SHA256' | 'SHA512';
  /** gpg --faked-system-time: the signature's creation time. */
  at?: Date;
}

/** `gpg --clearsign` of `text` (a Helm-style message block); returns the clear-signed message. */
export async function gpgClearSign(key: GpgKey, text: string, opts: ClearSignOptions = {}): Promise<string> {
  const args = ['--clearsign', '--digest-algo', opts.digest ?? 'SHA512', '--local-user', opts.localUser ?? key.fingerprint];
  if (opts.sigExpire) args.push('--default-sig-expire', opts.sigExpire);
  if (opts.at) args.push('--faked-system-time', `${Math.floor(opts.at.getTime() / 1000)}!`, '--ignore-time-conflict');
  const { stdout } = await gpg(key, args, text);
  return stdout;
}

/** The message block (signed text) of a Helm-written .prov, as Helm would sign it again. */
export function messageBlockOf(prov: string): string {
  const start = prov.indexOf('\n\n') + 2;
  const end = prov.indexOf('-----BEGIN PGP SIGNATURE-----');
  return prov
    .slice(start, end)
    .split('\n')
    .map((l) => (l.startsWith('- ') ? l.slice(2) : l))
    .join('\n');
}

/** An RSA-1024 signing key (gpg still makes them; Helm accepts them, openpgp.js refuses them). */
export async function makeRsa1024Key(dir: string): Promise<GpgKey> {
  const gnupgHome = join(dir, 'gnupg');
  await mkdir(gnupgHome, { recursive: true, mode: 0o700 });
  const email = 'weak@chartmirror.invalid';
  const key = { gnupgHome } as GpgKey;
  // gpg starts an agent for this home; stop it at exit as test/support/gpg.ts does for its homes.
  onExit('processes', () => {
    try {
      execFileSync('gpgconf', ['--homedir', gnupgHome, '--kill', 'all'], { stdio: 'ignore', timeout: 5000 });
    } catch {
      // best effort
    }
  });
  await gpg(key, ['--passphrase', '', '--quick-gen-key', `Weak RSA <${email}>`, 'rsa1024', 'sign', 'never']);
  const listing = await gpg(key, ['--with-colons', '--fingerprint', '--list-keys', email]);
  const fpr = listing.stdout.split('\n').find((l) => l.startsWith('fpr:'))?.split(':')[9];
  if (!fpr) throw new Error(`no fingerprint in gpg output:\n${listing.stdout}`);
  Object.assign(key, {
    keyringFile: join(dir, 'pubring.gpg'),
    armoredFile: join(dir, 'pubring.asc'),
    secretKeyringFile: join(dir, 'secring.gpg'),
    fingerprint: fpr.toUpperCase(),
    keyId: fpr.slice(-16).toUpperCase(),
    name: 'Weak RSA',
    email,
  });
  await reexport(key);
  return key;
}
