/** validate and schema: the config alone, no network; they load neither undici, openpgp (unless a keyring is named) nor listr2. */
import { loadConfig, type MirrorConfig } from '../config/load.js';
import { configJsonSchema } from '../config/schema.js';
import { loadKeyring } from '../chart/provenance.js';
import { checkSelections } from '../pipeline/selection.js';
import { EXIT } from './exit-codes.js';
import type { GlobalArgs } from './options.js';

/**
 * The config only: schema, references, templates, and the keyrings it names (local files).
 * No network. Prints which targets each source goes to, and under which repository.
 */
export async function validateCommand(args: GlobalArgs): Promise<number> {
  const cfg = await loadConfig(args.config);
  checkSelections(cfg);
  await checkKeyrings(cfg);
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const lines = [`${args.config}: valid (${plural(cfg.sources.length, 'source')}, ${plural(cfg.targets.length, 'target')})`];
  const targets = new Map(cfg.targets.map((t) => [t.name, t]));
  for (const s of cfg.sources) {
    const to = s.targets.map((n) => {
      const t = targets.get(n)!;
      const where = t.kind === 'registry' ? `oci://${t.host}/${t.repository}` : `${t.layoutDir}: ${t.repository}`;
      return `${n} (${where.replaceAll('{source}', s.name)})`;
    });
    lines.push(`  ${s.name} -> ${to.join(', ')}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return EXIT.OK;
}

async function checkKeyrings(cfg: MirrorConfig): Promise<void> {
  const seen = new Set<string>();
  for (const s of cfg.sources) {
    if (s.provenance.mode === 'ignore' || s.provenance.keyring.length === 0) continue;
    const key = JSON.stringify(s.provenance.keyring);
    if (seen.has(key)) continue;
    seen.add(key);
    await loadKeyring(s.provenance.keyring);
  }
}

export function schemaCommand(): number {
  process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
  return EXIT.OK;
}
