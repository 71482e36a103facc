import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onExit } from './cleanup.js';
import { runOk } from './exec.js';

export interface GpgKey {
  gnupgHome: string;
  keyringFile: string;        // binary public keyring (gpg --export): what helm verify --keyring wants
  armoredFile: string;        // ASCII-armored public key
  secretKeyringFile: string;  // binary secret keyring (gpg --export-secret-keys): what helm package --sign --keyring wants
  fingerprint: string;        // 40 hex, upper case
  keyId: string;              // 16 hex, upper case
  name: string;
  email: string;
  /** Set when the key is protected; packageChart() hands it to helm through --passphrase-file. */
  passphrase?: string;
  /** A file holding the passphrase (for helm --passphrase-file), when there is one. */
  passphraseFile?: string;
}

export interface MakeGpgKeyOptions {
  type?: 'rsa' | 'ed25519';   // default rsa (rsa2048): Helm 3's x/crypto/openpgp cannot sign with ed25519
  name?: string;               // default 'Chartmirror Test'
  email?: string;              // default 'test@chartmirror.invalid'
  expire?: string;             // gpg expire spec: '1d', '2y', an ISO date, 'never' (default)
  passphrase?: string;
  /** Pretend the key was made at this time (gpg --faked-system-time); with expire, makes already-expired keys. */
  createdAt?: Date;
}

const homes = new Set<string>();

function registerAgentCleanup(home: string): void {
  if (homes.size === 0) {
    // gpg starts a gpg-agent per home directory; stop them rather than leave them behind.
    onExit('processes', () => {
      for (const h of homes) {
        try {
          execFileSync('gpgconf', ['--homedir', h, '--kill', 'all'], { stdio: 'ignore', timeout: 5000 });
        } catch {
          // best effort
        }
      }
    });
  }
  homes.add(home);
}

function gpgArgs(home: string, extra: string[]): string[] {
  return ['--homedir', home, '--batch', '--no-tty', '--yes', '--pinentry-mode', 'loopback', ...extra];
}

function gpg(home: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  return runOk('gpg', gpgArgs(home, args), { input, env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
}

/** A fresh GnuPG home in `dir`/gnupg with one signing key (no subkeys), and its exports next to it. */
export async function makeGpgKey(dir: string, opts: MakeGpgKeyOptions = {}): Promise<GpgKey> {
  const name = opts.name ?? 'Chartmirror Test';
  const email = opts.email ?? 'test@chartmirror.invalid';
  const gnupgHome = join(dir, 'gnupg');
  await mkdir(gnupgHome, { recursive: true });
  await chmod(gnupgHome, 0o700);
  // Without a fixed count gpg-agent calibrates S2K on first use: seconds per key on a busy machine.
  await writeFile(join(gnupgHome, 'gpg-agent.conf'), 's2k-count 65536\n');
  await writeFile(join(gnupgHome, 'gpg.conf'), 's2k-count 65536\n');
  registerAgentCleanup(gnupgHome);
  const algo = opts.type === 'ed25519' ? 'ed25519' : 'rsa2048';
  const time = opts.createdAt ? ['--faked-system-time', `${Math.floor(opts.createdAt.getTime() / 1000)}`] : [];
  const passphrase = opts.passphrase ?? '';
  const generated = await gpg(gnupgHome, [
    ...time, '--status-fd', '1', '--passphrase-fd', '0',
    '--quick-gen-key', `${name} <${email}>`, algo, 'sign', opts.expire ?? 'never',
  ], `${passphrase}\n`);
  // "[GNUPG:] KEY_CREATED P <fingerprint>": exact even when the home already holds other keys.
  const fpr = /^\[GNUPG:\] KEY_CREATED \S+ ([0-9A-Fa-f]{40})/m.exec(generated.stdout)?.[1];
  if (!fpr) throw new Error(`gpg did not report the new key:\n${generated.stdout}${generated.stderr}`);
  const key: GpgKey = {
    gnupgHome,
    keyringFile: join(dir, 'pubring.gpg'),
    armoredFile: join(dir, 'pubring.asc'),
    secretKeyringFile: join(dir, 'secring.gpg'),
    fingerprint: fpr.toUpperCase(),
    keyId: fpr.slice(-16).toUpperCase(),
    name,
    email,
  };
  if (opts.passphrase !== undefined) {
    key.passphrase = opts.passphrase;
    key.passphraseFile = join(dir, 'passphrase.txt');
    await writeFile(key.passphraseFile, opts.passphrase, { mode: 0o600 });
  }
  await exportKey(key);
  return key;
}

async function exportKey(key: GpgKey): Promise<void> {
  const home = key.gnupgHome;
  await gpg(home, ['--output', key.keyringFile, '--export', key.fingerprint]);
  await gpg(home, ['--armor', '--output', key.armoredFile, '--export', key.fingerprint]);
  await gpg(home, ['--passphrase-fd', '0', '--output', key.secretKeyringFile, '--export-secret-keys', key.fingerprint],
    `${key.passphrase ?? ''}\n`);
}

/**
 * Revokes the key with the revocation certificate gpg wrote at generation time (openpgp-revocs.d), then
 * re-exports keyringFile, armoredFile and secretKeyringFile.
 */
export async function revokeKey(key: GpgKey): Promise<void> {
  const revFile = join(key.gnupgHome, 'openpgp-revocs.d', `${key.fingerprint}.rev`);
  // gpg prefixes the armour line with ':' so that the certificate is not imported by accident.
  const cert = (await readFile(revFile, 'utf8')).replace(/^:-----BEGIN/m, '-----BEGIN');
  const armored = cert.slice(cert.indexOf('-----BEGIN'));
  await gpg(key.gnupgHome, ['--import'], armored);
  await exportKey(key);
}
