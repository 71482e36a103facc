/**
 * Decoding of OpenPGP clear-signed messages exactly as Helm reads a .prov: the rules of
 * github.com/ProtonMail/go-crypto v1.3.0 `openpgp/clearsign` Decode and the `openpgp/armor`
 * reader it uses (Helm 4.1.4), which accept a subset of what golang.org/x/crypto v0.36.0
 * `openpgp/clearsign` accepts (Helm 3.17.3), so a message that passes here decodes in both.
 * The error messages are chartmirror's, not Go's.
 *
 * Why not openpgp.js `readCleartextMessage`: it rebuilds the signed text from a JS string
 * (UTF-8 replacement of invalid bytes, different whitespace rules) and rejects headers Helm
 * ignores. The signature must be checked over the same bytes Go hashes.
 */

export interface ClearSigned {
  /** Values of the `Hash:` armor headers (unverified, as in Helm). */
  hashHeaders: string[];
  /** The text the signature covers: lines without dash-escapes and trailing blanks, joined by CRLF. */
  signed: Buffer;
  /** The same lines, each followed by LF: what Helm splits on `\n...\n`. */
  plaintext: string;
  /** The binary OpenPGP packets of the signature block. */
  signature: Buffer;
}

/** A structural problem: the caller prefixes it with `provenance: not a clear-signed message`. */
export class ClearSignError extends Error {}

const START = '-----BEGIN PGP SIGNED MESSAGE-----';
const SIG_BEGIN = '-----BEGIN PGP SIGNATURE-----';
const SIG_END = '-----END PGP SIGNATURE-----';
const CR = 0x0d;
const LF = 0x0a;

/** Splits off the first line (without its LF or CRLF) like go-crypto's getLine. */
function getLine(data: Buffer, from: number): { line: Buffer; next: number } {
  const i = data.indexOf(LF, from);
  if (i < 0) return { line: data.subarray(from), next: data.length };
  const end = i > from && data[i - 1] === CR ? i - 1 : i;
  return { line: data.subarray(from, end), next: i + 1 };
}

function trimRightBlanks(line: Buffer): Buffer {
  let end = line.length;
  while (end > 0 && (line[end - 1] === 0x20 || line[end - 1] === 0x09)) end--;
  return line.subarray(0, end);
}

export function decodeClearSigned(data: Buffer): ClearSigned {
  // Go accepts the start line at offset 0 or after any newline; whatever precedes it is ignored.
  let pos: number;
  if (data.subarray(0, START.length).toString('latin1') === START) {
    pos = START.length;
  } else {
    const i = data.indexOf(`\n${START}`, 0, 'latin1');
    if (i < 0) throw new ClearSignError(`no "${START}" line`);
    pos = i + 1 + START.length;
  }
  let { line, next } = getLine(data, pos);
  if (line.length !== 0) throw new ClearSignError('text after the BEGIN PGP SIGNED MESSAGE marker');
  pos = next;

  const hashHeaders: string[] = [];
  for (;;) {
    if (pos >= data.length) throw new ClearSignError('message ends inside the armor headers');
    ({ line, next } = getLine(data, pos));
    pos = next;
    if (line.length === 0) break;
    const text = line.toString('latin1');
    if (/[^\x20-\x7e]/.test(text)) throw new ClearSignError('control or non-ASCII character in an armor header');
    const colon = text.indexOf(':');
    if (colon < 0) throw new ClearSignError(`malformed armor header ${JSON.stringify(text)}`);
    const key = text.slice(0, colon).trim();
    // Helm v4 drops messages with any other header; SaltedHash belongs to v6 signatures.
    if (key === 'Hash') {
      for (const v of text.slice(colon + 1).split(',')) hashHeaders.push(v.trim());
    } else if (key !== 'SaltedHash') {
      throw new ClearSignError(`unexpected armor header ${JSON.stringify(key)} (only Hash is allowed)`);
    }
  }

  const signedParts: Buffer[] = [];
  const plainParts: Buffer[] = [];
  const crlf = Buffer.from('\r\n');
  const lf = Buffer.from('\n');
  let first = true;
  for (;;) {
    const lineStart = pos;
    ({ line, next } = getLine(data, pos));
    if (line.length === 0 && next >= data.length) throw new ClearSignError('no BEGIN PGP SIGNATURE block');
    pos = next;
    if (line.length === SIG_BEGIN.length && line.toString('latin1') === SIG_BEGIN) {
      pos = lineStart;
      break;
    }
    // The line break before the signature block is not signed, so CRLF goes between lines only.
    if (!first) signedParts.push(crlf);
    first = false;
    if (line[0] === 0x2d && line[1] === 0x20) line = line.subarray(2); // dash-escape "- "
    line = trimRightBlanks(line);
    signedParts.push(line);
    plainParts.push(line, lf);
  }

  const endAt = data.indexOf(`\n${SIG_END}`, pos, 'latin1');
  if (endAt < 0) throw new ClearSignError('no END PGP SIGNATURE line');
  const armored = data.subarray(pos, endAt + 1 + SIG_END.length).toString('latin1');
  return {
    hashHeaders,
    signed: Buffer.concat(signedParts),
    plaintext: Buffer.concat(plainParts).toString('utf8'),
    signature: decodeSignatureArmor(armored),
  };
}

/**
 * The binary packets of an armored `PGP SIGNATURE` block: headers up to a blank line, base64
 * lines, an optional `=XXXX` CRC-24 that must match when present (Go's armor reader checks it;
 * openpgp.js ignores it).
 */
function decodeSignatureArmor(armored: string): Buffer {
  const lines = armored.split('\n').map(trimRightArmor);
  let i = 1; // lines[0] is the BEGIN line
  while (i < lines.length && lines[i] !== '') {
    if (!lines[i].includes(':')) break; // no blank line after the headers: tolerated, as in Go
    i++;
  }
  if (lines[i] === '') i++;
  let body = '';
  let crc: string | undefined;
  for (; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith('-----')) break;
    if (l.startsWith('=') && l.length === 5) {
      crc = l.slice(1);
      continue;
    }
    body += l;
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length === 0) {
    throw new ClearSignError('signature block is not valid base64');
  }
  const bytes = Buffer.from(body, 'base64');
  if (crc !== undefined) {
    const want = Buffer.from(crc, 'base64');
    const got = crc24(bytes);
    if (want.length !== 3 || want.readUIntBE(0, 3) !== got) {
      throw new ClearSignError('signature block checksum (CRC-24) does not match');
    }
  }
  return bytes;
}

/** A line without its trailing spaces, tabs and CRs (a scan, linear however long the run is). */
function trimRightArmor(l: string): string {
  let end = l.length;
  while (end > 0) {
    const c = l.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) break;
    end--;
  }
  return l.slice(0, end);
}

function crc24(data: Uint8Array): number {
  let crc = 0xb704ce;
  for (const b of data) {
    crc ^= b << 16;
    for (let k = 0; k < 8; k++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}
