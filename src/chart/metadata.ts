/**
 * Helm's chart `Metadata`: the Go struct types and how the loader decodes Chart.yaml,
 * requirements.yaml, the lock files and values.yaml into them (through sigs.k8s.io/yaml, see
 * src/helmcompat/sigsyaml.ts), `Validate()` (which sanitises strings in place), and the
 * compact `json.Marshal(*Metadata)` that becomes the OCI config blob.
 *
 * Sources: pkg/chart/metadata.go, dependency.go and loader/load.go at v3.17.3, pkg/chart/v2/
 * at v4.1.4 (the same apart from v4 rejecting the names "." and ".." and reading every
 * values.yaml document).
 */
import { ChartMirrorError } from '../errors.js';
import { goJsonString, goMarshal } from '../helmcompat/gojson.js';
import { pathBase } from '../helmcompat/gopath.js';
import { goQuote } from '../helmcompat/gostrconv.js';
import type { GoField, GoType } from '../helmcompat/gotype.js';
import { goIsPrint, goIsSpace } from '../helmcompat/gounicode.js';
import { isLenientSemver } from '../helmcompat/semver.js';
import { unmarshalValue, unmarshalYaml } from '../helmcompat/sigsyaml.js';
import { splitYamlDocuments, YamlReaderError } from '../helmcompat/yamlreader.js';

export interface Maintainer {
  name?: string;
  email?: string;
  url?: string;
}

export interface Dependency {
  name: string;
  version?: string;
  repository: string;
  condition?: string;
  tags?: string[];
  enabled?: boolean;
  importValues?: unknown[];
  alias?: string;
}

export interface ChartMetadata {
  name?: string;
  home?: string;
  sources?: string[];
  version?: string;
  description?: string;
  keywords?: string[];
  maintainers?: (Maintainer | null)[];
  icon?: string;
  apiVersion?: string;
  condition?: string;
  tags?: string;
  appVersion?: string;
  deprecated?: boolean;
  annotations?: Record<string, string>;
  kubeVersion?: string;
  dependencies?: (Dependency | null)[];
  type?: string;
}

// ---------------------------------------------------------------------------------------------
// The Go types (field order = struct order = JSON output order)

const STRING: GoType = { kind: 'string' };
const BOOL: GoType = { kind: 'bool' };
const ANY: GoType = { kind: 'any' };
const PTR_SIZE = 8;
const STRING_SIZE = 16;
const IFACE_SIZE = 16;
const strings = (): GoType => ({ kind: 'slice', elem: STRING, elemSize: STRING_SIZE });
const field = (json: string, type: GoType, prop = json): GoField => ({ json, prop, type });

const MAINTAINER: GoType = {
  kind: 'struct',
  pkg: 'chart',
  name: 'Maintainer',
  fields: [field('name', STRING), field('email', STRING), field('url', STRING)],
};

const DEPENDENCY: GoType = {
  kind: 'struct',
  pkg: 'chart',
  name: 'Dependency',
  fields: [
    field('name', STRING),
    field('version', STRING),
    field('repository', STRING),
    field('condition', STRING),
    field('tags', strings()),
    field('enabled', BOOL),
    field('import-values', { kind: 'slice', elem: ANY, elemSize: IFACE_SIZE }, 'importValues'),
    field('alias', STRING),
  ],
};

export const METADATA_TYPE: GoType = {
  kind: 'struct',
  pkg: 'chart',
  name: 'Metadata',
  fields: [
    field('name', STRING),
    field('home', STRING),
    field('sources', strings()),
    field('version', STRING),
    field('description', STRING),
    field('keywords', strings()),
    field('maintainers', { kind: 'slice', elem: { kind: 'ptr', elem: MAINTAINER }, elemSize: PTR_SIZE }),
    field('icon', STRING),
    field('apiVersion', STRING),
    field('condition', STRING),
    field('tags', STRING),
    field('appVersion', STRING),
    field('deprecated', BOOL),
    field('annotations', { kind: 'map', elem: STRING }),
    field('kubeVersion', STRING),
    field('dependencies', { kind: 'slice', elem: { kind: 'ptr', elem: DEPENDENCY }, elemSize: PTR_SIZE }),
    field('type', STRING),
  ],
};

const LOCK_TYPE: GoType = {
  kind: 'struct',
  pkg: 'chart',
  name: 'Lock',
  fields: [
    field('generated', { kind: 'time' }),
    field('digest', STRING),
    field('dependencies', { kind: 'slice', elem: { kind: 'ptr', elem: DEPENDENCY }, elemSize: PTR_SIZE }),
  ],
};

