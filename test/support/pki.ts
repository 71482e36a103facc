import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { runOk } from './exec.js';

export interface CA { dir: string; certFile: string; keyFile: string }

/** Certificates are valid from one day ago (clock skew) for 30 days. EC P-256 keys: fast to make. */
const DAYS = '30';

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10; // positive and non-zero leading byte
  return `0x${b.toString('hex')}`;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** A self-signed CA (EC P-256) in `dir`: <name>.crt and <name>.key (PEM). */
export async function makeCA(dir: string, name = 'chartmirror-test-ca'): Promise<CA> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, safeName(name));
  const certFile = `${base}.crt`;
  const keyFile = `${base}.key`;
  await runOk('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  await runOk('openssl', [
    'req', '-x509', '-new', '-key', keyFile, '-sha256', '-days', DAYS, '-set_serial', serial(),
    '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-addext', 'subjectKeyIdentifier=hash',
    '-out', certFile,
  ]);
  return { dir, certFile, keyFile };
}

/**
 * A leaf certificate signed by `ca`, written next to it as <name>.crt / <name>.key.
 * hosts (default ['127.0.0.1', 'localhost']) become SANs; client: true makes a client (clientAuth) certificate,
 * otherwise a server (serverAuth) one.
 */
export async function makeCert(
  ca: CA,
  opts: { name: string; hosts?: string[]; client?: boolean },
): Promise<{ certFile: string; keyFile: string }> {
  const base = join(ca.dir, safeName(opts.name));
  const certFile = `${base}.crt`;
  const keyFile = `${base}.key`;
  const csrFile = `${base}.csr`;
  const extFile = `${base}.ext`;
  const hosts = opts.hosts ?? ['127.0.0.1', 'localhost'];
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${opts.client ? 'clientAuth' : 'serverAuth'}`,
    'authorityKeyIdentifier=keyid',
    ...(san ? [`subjectAltName=${san}`] : []),
  ].join('\n');
  await writeFile(extFile, `${ext}\n`);
  await runOk('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  await runOk('openssl', ['req', '-new', '-key', keyFile, '-subj', `/CN=${opts.name}`, '-out', csrFile]);
  await runOk('openssl', [
    'x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', serial(),
    '-days', DAYS, '-sha256', '-extfile', extFile, '-out', certFile,
  ]);
  return { certFile, keyFile };
}
