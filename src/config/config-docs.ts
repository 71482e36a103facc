/**
 * docs/configuration.md, rendered from the zod schema (`npm run docs` writes it; a test fails when
 * the committed file is out of date). Keys, types, required-ness and constraints come from the
 * schema; descriptions and defaults from its `.describe()` strings, whose last sentence states the
 * default ("Default 15s."). Imports nothing but zod and the schema: no pipeline, no I/O.
 */
import type { z } from 'zod';
import { ChartOverrideSchema, ChartsSchema, ConfigSchema, Duration, Size, TlsSchema, VerifySchema, configJsonSchema } from './schema.js';

type Schema = z.ZodType;

/** The parts of a zod 4 definition the renderer reads. */
interface Def {
  type: string;
  innerType?: Schema;
  element?: Schema;
  options?: Schema[];
  shape?: Record<string, Schema>;
  entries?: Record<string, string>;
  values?: unknown[];
  valueType?: Schema;
  checks?: { _zod: { def: CheckDef } }[];
}

interface CheckDef {
  check: string;
  format?: string;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
}

function def(s: Schema): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** Section titles for objects used at several paths (otherwise the title is the first path). */
const SECTION_TITLES = new Map<Schema, string>([
  [TlsSchema, 'tls'],
  [VerifySchema, 'verify'],
  [ChartsSchema, 'charts'],
  [ChartOverrideSchema, 'charts.overrides.<chart>'],
]);

/** Hand-written notes under a section's description: rules the schema alone cannot show. */
const SECTION_NOTES: Record<string, string> = {
  'targets[]': 'Give exactly one of `url` (a registry) or `layout` (a directory).',
  'targets[].auth': 'One kind of credential per target: `username` and `password`, `token`, or `identityToken`. See [registries.md](registries.md#where-credentials-come-from).',
  verify: 'A source\'s `verify` is merged key by key over the top-level one. `verify` and `require` need a keyring. See [fidelity.md](fidelity.md#provenance).',
  charts: 'A source\'s `charts` replaces the top-level one as a whole. See [selection.md](selection.md).',
  'charts.overrides.<chart>': 'What an override leaves out comes from the source (or the top level).',
  tls: 'See [registries.md](registries.md#tls-and-plain-http).',
};

/** The name of a record's keys, by the key that holds the record. */
const RECORD_KEYS: Record<string, string> = { overrides: 'chart' };

const VALUE_TYPES = [
  { name: 'duration', anchor: 'value-types', note: '' },
  { name: 'size', anchor: 'value-types', note: ' `K`, `M`, `G` and `T` (with or without `i` and `B`) are powers of 1024.' },
  { name: 'date', anchor: 'value-types', note: ' A bare date is midnight UTC.' },
] as const;
type ValueType = (typeof VALUE_TYPES)[number]['name'];

const INTRO = `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npm run docs\`; do not edit by hand (a test compares). -->

\`chartmirror\` reads \`mirror.config.yaml\` (or the file given with \`--config\`). The
[README](../README.md#configuration) has an annotated example; this page lists every key.

- The file is YAML. \`\${VAR}\` in any string is replaced from the environment (an unset variable
  is a config error that names it); \`$$\` is a literal \`$\`.
- Relative paths are relative to the config file.
- Unknown keys are errors, with a suggestion (\`unknown key (did you mean "plainHttp"?)\`). Every
  problem is one line naming the key, exit code 2, before any work.
- \`chartmirror validate\` checks a config without touching the network. \`chartmirror schema\`
  prints its JSON Schema, committed as
  [\`schema/mirror.config.schema.json\`](../schema/mirror.config.schema.json): editors with the YAML
  language server complete and check the file when it starts with
  \`# yaml-language-server: $schema=./schema/mirror.config.schema.json\`.
- The selection keys (\`charts\`, \`versions\`, \`latest\`, \`since\`, \`until\`, \`prereleases\`,
  \`deprecated\`) go at the top level, as the default for every source, or on a source, where
  each replaces the top-level key of the same name. How they combine: [selection.md](selection.md).

In the tables, *required* means the key must be given, and — that it is not set unless given
(the description says what that means).`;

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

interface Section {
  schema: Schema;
  title: string;
  paths: string[];
  description: string;
  rows: Row[];
}