const VALUES_TYPE: GoType = { kind: 'map', elem: ANY };

function chartError(msg: string, cause?: unknown): ChartMirrorError {
  return new ChartMirrorError('CHART', msg.split('\n')[0], cause === undefined ? {} : { cause });
}

/**
 * Decode a Chart.yaml (or requirements.yaml) INTO `md` the way Helm's loader does:
 * case-insensitive keys (exact preferred; keys applied in bytewise-sorted order), null leaves
 * strings and bools unchanged and clears slices and maps, maps merge, slices are decoded into
 * their existing elements, numbers/bools become strings for string fields, any type mismatch
 * throws ChartMirrorError('CHART', 'cannot load <what>: ...'). `yaml` is the file's bytes (a
 * string is read as UTF-8).
 */
export function decodeInto(md: ChartMetadata, yaml: Uint8Array | string, what: string): void {
  unmarshalYaml(md as Record<string, unknown>, METADATA_TYPE, yaml, `cannot load ${what}`);
}

/**
 * decodeInto for a value that is already parsed (an index.yaml entry from parseGoYaml or
 * JSON.parse): plain objects are maps, bigint an int, number a float64.
 */
export function decodeValueInto(md: ChartMetadata, value: unknown, what: string): void {
  unmarshalValue(md as Record<string, unknown>, METADATA_TYPE, value, `cannot load ${what}`);
}

/** Decode a Chart.lock / requirements.lock as Helm does (only success matters). */
export function checkLockYaml(yaml: Uint8Array | string, what: string): void {
  unmarshalYaml({}, LOCK_TYPE, yaml, `cannot load ${what}`);
}

/**
 * values.yaml must decode into `map[string]interface{}`. Helm 3 reads the first YAML document
 * only; Helm 4 (LoadValues) splits the file on `---` lines (rejecting anything but a comment
 * after them) and decodes every document. A chart must satisfy both to be usable by both.
 */
export function checkValuesYaml(yaml: Uint8Array | string): void {
  const context = 'cannot load values.yaml';
  const bytes = typeof yaml === 'string' ? Buffer.from(yaml, 'utf8') : yaml;
  unmarshalYaml({}, VALUES_TYPE, bytes, context);
  let docs: Uint8Array[];
  try {
    docs = splitYamlDocuments(bytes);
  } catch (e) {
    if (e instanceof YamlReaderError) throw chartError(`${context}: error reading yaml document: ${e.message}`, e);
    throw e;
  }
  for (const doc of docs) unmarshalYaml({}, VALUES_TYPE, doc, context);
}

// ---------------------------------------------------------------------------------------------
// Validate()

/** Helm's sanitizeString: Unicode spaces → ' ', non-printable runes dropped. */
export function sanitizeString(s: string): string {
  let out = '';
  for (const ch of s) {
    let cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // invalid UTF-8 reads as U+FFFD in Go
    if (goIsSpace(cp)) out += ' ';
    else if (goIsPrint(cp)) out += String.fromCodePoint(cp);
  }
  return out;
}

const ALIAS_RE = /^[a-zA-Z0-9_-]+$/;

function invalid(msg: string): never {
  throw chartError(`Chart.yaml: validation: ${msg}`);
}

/**
 * Helm's `Metadata.Validate()`: sanitises name, description, home, icon, condition, tags,
 * appVersion, kubeVersion, each source and keyword, each maintainer's name/email/url and each
 * dependency's name/version/repository/condition/tags (in place, in Helm's order), then checks
 * apiVersion, name, version (lenient semver), type, null entries, aliases and duplicate
 * dependency names. Throws ChartMirrorError('CHART', 'Chart.yaml: validation: ...').
 */
