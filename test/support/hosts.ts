import { readFileSync } from 'node:fs';
import { IN_CI } from './bins.js';

/**
 * Host names for servers that must not look like loopback to a proxy decision (Go's rule, and
 * chartmirror's, never proxies `localhost` or a loopback IP): each is a loopback address other
 * than 127.0.0.1 under a name of the reserved `.test` domain, from /etc/hosts. `bash .ci/run`
 * adds the entries when they are missing (and removes what it added afterwards).
 */
export const TEST_HOSTS = {
  charts: { name: 'charts.chartmirror.test', address: '127.0.0.2' },
  registry: { name: 'registry.chartmirror.test', address: '127.0.0.3' },
} as const;

const HOSTS_FILE = '/etc/hosts';

/** The addresses /etc/hosts gives each name (first entry wins, as the resolver reads it). */
function readHosts(): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = readFileSync(HOSTS_FILE, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!address) continue;
    for (const n of names) if (!out.has(n.toLowerCase())) out.set(n.toLowerCase(), address);
  }
  return out;
}

let noticed = false;

/**
 * For `describe.skipIf(!haveTestHosts())`: true when /etc/hosts maps every TEST_HOSTS name to its
 * address. When not: a visible notice and a skip locally, an error with CI=true (as haveBinaries).
 */
export function haveTestHosts(): boolean {
  const hosts = readHosts();
  const missing = Object.values(TEST_HOSTS).filter((h) => hosts.get(h.name) !== h.address);
  if (missing.length === 0) return true;
  const lines = missing.map((h) => `${h.address} ${h.name}`).join('\\n');
  const message = `${HOSTS_FILE} lacks ${missing.map((h) => `"${h.address} ${h.name}"`).join(' and ')} (add them: printf '${lines}\\n' | sudo tee -a ${HOSTS_FILE}; bash .ci/run does)`;
  if (IN_CI) throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  if (!noticed) {
    noticed = true;
    process.stderr.write(`\n[chartmirror tests] SKIPPING: ${message}\n`);
  }
  return false;
}
