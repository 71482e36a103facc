/**
 * Helm's chart `Metadata`: decoding (sigs.k8s.io/yaml + Go encoding/json into the struct),
 * `Validate()` (which sanitises strings in place), and the compact `json.Marshal(*Metadata)`
 * that becomes the OCI config blob.
 *
 * Sources: pkg/chart/metadata.go and dependency.go at v3.17.3, pkg/chart/v2/ at v4.1.4 (the
 * same apart from v4 rejecting the names "." and ".."), Go 1.23/1.25 encoding/json.
 */
import { ChartMirrorError } from '../errors.js';
import { compareUtf8, goJsonString, goMarshal } from '../helmcompat/gojson.js';
import { pathBase } from '../helmcompat/gopath.js';
import { goQuote } from '../helmcompat/gostrconv.js';
import { isGoRfc3339 } from '../helmcompat/gotime.js';
import { goIsPrint, goIsSpace } from '../helmcompat/gounicode.js';
import { defineOwn, valueToJson, yamlToJson, JsonNumber, type GoField, type GoType, type JsonValue } from './goyaml.js';
import { isLenientSemver } from './semver.js';

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
  name: 'Maintainer',
  fields: [field('name', STRING), field('email', STRING), field('url', STRING)],
};

const DEPENDENCY: GoType = {
  kind: 'struct',
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
  name: 'Lock',
  fields: [
    field('generated', { kind: 'time' }),
    field('digest', STRING),
    field('dependencies', { kind: 'slice', elem: { kind: 'ptr', elem: DEPENDENCY }, elemSize: PTR_SIZE }),
  ],
};

const VALUES_TYPE: GoType = { kind: 'map', elem: ANY };

function goTypeName(t: GoType): string {
  switch (t.kind) {
    case 'string':
    case 'bool':
      return t.kind;
    case 'any':
      return 'interface {}';
    case 'time':
      return 'time.Time';
    case 'struct':
      return 'chart.' + t.name;
    case 'slice':
      return '[]' + goTypeName(t.elem);
    case 'map':
      return 'map[string]' + goTypeName(t.elem);
    case 'ptr':
      return '*' + goTypeName(t.elem);
  }
}

// ---------------------------------------------------------------------------------------------
// encoding/json decoding into existing Go values

class DecodeError extends Error {}

function jsonKind(j: JsonValue): string {
  if (j === null) return 'null';
  if (typeof j === 'string') return 'string';
  if (typeof j === 'boolean') return 'bool';
  if (j instanceof JsonNumber) return 'number';
  if (Array.isArray(j)) return 'array';
  return 'object';
}

interface Ctx {
  struct?: string;
  path: string[];
}

function typeError(j: JsonValue, t: GoType, ctx: Ctx): never {
  const where = ctx.struct ? `Go struct field ${ctx.struct}.${ctx.path.join('.')}` : 'Go value';
  throw new DecodeError(`json: cannot unmarshal ${jsonKind(j)} into ${where} of type ${goTypeName(t)}`);
}

/** Go 1.21+ encoding/json name folding (foldRune: smallest rune of the SimpleFold orbit), for ASCII field names. */
function jsonFoldEqual(name: string, key: string): boolean {
  let j = 0;
  for (let i = 0; i < name.length; i++) {
    if (j >= key.length) return false;
    const c = key.codePointAt(j)!;
    j += c > 0xffff ? 2 : 1;
    let f: string;
    if (c < 0x80) f = String.fromCharCode(c).toUpperCase();
    else if (c === 0x17f) f = 'S'; // ſ folds with s (smallest rune of its SimpleFold orbit)
    else if (c === 0x212a) f = 'K'; // Kelvin sign folds with k
    else return false; // no other non-ASCII rune folds onto an ASCII letter (not ı, not İ)
    if (f !== name[i].toUpperCase()) return false;
  }
  return j === key.length;
}

function jsonField(t: Extract<GoType, { kind: 'struct' }>, key: string): GoField | undefined {
  return t.fields.find((f) => f.json === key) ?? t.fields.find((f) => jsonFoldEqual(f.json, key));
}

function sortedKeys(m: Map<string, JsonValue>): string[] {
  return [...m.keys()].sort(compareUtf8);
}