/** docs/configuration.md. Throws when a key has no description (add `.describe()` in schema.ts). */
export function renderConfigDocs(): string {
  const r = new Renderer();
  r.visit(ConfigSchema, '', 'The keys at the top of the file.');
  const out: string[] = [INTRO, '', '## Contents', ''];
  for (const s of r.sections) out.push(`- [${s.title === '' ? 'Top level' : `\`${s.title}\``}](#${slug(heading(s))})`);
  if (r.valueTypes.size) out.push('- [Value types](#value-types)');
  for (const s of r.sections) {
    out.push('', `## ${s.title === '' ? 'Top level' : `\`${s.title}\``}`, '', markdownText(s.description));
    if (s.paths.length > 1) {
      const paths = [...s.paths].sort((a, b) => a.split('.').length - b.split('.').length);
      out.push('', `Used at ${paths.map((p) => `\`${p}\``).join(' and ')}.`);
    }
    const note = SECTION_NOTES[s.title];
    if (note) out.push('', note);
    out.push('', '| key | type | default | description |', '| --- | --- | --- | --- |');
    for (const row of s.rows) out.push(`| \`${row.key}\` | ${row.type} | ${row.default} | ${row.description} |`);
  }
  if (r.valueTypes.size) {
    out.push('', '## Value types', '');
    for (const v of VALUE_TYPES) {
      const d = r.valueTypes.get(v.name);
      if (d !== undefined) out.push(`- **${v.name}**: ${markdownText(d)}${v.note}`);
    }
  }
  return out.join('\n') + '\n';
}

/** `chartmirror schema`'s output, as committed in schema/mirror.config.schema.json. */
export function renderConfigJsonSchema(): string {
  return JSON.stringify(configJsonSchema(), null, 2) + '\n';
}

function heading(s: Section): string {
  return s.title === '' ? 'Top level' : s.title;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

class Renderer {
  readonly sections: Section[] = [];
  readonly valueTypes = new Map<ValueType, string>();
  private readonly bySchema = new Map<Schema, Section>();

  /** One section per object schema, children right after their parent (depth first). */
  visit(obj: Schema, path: string, description: string): void {
    const seen = this.bySchema.get(obj);
    if (seen) {
      seen.paths.push(path);
      return;
    }
    const section: Section = { schema: obj, title: SECTION_TITLES.get(obj) ?? path, paths: [path], description, rows: [] };
    this.bySchema.set(obj, section);
    this.sections.push(section);
    const children: [Schema, string, string][] = [];
    for (const [key, field] of Object.entries(def(obj).shape ?? {})) {
      const childPath = path ? `${path}.${key}` : key;
      const { inner, optional, description: own } = unwrap(field);
      const text = this.describe(childPath, own);
      const { description: rest, value } = splitDefault(text, def(inner).entries);
      section.rows.push({
        key,
        type: this.typeText(inner, childPath, key, children, text),
        default: optional ? (value === undefined ? '—' : renderDefault(value, def(inner).entries)) : 'required',
        description: markdownText(rest),
      });
    }
    for (const [child, childPath, childDescription] of children) this.visit(child, childPath, childDescription);
  }

  /** The schema's description; every key has one (it is where each default is stated). */
  private describe(path: string, own: string | undefined): string {
    if (own === undefined) throw new Error(`config-docs: ${path} has no description; add .describe() to it in src/config/schema.ts`);
    return own;
  }

  private link(obj: Schema, path: string, text: string): string {
    const title = this.bySchema.get(obj)?.title ?? SECTION_TITLES.get(obj) ?? path;
    return `[${text}](#${slug(title)})`;
  }

  private typeText(s: Schema, path: string, key: string, children: [Schema, string, string][], description: string): string {
    if (s === Duration || s === Size) return this.valueType(s === Duration ? 'duration' : 'size', s.description ?? '');
    const d = def(s);
    switch (d.type) {
      case 'string':
        return 'string';
      case 'boolean':
        return 'boolean';
      case 'date':
        return this.valueType('date', s.description ?? '');
      case 'number':
        return numberText(d);
      case 'enum':
        return `one of ${Object.values(d.entries ?? {}).map((v) => `\`${v}\``).join(', ')}`;
      case 'literal':
        return (d.values ?? []).map((v) => `\`${JSON.stringify(v)}\``).join(' or ');
      case 'object':
        children.push([s, path, description]);
        return this.link(s, path, 'object');
      case 'array': {
        const el = unwrap(d.element!).inner;
        const min = d.checks?.find((c) => c._zod.def.check === 'min_length')?._zod.def.minimum;
        const atLeast = min ? ` (at least ${min === 1 ? 'one' : min})` : '';
        if (def(el).type === 'object') {
          children.push([el, `${path}[]`, description]);
          return `list of ${this.link(el, `${path}[]`, 'objects')}${atLeast}`;
        }
        return `list of ${plural(this.typeText(el, `${path}[]`, key, children, description))}${atLeast}`;
      }
      case 'record': {
        const name = RECORD_KEYS[key] ?? 'name';
        const value = unwrap(d.valueType!).inner;
        const valuePath = `${path}.<${name}>`;
        if (def(value).type === 'object') children.push([value, valuePath, description]);
        return `map: ${name} → ${def(value).type === 'object' ? this.link(value, valuePath, 'object') : this.typeText(value, valuePath, key, children, description)}`;
      }
      case 'union': {
        const types = (d.options ?? []).map((o) => def(o).type);
        if (types.length === 2 && types.includes('date') && types.includes('string')) return this.valueType('date', s.description ?? '');
        return (d.options ?? []).map((o) => this.typeText(unwrap(o).inner, path, key, children, description)).join(' or ');
      }
      default:
        throw new Error(`config-docs: no way to show the type of ${path} (${d.type})`);
    }
  }

  private valueType(name: ValueType, description: string): string {
    if (!this.valueTypes.has(name)) this.valueTypes.set(name, description);
    return `[${name}](#value-types)`;
  }
}

