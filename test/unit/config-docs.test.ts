import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs, renderConfigJsonSchema } from '../../src/config/config-docs.js';

const root = new URL('../../', import.meta.url);
const read = (file: string) => readFile(new URL(file, root), 'utf8');

/** Module specifiers a source file imports (static imports and re-exports). */
async function importsOf(file: string): Promise<string[]> {
  const text = await read(file);
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('generated configuration docs', () => {
  it('docs/configuration.md is what the schema renders (else: run `npm run docs`)', async () => {
    expect(await read('docs/configuration.md'), 'docs/configuration.md is out of date: run `npm run docs`').toBe(renderConfigDocs());
  });

  it('schema/mirror.config.schema.json is what `chartmirror schema` prints (else: run `npm run docs`)', async () => {
    expect(await read('schema/mirror.config.schema.json'), 'schema/mirror.config.schema.json is out of date: run `npm run docs`').toBe(
      renderConfigJsonSchema(),
    );
  });

  it('the renderer pulls in nothing but zod, the schema and the defaults it states', async () => {
    expect(await importsOf('src/config/config-docs.ts')).toEqual(['zod', './schema.js']);
    expect(await importsOf('src/config/schema.ts')).toEqual(['zod', '../defaults.js']);
    expect(await importsOf('src/defaults.ts')).toEqual([]);
  });

  it('documents every key with a type, a default column and a description', () => {
    const rows = renderConfigDocs()
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(50);
    for (const row of rows) {
      const cells = row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
      expect(cells, row).toHaveLength(4);
      for (const c of cells) expect(c, row).not.toBe('');
    }
    for (const key of ['plainHttp', 'chunkSize', 'maxRetryAfter', 'insecureSkipVerify', 'trustedRealmHosts', 'overrides', 'passCredentials']) {
      expect(rows.some((r) => r.startsWith(`| \`${key}\` |`)), key).toBe(true);
    }
  });
});