/** Hidden capacity and stale elements of a decoded slice (encoding/json reuses them). */
const SLICE_CAP = new WeakMap<unknown[], { cap: number; spare: unknown[] }>();

// Go runtime size classes (bytes), for append growth.
const SIZE_CLASSES = [
  0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896,
  1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288,
  13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
];

/** runtime.growslice capacity for one more element (pointerful element types). */
function grownCap(oldCap: number, elemSize: number): number {
  const newLen = oldCap + 1;
  let newCap: number;
  if (newLen > 2 * oldCap) newCap = newLen;
  else if (oldCap < 256) newCap = 2 * oldCap;
  else {
    newCap = oldCap;
    while (newCap < newLen) newCap += (newCap + 3 * 256) >> 2;
  }
  const size = newCap * elemSize;
  let mem: number;
  if (size <= 32768 - 8) {
    const req = size > 512 ? size + 8 : size; // malloc header for objects with pointers
    mem = SIZE_CLASSES.find((c) => c >= req)! - (req - size);
  } else {
    mem = Math.ceil(size / 8192) * 8192;
  }
  return Math.floor(mem / elemSize);
}

function zeroOf(t: GoType): unknown {
  switch (t.kind) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'struct':
      return {};
    default:
      return null;
  }
}

function jsonToAny(j: JsonValue): unknown {
  if (j === null || typeof j !== 'object') return j;
  if (j instanceof JsonNumber) return Number(j.text); // float64
  if (Array.isArray(j)) return j.map(jsonToAny);
  const o: Record<string, unknown> = {};
  for (const [k, v] of j) defineOwn(o, k, jsonToAny(v));
  return o;
}

function decodeValue(j: JsonValue, t: GoType, cur: unknown, ctx: Ctx): unknown {
  switch (t.kind) {
    case 'string':
      if (j === null) return cur;
      if (typeof j !== 'string') typeError(j, t, ctx);
      return j;
    case 'bool':
      if (j === null) return cur;
      if (typeof j !== 'boolean') typeError(j, t, ctx);
      return j;
    case 'any':
      return jsonToAny(j);
    case 'time':
      if (j === null) return cur;
      if (typeof j !== 'string') throw new DecodeError('Time.UnmarshalJSON: input is not a JSON string');
      if (!isGoRfc3339(j)) throw new DecodeError(`parsing time ${goQuote(j)} as "2006-01-02T15:04:05Z07:00": cannot parse`);
      return j;
    case 'ptr':
      if (j === null) return null;
      return decodeValue(j, t.elem, cur ?? zeroOf(t.elem), ctx);
    case 'struct': {
      if (j === null) return cur;
      if (!(j instanceof Map)) typeError(j, t, ctx);
      const obj = (cur ?? {}) as Record<string, unknown>;
      for (const k of sortedKeys(j)) {
        const f = jsonField(t, k);
        if (!f) continue;
        const sub: Ctx = { struct: t.name, path: [...ctx.path, f.json] };
        obj[f.prop] = decodeValue(j.get(k)!, f.type, obj[f.prop], sub);
      }
      return obj;
    }
    case 'map': {
      if (j === null) return undefined;
      if (!(j instanceof Map)) typeError(j, t, ctx);
      const m = (cur ?? {}) as Record<string, unknown>;
      for (const k of sortedKeys(j)) defineOwn(m, k, decodeValue(j.get(k)!, t.elem, zeroOf(t.elem), ctx));
      return m;
    }
    case 'slice': {
      if (j === null) return undefined;
      if (!Array.isArray(j)) typeError(j, t, ctx);
      return decodeSlice(j, t, cur as unknown[] | undefined, ctx);
    }
  }
}

/**
 * encoding/json into an existing slice: elements are decoded INTO what is already there
 * (pointers are followed, so a second document merges into earlier structs), the length is
 * reset, and capacity left over from before keeps its stale elements.
 */
