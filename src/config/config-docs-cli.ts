/**
 * `npm run docs`: write every generated file: docs/configuration.md and
 * schema/mirror.config.schema.json from the config schema, schema/report.schema.json from the
 * report schema. Run from dist/ after a build; paths are relative to this file, so any cwd works.
 */
import { writeFile } from 'node:fs/promises';
import { reportJsonSchema } from '../report/report-schema.js';
import { renderConfigDocs, renderConfigJsonSchema } from './config-docs.js';

const root = new URL('../../', import.meta.url);
const outputs: [string, string][] = [
  ['docs/configuration.md', renderConfigDocs()],
  ['schema/mirror.config.schema.json', renderConfigJsonSchema()],
  ['schema/report.schema.json', JSON.stringify(reportJsonSchema(), null, 2) + '\n'],
];
for (const [file, text] of outputs) {
  await writeFile(new URL(file, root), text);
  process.stdout.write(`wrote ${file}\n`);
}
