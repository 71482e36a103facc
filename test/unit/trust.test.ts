/**
 * The system trust store as Go reads it on Linux (crypto/x509 root_unix.go): SSL_CERT_FILE alone
 * when set, every file of every SSL_CERT_DIR directory, same-directory symlinks skipped; and what
 * that adds to Node's own default store.
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultTrust, pemCertificates, systemCertificates } from '../../src/http/trust.js';
import { haveBinaries } from '../support/bins.js';
import { makeCA } from '../support/pki.js';
import { tmpDir } from '../support/tmp.js';

describe.skipIf(!haveBinaries('openssl'))('the system trust store', () => {
  let dir: string;
  const pem: Record<'a' | 'b' | 'c' | 'd', string> = { a: '', b: '', c: '', d: '' };
  let fileA: string;
  let dirB: string;
  let dirC: string;

  beforeAll(async () => {
    dir = await tmpDir('trust-');
    for (const n of ['a', 'b', 'c', 'd'] as const) pem[n] = await readFile((await makeCA(join(dir, `ca-${n}`), `trust-${n}`)).certFile, 'utf8');
    fileA = join(dir, 'bundle-a.pem');
    await writeFile(fileA, `# a comment Go ignores\n${pem.a}`);
    dirB = join(dir, 'certs-b');
    dirC = join(dir, 'certs-c');
    await mkdir(dirB);
    await mkdir(dirC);
    await writeFile(join(dirB, 'b.pem'), pem.b);
    // OpenSSL's hash link to a file of the same directory: a duplicate, skipped.
    await symlink('b.pem', join(dirB, 'deadbeef.0'));
    // A link out of the directory (as Debian's /etc/ssl/certs/*.pem are): read.
    await writeFile(join(dir, 'c-elsewhere.crt'), pem.c);
    await symlink(join(dir, 'c-elsewhere.crt'), join(dirC, 'c.pem'));
    await writeFile(join(dirC, 'README'), 'not a certificate\n');
    await writeFile(join(dirC, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
  });

  const bodies = (pems: string[]) => pems.map((p) => p.replace(/\s+/g, ''));

  it('reads SSL_CERT_FILE and every SSL_CERT_DIR directory, skipping same-directory links', () => {
    const got = systemCertificates({ SSL_CERT_FILE: fileA, SSL_CERT_DIR: `${dirB}:${dirC}` });
    expect(bodies(got.filter((p) => !p.includes('bm90IGEgY2VydGlmaWNhdGU')))).toEqual(bodies([pem.a, pem.b, pem.c]));
    // The block that is no certificate is read as Go reads PEM, and dropped later (defaultTrust).
    expect(got).toHaveLength(4);
  });

  it('SSL_CERT_FILE that cannot be read gives no bundle: the default files are not tried instead', () => {
    expect(systemCertificates({ SSL_CERT_FILE: join(dir, 'missing.pem'), SSL_CERT_DIR: dirB }).map((p) => p.replace(/\s+/g, ''))).toEqual(bodies([pem.b]));
  });

  it("adds only what Node's default store lacks, and nothing when it lacks nothing", async () => {
    const extra = join(dir, 'node-extra.pem');
    await writeFile(extra, pem.a);
    const t = defaultTrust({ SSL_CERT_FILE: fileA, SSL_CERT_DIR: `${dirB}:${dirC}`, NODE_EXTRA_CA_CERTS: extra });
    // b and c are new; a is in NODE_EXTRA_CA_CERTS already; the broken block is no certificate.
    expect(t.added).toBe(2);
    expect(t.ca).toHaveLength(rootCertificates.length + 1 + 2);
    expect(bodies(t.ca!.slice(-3))).toEqual(bodies([pem.a, pem.b, pem.c]));
    // A root Node already has, alone in a bundle: nothing to add, Node's default store as is.
    const onlyKnown = join(dir, 'known.pem');
    await writeFile(onlyKnown, rootCertificates[0]!);
    expect(defaultTrust({ SSL_CERT_FILE: onlyKnown, SSL_CERT_DIR: join(dir, 'no-such-dir') })).toEqual({ added: 0 });
  });

  it('takes CERTIFICATE blocks only', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
    expect(pemCertificates(`${key}${pem.d}${key}`).map((p) => p.replace(/\s+/g, ''))).toEqual(bodies([pem.d]));
  });
});