function decodeSlice(j: JsonValue[], t: Extract<GoType, { kind: 'slice' }>, cur: unknown[] | undefined, ctx: Ctx): unknown[] {
  let len = cur?.length ?? 0;
  const info = cur ? SLICE_CAP.get(cur) : undefined;
  let cap = cur ? (info?.cap ?? cur.length) : 0;
  let backing: unknown[] = cur ? [...cur, ...(info?.spare ?? [])] : [];
  let i = 0;
  for (const e of j) {
    if (i >= cap) {
      const newCap = grownCap(cap, t.elemSize);
      backing = backing.slice(0, len);
      while (backing.length < newCap) backing.push(zeroOf(t.elem));
      cap = newCap;
    }
    if (i >= len) len = i + 1;
    backing[i] = decodeValue(e, t.elem, backing[i], ctx);
    i++;
  }
  if (i < len) len = i;
  const out = i === 0 ? [] : backing.slice(0, len);
  SLICE_CAP.set(out, i === 0 ? { cap: 0, spare: [] } : { cap, spare: backing.slice(len, cap) });
  return out;
}

function chartError(msg: string, cause?: unknown): ChartMirrorError {
  return new ChartMirrorError('CHART', msg.split('\n')[0], cause === undefined ? {} : { cause });
}

/** sigs.k8s.io/yaml Unmarshal into an existing Go value of type `t` (top-level struct/map). */
function unmarshalInto(target: Record<string, unknown>, t: GoType, yamlText: string, what: string, exactBreaks = false): Record<string, unknown> | undefined {
  return jsonInto(target, t, yamlToJson(yamlText, t, `cannot load ${what}`, exactBreaks), what);
}

function jsonInto(target: Record<string, unknown>, t: GoType, j: JsonValue, what: string): Record<string, unknown> | undefined {
  try {
    if (j === null) return t.kind === 'map' ? undefined : target;
    return decodeValue(j, t, target, { path: [] }) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof DecodeError) throw chartError(`cannot load ${what}: error unmarshaling JSON: while decoding JSON: ${e.message}`, e);
    throw e;
  }
}

/**
 * Decode a Chart.yaml (or requirements.yaml) INTO `md` the way Helm's loader does:
 * case-insensitive keys (exact preferred; keys applied in bytewise-sorted order), null leaves
 * strings and bools unchanged and clears slices and maps, maps merge, slices are decoded into
 * their existing elements, numbers/bools become strings for string fields, any type mismatch
 * throws ChartMirrorError('CHART', 'cannot load <what>: ...'). A raw U+2028/U+2029 (a line
 * break to YAML 1.1 whose effect on content we do not reproduce) is refused.
 */
export function decodeInto(md: ChartMetadata, yamlText: string, what: string): void {
  unmarshalInto(md as Record<string, unknown>, METADATA_TYPE, yamlText, what, true);
}

/**
 * decodeInto for a value that is already parsed (an index.yaml entry from parseGoYaml or
 * JSON.parse): plain objects are maps, bigint an int, number a float64.
 */
export function decodeValueInto(md: ChartMetadata, value: unknown, what: string): void {
  jsonInto(md as Record<string, unknown>, METADATA_TYPE, valueToJson(value, METADATA_TYPE, `cannot load ${what}`), what);
}

/** Decode a Chart.lock / requirements.lock as Helm does (only success matters). */
export function checkLockYaml(yamlText: string, what: string): void {
  unmarshalInto({}, LOCK_TYPE, yamlText, what);
}

/**
 * values.yaml must decode into `map[string]interface{}`. Helm 3 reads the first YAML document
 * only; Helm 4 (LoadValues) splits the file on `---` lines (rejecting anything but a comment
 * after them) and decodes every document. A chart must satisfy both to be usable by both.
 */
export function checkValuesYaml(yamlText: string): void {
  const what = 'values.yaml';
  unmarshalInto({}, VALUES_TYPE, yamlText, what);
  for (const doc of splitYamlDocuments(yamlText, what)) unmarshalInto({}, VALUES_TYPE, doc, what);
}

/** k8s.io/apimachinery YAMLReader as Helm 4 uses it. */
function splitYamlDocuments(text: string, what: string): string[] {
  const docs: string[] = [];
  let buf = '';
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '') + '\n';
    if (line.startsWith('---')) {
      const trimmed = line.slice(3).replace(/^[\s\u0085\u00a0]+|[\s\u0085\u00a0]+$/g, '');
      if (trimmed.length > 0 && trimmed[0] !== '#') {
        throw chartError(`cannot load ${what}: error reading yaml document: invalid Yaml document separator: ${trimmed}`);
      }
      if (buf.length) {
        docs.push(buf);
        buf = '';
        continue;
      }
    }
    buf += line;
  }
  if (buf.length) docs.push(buf);
  return docs;
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
