/**
 * Which certificate authorities a TLS connection trusts when its server has no `tls.ca`:
 * Node's bundled Mozilla roots and `NODE_EXTRA_CA_CERTS` (Node's own default), plus the
 * system's CA bundle read the way Go reads it on Linux (crypto/x509 root_unix.go and
 * root_linux.go), so that a corporate CA added to the machine's trust store is trusted as
 * Helm, Docker and curl trust it:
 *
 * - `SSL_CERT_FILE` when set, else the first of Go's bundle files that can be read;
 * - every file of `SSL_CERT_DIR` (a colon-separated list) when set, else of Go's certificate
 *   directories, leaving out symlinks to files in the same directory (OpenSSL's hash links).
 *
 * A server's `tls.ca` is trusted in addition to all of this (as Docker, containerd and
 * containers/image add a registry's `ca.crt` to the system pool), so a registry with a
 * private CA stays reachable through a TLS-inspecting proxy whose CA is in the system store.
 */
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';

/** Go's certFiles for Linux: the first one that can be read is used. */
export const SYSTEM_CERT_FILES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian/Ubuntu/Gentoo etc.
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora/RHEL 6
  '/etc/ssl/ca-bundle.pem', // OpenSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS/RHEL 7
  '/etc/ssl/cert.pem', // Alpine Linux
];

/** Go's certDirectories for Linux: every one is read. */
export const SYSTEM_CERT_DIRS = ['/etc/ssl/certs', '/etc/pki/tls/certs'];

const PEM_CERT = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n\t ]+?)-----END CERTIFICATE-----/g;

/** The CERTIFICATE blocks of a PEM text (as Go's AppendCertsFromPEM takes them). */
export function pemCertificates(text: string): string[] {
  return [...text.matchAll(PEM_CERT)].map((m) => m[0]);
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

/** The system's CA certificates (PEM), read as Go's loadSystemRoots reads them. */
export function systemCertificates(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  const files = env.SSL_CERT_FILE ? [env.SSL_CERT_FILE] : SYSTEM_CERT_FILES;
  for (const file of files) {
    const text = readText(file);
    if (text === undefined) continue;
    out.push(...pemCertificates(text));
    break;
  }
  const dirs = env.SSL_CERT_DIR ? env.SSL_CERT_DIR.split(':') : SYSTEM_CERT_DIRS;
  for (const dir of dirs) {
    let names: import('node:fs').Dirent[];
    try {
      names = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of names) {
      if (entry.isSymbolicLink()) {
        // Go's isSameDirSymlink: a link to a file in the same directory is a duplicate.
        try {
          if (!readlinkSync(join(dir, entry.name)).includes('/')) continue;
        } catch {
          continue;
        }
      }
      const text = readText(join(dir, entry.name));
      if (text !== undefined) out.push(...pemCertificates(text));
    }
  }
  return out;
}

/** Go skips PEM blocks that are not certificates; so does this (Node would refuse them). */
function isCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** A certificate's identity for de-duplication: its base64 body without line breaks. */
function body(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

export interface DefaultTrust {
  /** undefined: Node's own default store already has everything; else the CAs to pass as `ca`. */
  ca?: string[];
  /** System certificates that Node's default store lacks (0: nothing to add). */
  added: number;
}

let cached: { key: string; trust: DefaultTrust; all: string[] } | undefined;

/**
 * The CAs for a server without `tls.ca`. When the system store holds nothing that Node's
 * default store (bundled roots and NODE_EXTRA_CA_CERTS) lacks, Node's default is used as is;
 * otherwise the union, which every connection of an endpoint shares through one secure context.
 */
export function defaultTrust(env: NodeJS.ProcessEnv = process.env): DefaultTrust {
  const key = [env.SSL_CERT_FILE ?? '', env.SSL_CERT_DIR ?? '', env.NODE_EXTRA_CA_CERTS ?? ''].join('\n');
  if (cached?.key === key) return cached.trust;
  const nodeExtra = env.NODE_EXTRA_CA_CERTS ? pemCertificates(readText(env.NODE_EXTRA_CA_CERTS) ?? '') : [];
  const known = new Set([...rootCertificates, ...nodeExtra].map(body));
  const added: string[] = [];
  for (const pem of systemCertificates(env)) {
    const b = body(pem);
    if (known.has(b)) continue;
    known.add(b);
    if (isCertificate(pem)) added.push(pem);
  }
  const all = [...rootCertificates, ...nodeExtra.filter(isCertificate), ...added];
  const trust: DefaultTrust = added.length === 0 ? { added: 0 } : { ca: all, added: added.length };
  cached = { key, trust, all };
  return trust;
}

/** Every CA of the default trust (Node's roots, NODE_EXTRA_CA_CERTS, the system's): what a server's `tls.ca` adds to. */
export function defaultCertificates(env: NodeJS.ProcessEnv = process.env): string[] {
  defaultTrust(env);
  return cached!.all;
}
