/**
 * Keyrings for .prov verification, parsed once per run and shared by concurrent checks.
 * Accepts what Helm accepts (binary `gpg --export` output, secret keyrings too) plus
 * ASCII-armored key files; keys found in several files are merged (a revocation in one file
 * applies to the key from another).
 */
import { readFile } from 'node:fs/promises';
import { readKeys, type Key, type PublicKey, type Subkey } from 'openpgp';
import { ConfigError } from '../errors.js';

import type { Keyring } from './provenance-types.js';

export type { Keyring };

/** A key or subkey that can be the issuer of a signature, with the certificate it belongs to. */
export interface KeyringEntry {
  key: PublicKey;
  signingKey: PublicKey | Subkey;
}

interface KeyringInternals {
  /** Upper-case 16-hex key id (primary and subkeys) → candidates; ids can collide. */
  byKeyId: Map<string, KeyringEntry[]>;
}

// Opaque to callers: the object they hold carries only files and keyCount.
const internals = new WeakMap<Keyring, KeyringInternals>();

export function keyringInternals(keyring: Keyring): KeyringInternals {
  const found = internals.get(keyring);
  if (!found) throw new Error('keyring was not made by loadKeyring()');
  return found;
}

const ARMOR_BLOCK_RE = /-----BEGIN PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----/g;

function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return 'permission denied';
  if (err?.code === 'EISDIR') return 'is a directory';
  return err?.code ?? (e instanceof Error ? e.message : String(e));
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}

async function readKeyFile(file: string): Promise<Key[]> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (e) {
    throw new ConfigError(`verify.keyring: cannot read ${file}: ${describeFsError(e)}`, { cause: e });
  }
  if (data.length === 0) throw new ConfigError(`verify.keyring: ${file} contains no OpenPGP public keys (empty file)`);
  if (data.length >= 12 && data.subarray(8, 12).toString('latin1') === 'KBXf') {
    throw new ConfigError(
      `verify.keyring: ${file} is a GnuPG keybox (.kbx), not a keyring; export one with \`gpg --export > keyring.gpg\``,
    );
  }

  const keys: Key[] = [];
  try {
    // Binary OpenPGP packets start with a byte that has the high bit set; armor is text.
    if (data[0] & 0x80) {
      keys.push(...(await readKeys({ binaryKeys: data })));
    } else {
      const blocks = data.toString('utf8').match(ARMOR_BLOCK_RE) ?? [];
      for (const block of blocks) keys.push(...(await readKeys({ armoredKeys: block })));
    }
  } catch (e) {
    if (/no key packet found/i.test(firstLine(e))) {
      throw new ConfigError(`verify.keyring: ${file} contains no OpenPGP public keys`, { cause: e });
    }
    throw new ConfigError(`verify.keyring: cannot parse ${file}: ${firstLine(e)}`, { cause: e });
  }
  if (keys.length === 0) throw new ConfigError(`verify.keyring: ${file} contains no OpenPGP public keys`);
  return keys;
}

export async function loadKeyring(files: string[]): Promise<Keyring> {
  if (files.length === 0) throw new ConfigError('verify.keyring: no keyring file given');
  const perFile = await Promise.all(files.map((f) => readKeyFile(f)));

  const byFingerprint = new Map<string, PublicKey>();
  for (const keys of perFile) {
    for (const k of keys) {
      const pub = k.isPrivate() ? k.toPublic() : (k as PublicKey);
      const fpr = pub.getFingerprint();
      const seen = byFingerprint.get(fpr);
      try {
        // date null: keep every signature, expired or not; validity is judged per check.
        byFingerprint.set(fpr, seen ? await seen.update(pub, null as unknown as Date) : pub);
      } catch (e) {
        throw new ConfigError(`verify.keyring: cannot merge key ${fpr.toUpperCase()}: ${firstLine(e)}`, { cause: e });
      }
    }
  }

  const byKeyId = new Map<string, KeyringEntry[]>();
  for (const key of byFingerprint.values()) {
    for (const signingKey of key.getKeys()) {
      const id = signingKey.getKeyID().toHex().toUpperCase();
      const list = byKeyId.get(id) ?? [];
      list.push({ key, signingKey });
      byKeyId.set(id, list);
    }
  }

  const keyring: Keyring = Object.freeze({ files: [...files], keyCount: byFingerprint.size });
  internals.set(keyring, { byKeyId });
  return keyring;
}
