/**
 * Checks the detached signature of a clear-signed .prov against a keyring, the way Helm does
 * (CheckDetachedSignature: the first signature packet whose issuer is in the keyring is the one
 * checked), with Helm v4's extra rule that the key, the signing subkey and the signature must be
 * unexpired and unrevoked *now*.
 *
 * openpgp.js only judges key validity at the signature's creation time, and its error messages
 * are not an API, so the crypto check, the signature dates and the key state are checked
 * separately here and each failure gets its own reason.
 */
import { createMessage, enums, readSignature, type PublicKey, type SignaturePacket, type Subkey } from 'openpgp';
import { keyringInternals, type Keyring, type KeyringEntry } from './provenance-keyring.js';

export interface Signer {
  /** 16-hex upper-case id of the key that made the signature (a subkey when a subkey signed). */
  keyId: string;
  /** Upper-case fingerprint of the primary key. */
  fingerprint: string;
  userIds: string[];
}

/** The reason after `provenance: `, e.g. `bad signature: ...`. */
export class SignatureCheckError extends Error {}

const hex = (id: { toHex(): string }): string => id.toHex().toUpperCase();

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The document signatures in a signature block; copy mode checks this much too (no key needed). */
export async function readSignaturePackets(signatureBytes: Buffer): Promise<SignaturePacket[]> {
  let packets: SignaturePacket[];
  try {
    const sig = await readSignature({ binarySignature: signatureBytes });
    packets = [...sig.packets].filter(
      (p) => p.signatureType === enums.signature.text || p.signatureType === enums.signature.binary,
    );
  } catch (e) {
    throw new SignatureCheckError(`not a clear-signed message: unreadable signature packet (${firstLine(e)})`);
  }
  if (packets.length === 0) throw new SignatureCheckError('not a clear-signed message: no document signature packet');
  return packets;
}

export async function verifyDetached(signed: Buffer, packets: SignaturePacket[], keyring: Keyring, now: Date): Promise<Signer> {
  const { byKeyId } = keyringInternals(keyring);
  const picked = packets.find((p) => byKeyId.has(hex(p.issuerKeyID)));
  if (!picked) throw new SignatureCheckError(`signed by unknown key ${hex(packets[0].issuerKeyID)}`);
  const issuer = hex(picked.issuerKeyID);

  // createMessage builds the literal-data packet the public API hashes for detached signatures.
  const message = await createMessage({ binary: new Uint8Array(signed.buffer, signed.byteOffset, signed.length) });
  const literal = message.packets.findPacket(enums.packet.literalData);
  if (!literal) throw new Error('openpgp: createMessage produced no literal data packet');

  let entry: KeyringEntry | undefined;
  let cryptoError: unknown;
  for (const candidate of byKeyId.get(issuer) ?? []) {
    try {
      // date null: only the mathematics and algorithm policy here; dates are judged below.
      await picked.verify(candidate.signingKey.keyPacket, picked.signatureType!, literal, null as unknown as Date, true);
      entry = candidate;
      break;
    } catch (e) {
      cryptoError ??= e;
    }
  }
  if (!entry) throw new SignatureCheckError(badSignatureReason(issuer, cryptoError));

  const created = picked.created;
  if (created && created.getTime() > now.getTime()) {
    throw new SignatureCheckError(`signature by ${issuer} is dated in the future (${iso(created)})`);
  }
  const sigExpiry = picked.getExpirationTime();
  if (sigExpiry !== Infinity && (sigExpiry as Date).getTime() <= now.getTime()) {
    throw new SignatureCheckError(`signature by ${issuer} expired on ${iso(sigExpiry as Date)}`);
  }
  if (created && entry.signingKey.getCreationTime().getTime() > created.getTime()) {
    throw new SignatureCheckError(`bad signature: key ${issuer} was created after the signature`);
  }

  await checkKeyUsableNow(entry.key, entry.signingKey, issuer, now);

  return {
    keyId: issuer,
    fingerprint: entry.key.getFingerprint().toUpperCase(),
    userIds: entry.key.getUserIDs(),
  };
}

function badSignatureReason(issuer: string, e: unknown): string {
  const msg = firstLine(e);
  // openpgp.js policy, stricter than Helm: SHA-1 (and MD5, RIPEMD-160) message digests are refused.
  const weak = /^Insecure (?:message )?hash algorithm: (\S+)/i.exec(msg);
  if (weak) return `insecure signature: ${weak[1]} digests are not accepted (signature by ${issuer})`;
  if (/digest did not match|verification failed/i.test(msg)) {
    return `bad signature: the signature by ${issuer} does not match the signed text`;
  }
  return `bad signature: ${msg} (key ${issuer})`;
}

/** The key must be able to sign now: not revoked, not expired, flagged for signing. */
async function checkKeyUsableNow(key: PublicKey, signingKey: PublicKey | Subkey, issuer: string, now: Date): Promise<void> {
  const primary = hex(key.getKeyID());
  const isSubkey = signingKey !== key;
  try {
    await key.getSigningKey(signingKey.getKeyID(), now);
    return;
  } catch (e) {
    // Diagnose with the specific checks; getSigningKey's message is only the fallback.
    const via = isSubkey ? ` (signing subkey ${issuer})` : '';
    if (await key.isRevoked(undefined, undefined, now)) {
      throw new SignatureCheckError(`key ${primary} revoked${via}${revocationReason(key.revocationSignatures)}`);
    }
    if (isSubkey && (await (signingKey as Subkey).isRevoked(undefined as never, undefined as never, now))) {
      throw new SignatureCheckError(
        `key ${issuer} revoked (subkey of ${primary})${revocationReason((signingKey as Subkey).revocationSignatures)}`,
      );
    }
    const primaryExpiry = await key.getExpirationTime().catch(() => null);
    if (primaryExpiry instanceof Date && primaryExpiry.getTime() <= now.getTime()) {
      throw new SignatureCheckError(`key ${primary} expired on ${iso(primaryExpiry)}${via}`);
    }
    if (isSubkey) {
      const subExpiry = await (signingKey as Subkey).getExpirationTime(null as unknown as Date).catch(() => null);
      if (subExpiry instanceof Date && subExpiry.getTime() <= now.getTime()) {
        throw new SignatureCheckError(`key ${issuer} expired on ${iso(subExpiry)} (subkey of ${primary})`);
      }
    }
    throw new SignatureCheckError(`key ${issuer} cannot be used to verify: ${firstLine(e)}`);
  }
}

function revocationReason(sigs: SignaturePacket[]): string {
  const text = sigs.map((s) => s.reasonForRevocationString).find((s) => s);
  return text ? ` (${text})` : '';
}