export function validateMetadata(md: ChartMetadata): void {
  const san = (s: string | undefined) => (s === undefined ? undefined : sanitizeString(s));
  md.name = san(md.name);
  md.description = san(md.description);
  md.home = san(md.home);
  md.icon = san(md.icon);
  md.condition = san(md.condition);
  md.tags = san(md.tags);
  md.appVersion = san(md.appVersion);
  md.kubeVersion = san(md.kubeVersion);
  sanitizeAll(md.sources);
  sanitizeAll(md.keywords);

  if (!md.apiVersion) invalid('chart.metadata.apiVersion is required');
  if (!md.name) invalid('chart.metadata.name is required');
  if (md.name === '.' || md.name === '..') invalid(`chart.metadata.name ${goQuote(md.name)} is not allowed`); // Helm 4
  if (md.name !== pathBase(md.name)) invalid(`chart.metadata.name ${goQuote(md.name)} is invalid`);
  if (!md.version) invalid('chart.metadata.version is required');
  if (!isLenientSemver(md.version)) invalid(`chart.metadata.version ${goQuote(md.version)} is invalid`);
  if (md.type && md.type !== 'application' && md.type !== 'library') invalid('chart.metadata.type must be application or library');

  for (const m of md.maintainers ?? []) {
    if (!m) invalid('maintainers must not contain empty or null nodes');
    m.name = san(m.name);
    m.email = san(m.email);
    m.url = san(m.url);
  }
  const seen = new Set<string>();
  for (const d of md.dependencies ?? []) {
    if (!d) invalid('dependencies must not contain empty or null nodes');
    d.name = sanitizeString(d.name ?? '');
    d.version = san(d.version);
    d.repository = sanitizeString(d.repository ?? '');
    d.condition = san(d.condition);
    sanitizeAll(d.tags);
    if (d.alias && !ALIAS_RE.test(d.alias)) invalid(`dependency ${goQuote(d.name)} has disallowed characters in the alias`);
    const key = d.alias ? d.alias : d.name;
    if (seen.has(key)) invalid(`more than one dependency with name or alias ${goQuote(key)}`);
    seen.add(key);
  }
}

function sanitizeAll(list: string[] | undefined): void {
  if (list) for (let i = 0; i < list.length; i++) list[i] = sanitizeString(list[i] ?? '');
}

// ---------------------------------------------------------------------------------------------
// json.Marshal(*Metadata)

function putString(parts: string[], key: string, v: string | undefined): void {
  if (v) parts.push(`${goJsonString(key)}:${goJsonString(v)}`);
}

function putStrings(parts: string[], key: string, v: string[] | undefined): void {
  if (v && v.length) parts.push(`${goJsonString(key)}:[${v.map((s) => goJsonString(s ?? '')).join(',')}]`);
}

function maintainerJson(m: Maintainer | null): string {
  if (!m) return 'null';
  const p: string[] = [];
  putString(p, 'name', m.name);
  putString(p, 'email', m.email);
  putString(p, 'url', m.url);
  return `{${p.join(',')}}`;
}

function dependencyJson(d: Dependency | null): string {
  if (!d) return 'null';
  const p: string[] = [];
  p.push(`"name":${goJsonString(d.name ?? '')}`);
  putString(p, 'version', d.version);
  p.push(`"repository":${goJsonString(d.repository ?? '')}`);
  putString(p, 'condition', d.condition);
  putStrings(p, 'tags', d.tags);
  if (d.enabled) p.push('"enabled":true');
  if (d.importValues && d.importValues.length) p.push(`"import-values":${goMarshal(d.importValues)}`);
  putString(p, 'alias', d.alias);
  return `{${p.join(',')}}`;
}

/**
 * Compact Go `json.Marshal(*Metadata)`: struct field order, every field omitempty
 * (deprecated only when true, empty slices and maps left out), Maintainer fields omitempty,
 * Dependency `name` and `repository` always present, HTML-safe escaping, map keys sorted by
 * UTF-8 bytes, import-values numbers as float64.
 */
export function configJson(md: ChartMetadata): string {
  const p: string[] = [];
  putString(p, 'name', md.name);
  putString(p, 'home', md.home);
  putStrings(p, 'sources', md.sources);
  putString(p, 'version', md.version);
  putString(p, 'description', md.description);
  putStrings(p, 'keywords', md.keywords);
  if (md.maintainers && md.maintainers.length) p.push(`"maintainers":[${md.maintainers.map(maintainerJson).join(',')}]`);
  putString(p, 'icon', md.icon);
  putString(p, 'apiVersion', md.apiVersion);
  putString(p, 'condition', md.condition);
  putString(p, 'tags', md.tags);
  putString(p, 'appVersion', md.appVersion);
  if (md.deprecated) p.push('"deprecated":true');
  if (md.annotations && Object.keys(md.annotations).length) p.push(`"annotations":${goMarshal(md.annotations)}`);
  putString(p, 'kubeVersion', md.kubeVersion);
  if (md.dependencies && md.dependencies.length) p.push(`"dependencies":[${md.dependencies.map(dependencyJson).join(',')}]`);
  putString(p, 'type', md.type);
  return `{${p.join(',')}}`;
}