function unwrap(s: Schema): { inner: Schema; optional: boolean; description: string | undefined } {
  let cur = s;
  let optional = false;
  let description = s.description;
  for (let d = def(cur); d.type === 'optional' || d.type === 'default' || d.type === 'nullable'; d = def(cur)) {
    if (d.type !== 'nullable') optional = true;
    cur = d.innerType!;
    description ??= cur.description;
  }
  return { inner: cur, optional, description };
}

function numberText(d: Def): string {
  let int = false;
  let min: number | undefined;
  let minIncl = true;
  let max: number | undefined;
  let maxIncl = true;
  for (const { _zod } of d.checks ?? []) {
    const c = _zod.def;
    if (c.check === 'number_format' && /int/.test(c.format ?? '')) int = true;
    if (c.check === 'greater_than') [min, minIncl] = [c.value, c.inclusive ?? false];
    if (c.check === 'less_than') [max, maxIncl] = [c.value, c.inclusive ?? false];
  }
  if (int && min !== undefined && !minIncl) [min, minIncl] = [Math.floor(min) + 1, true];
  if (int && max !== undefined && !maxIncl) [max, maxIncl] = [Math.ceil(max) - 1, true];
  const base = int ? 'integer' : 'number';
  if (min !== undefined && max !== undefined && minIncl && maxIncl) return `${base}, ${min} to ${max}`;
  const lower = min === undefined ? '' : ` ${minIncl ? '≥' : '>'} ${min}`;
  const upper = max === undefined ? '' : `${lower ? ',' : ''} ${maxIncl ? '≤' : '<'} ${max}`;
  return `${base}${lower}${upper}`;
}

function plural(type: string): string {
  return type === 'string' ? 'strings' : type === 'boolean' ? 'booleans' : type;
}

/**
 * The default a description states, and the description without it: the last sentence when it
 * starts with "Default" ("Default 15s.", "Default: every target.", "Default true: because …"), or
 * the enum value marked "(default)" ("fail the item (default) or overwrite it").
 */
function splitDefault(text: string, entries: Record<string, string> | undefined): { description: string; value?: string } {
  const m = /(^|\.\s+)Default\b:?\s*(.*?)\.?$/.exec(text);
  if (m) {
    const before = text.slice(0, m.index + (m[1] ? 1 : 0)).trim();
    let value = m[2]!;
    let aside = '';
    const colon = /^(\S+): (.+)$/.exec(value);
    if (colon) [value, aside] = [colon[1]!, colon[2]!];
    const description = [before, aside ? `${aside.charAt(0).toUpperCase()}${aside.slice(1)}.` : ''].filter(Boolean).join(' ');
    return { description, value };
  }
  const at = text.indexOf('(default)');
  if (at >= 0 && entries) {
    const marked = Object.values(entries)
      .map((v) => ({ v, i: text.lastIndexOf(v, at) }))
      .filter((x) => x.i >= 0)
      .sort((a, b) => b.i - a.i)[0];
    if (marked) return { description: text, value: marked.v };
  }
  return { description: text };
}

/** A default for the table: literal values in code, prose as prose. */
function renderDefault(value: string, entries: Record<string, string> | undefined): string {
  const enumValues = new Set(Object.values(entries ?? {}));
  const codeLike = (t: string) => /^(true|false)$/.test(t) || /^\d/.test(t) || enumValues.has(t) || /[./{}<>_]/.test(t);
  const paren = /^([^(]+?) \((.+)\)$/.exec(value);
  if (paren) {
    const head = paren[1]!;
    return `${head.split(' ').some(codeLike) ? `\`${head}\`` : markdownText(head)} (${markdownText(paren[2]!)})`;
  }
  return value
    .split(' ')
    .map((word) => {
      const [, token, punct] = /^(.*?)([,;]?)$/.exec(word)!;
      return codeLike(token!) ? `\`${token}\`${punct}` : markdownText(word);
    })
    .join(' ');
}

/** Text for a Markdown table cell: `|`, `<` and `>` escaped outside code spans. */
function markdownText(text: string): string {
  return text
    .split('`')
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`')
    .replace(/\n/g, ' ');
}
