import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** True on CI (CI=true or CI=1): a missing binary is then an error, never a silent skip. */
export const IN_CI: boolean = process.env.CI === 'true' || process.env.CI === '1';

/** Debian packages that provide the binaries the tests use, for the error and the notice. */
const DEBIAN_PACKAGES: Record<string, string> = {
  'docker-registry': 'docker-registry',
  nginx: 'nginx-light',
  gpg: 'gpg',
  'gpg-agent': 'gpg-agent',
  gpgconf: 'gpgconf',
  openssl: 'openssl',
  unzip: 'unzip',
  skopeo: 'skopeo',
  umoci: 'umoci',
  'prometheus-pushgateway': 'prometheus-pushgateway',
  promtool: 'prometheus',
  tinyproxy: 'tinyproxy',
};

const found = new Map<string, string | undefined>();
const noticed = new Set<string>();

function lookup(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Path of a binary on PATH, or undefined. When missing: in CI throw an Error naming the binary
 * and the Debian package; otherwise print ONE visible notice to stderr (once per binary) and return undefined.
 */
export function requireBinary(name: string, debianPackage?: string): string | undefined {
  if (!found.has(name)) found.set(name, lookup(name));
  const path = found.get(name);
  if (path) return path;
  const pkg = debianPackage ?? DEBIAN_PACKAGES[name] ?? name;
  const message = `required binary "${name}" not found on PATH (Debian package: ${pkg}; apt-get install -y ${pkg})`;
  if (IN_CI) throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  if (!noticed.has(name)) {
    noticed.add(name);
    process.stderr.write(`\n[chartmirror tests] SKIPPING: ${message}\n`);
  }
  return undefined;
}

/** For use in describe blocks: `describe.skipIf(!haveBinaries('gpg','docker-registry'))(...)` — same CI semantics. */
export function haveBinaries(...names: string[]): boolean {
  let all = true;
  // Check every name (not just up to the first miss) so each missing one gets its notice or CI error.
  for (const name of names) {
    if (!requireBinary(name)) all = false;
  }
  return all;
}
