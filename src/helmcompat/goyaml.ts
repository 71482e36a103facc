/**
 * gopkg.in/yaml.v2 `Unmarshal(text, &interface{})`, the YAML 1.1 reader under Helm's
 * sigs.k8s.io/yaml: v2.4.0 as forked into sigs.k8s.io/yaml/goyaml.v2 (sigs.k8s.io/yaml v1.4.0,
 * Helm 3.17.3) and go.yaml.in/yaml/v2 v2.4.3 (sigs.k8s.io/yaml v1.6.0, Helm 4.1.4). Mirrored:
 * decode.go (aliases, merges, excessive-aliasing limits, "last key wins"), resolve.go (plain
 * scalar resolution, YAML 1.1 booleans, timestamps), and what libyaml's readerc.go and
 * scannerc.go refuse (control characters, YAML 1.1's escapes, `%YAML` other than 1.1).
 *
 * js-yaml only does the syntax. Its `listener` hook wraps every scalar in a `GoScalar` that
 * remembers its style and tag, and every alias in an `AliasRef`; wrappers stringify to unique
 * ids so mapping keys never collide inside js-yaml. The wrapped tree is then decoded with
 * goyaml v2's own rules: `resolve()` for plain scalars, document-order "last key wins"
 * (including `<<` merges, which v2 applies in place), timestamps kept as strings, int64/uint64
 * exact (bigint), the alias-expansion limits, and the decode errors v2 raises.
 */
import yaml from 'js-yaml';
import { ChartMirrorError } from '../errors.js';
import { goParseFloat, goParseInt0, goParseUint0, parseDigits } from './gostrconv.js';
import { daysIn } from './gotime.js';

// ---------------------------------------------------------------------------------------------
// Values

/**
 * A decoded goyaml value (`interface{}`): null, bool, string, int (bigint; int64 or, above
 * 2^63-1, uint64), float64 (number), a sequence, or a map with typed keys.
 */
export type GoValue = null | boolean | string | bigint | number | GoValue[] | GoMap;
export type GoKey = null | boolean | string | bigint | number;

/** goyaml's `map[interface{}]interface{}`: insertion-ordered, keyed by Go interface equality. */
export class GoMap {
  readonly entries = new Map<string, [GoKey, GoValue]>();
  set(k: GoKey, v: GoValue): void {
    this.entries.set(keyIdentity(k), [k, v]);
  }
}

function keyIdentity(k: GoKey): string {
  if (k === null) return 'n';
  switch (typeof k) {
    case 'string':
      return 's' + k;
    case 'bigint':
      return 'i' + k.toString();
    case 'number':
      return 'f' + String(k); // -0 and 0 are one key in Go too
    default:
      return 'b' + String(k);
  }
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

export const YAML_TAG = 'tag:yaml.org,2002:';
const STR = YAML_TAG + 'str';
const BOOL = YAML_TAG + 'bool';
const INT = YAML_TAG + 'int';
const FLOAT = YAML_TAG + 'float';
const NULL = YAML_TAG + 'null';
const TIMESTAMP = YAML_TAG + 'timestamp';
const BINARY = YAML_TAG + 'binary';
const MERGE = YAML_TAG + 'merge';

/** A goyaml (or sigs.k8s.io/yaml) error; the message is Go's, `yaml: ...`. */
export class YamlError extends Error {}

function fail(msg: string): never {
  throw new YamlError('yaml: ' + msg);
}

function shortTag(tag: string): string {
  return tag.startsWith(YAML_TAG) ? '!!' + tag.slice(YAML_TAG.length) : tag;
}

// ---------------------------------------------------------------------------------------------
// js-yaml pass: syntax only, every scalar and alias wrapped

class GoScalar {
  id = -1;
  /** `?` plain, `null` quoted or block, `!` non-specific, else the explicit (long) tag. */
  constructor(
    readonly value: string,
    readonly tag: string | null,
  ) {}
  get [Symbol.toStringTag](): string {
    return 'GoScalar';
  }
  toString(): string {
    return String(this.id);
  }
}

class AliasRef {
  id = -1;
  constructor(readonly target: unknown) {}
  get [Symbol.toStringTag](): string {
    return 'GoAlias';
  }
  toString(): string {
    return String(this.id);
  }
}

// Tags are interpreted by the decoder below, never by js-yaml: accept any tag on any node.
const anyTag = (kind: 'scalar' | 'sequence' | 'mapping') =>
  new yaml.Type('', { kind, multi: true, construct: (data: unknown) => (kind === 'scalar' ? (data ?? '') : data) });
const SCHEMA = new yaml.Schema({ explicit: [anyTag('scalar'), anyTag('sequence'), anyTag('mapping')] });

/**
 * Every wrapper of one parse, by id. Keys stringify to their id: integer-like property names
 * keep js-yaml's objects fast (no hidden class per object) and iterate in ascending order,
 * which is document order since ids are handed out as nodes close.
 */
class Registry {
  private readonly items: Array<GoScalar | AliasRef> = [];
  add(w: GoScalar | AliasRef): void {
    w.id = this.items.length;
    this.items.push(w);
  }
  get(key: string): GoScalar | AliasRef | undefined {
    const w = /^(?:0|[1-9][0-9]*)$/.test(key) ? this.items[Number(key)] : undefined;
    return w && String(w) === key ? w : undefined;
  }
}

interface ListenerState {
  input: string;
  position: number;
  result: unknown;
  kind: string | null;
  tag: string | null;
  anchor: string | null;
  anchorMap: Record<string, unknown>;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;
const MERGE_MARKER = '!chartmirror-merge';

/**
 * js-yaml stringifies a sequence key by joining its elements, so `? [a]` would look like the
 * key `a`: remember which wrappers are sequence elements, they can never be keys themselves.
 */
const IN_SEQUENCE = Symbol('inSequence');

function listener(registry: Registry) {
  const starts: number[] = [];
  return (event: string, state: ListenerState): void => {
    if (event === 'open') {
      starts.push(state.position);
      return;
    }
    const start = starts.pop() ?? 0;
    const r = state.result;
    if (typeof r === 'string' && state.kind === 'scalar') checkDoubleQuoted(state.input, start, state.position);
    if (Array.isArray(r)) {
      for (const x of r) if (x instanceof GoScalar || x instanceof AliasRef) (x as unknown as Record<symbol, boolean>)[IN_SEQUENCE] = true;
    }
    let wrapped: GoScalar | AliasRef | undefined;
    if (typeof r === 'string') {
      if (LONE_SURROGATE.test(r)) fail('found invalid Unicode character escape code');
      wrapped = new GoScalar(r, state.tag);
      if (state.tag === MERGE) state.tag = MERGE_MARKER; // keep js-yaml from merging itself
    } else if (r === null) {
      // An empty node: null unless it carries an explicit or non-specific tag.
      if (state.tag !== null && state.tag !== '?') wrapped = new GoScalar('', state.tag);
    } else if (state.kind === null) {
      wrapped = new AliasRef(r instanceof AliasRef ? r.target : r);
    }
    if (!wrapped) return;
    registry.add(wrapped);
    state.result = wrapped;
    if (state.anchor !== null && wrapped instanceof GoScalar) state.anchorMap[state.anchor] = wrapped;
  };
}

/**
 * libyaml's double-quoted escapes are YAML 1.1's: no `\/` (js-yaml takes it), `\'` allowed
 * (js-yaml refuses it, see firstDocument), and no surrogate code points from \u or \U (js-yaml
 * pairs them). The scalar's raw text runs from the first `"` after the node start to `end`.
 */
function checkDoubleQuoted(input: string, start: number, end: number): void {
  let i = start;
  for (;;) {
    const c = input[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
    else if (c === '#') while (i < end && input[i] !== '\n') i++;
    else if (c === '!' || c === '&') while (i < end && !/[\s,\[\]{}]/.test(input[i])) i++;
    else break;
    if (i >= end) return;
  }
  if (input[i] !== '"') return;
  for (let j = i + 1; j < end - 1; j++) {
    if (input[j] !== '\\') continue;
    const e = input[j + 1];
    if (e === '/') fail('found unknown escape character');
    const hex = e === 'u' ? 4 : e === 'U' ? 8 : e === 'x' ? 2 : 0;
    if (hex) {
      const v = parseInt(input.slice(j + 2, j + 2 + hex), 16);
      if (e !== 'x' && ((v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)) fail('found invalid Unicode character escape code');
    }
    j += 1 + hex;
  }
}

/** libyaml's reader: only these characters may appear in a YAML stream. */
const NOT_ALLOWED = /[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

/** goyaml v2 (old libyaml) accepts only `%YAML 1.1` among version directives. */
function checkDirectives(text: string): void {
  for (let pos = 0; pos < text.length; ) {
    const nl = text.indexOf('\n', pos);
    const line = text.slice(pos, nl < 0 ? text.length : nl);
    pos = nl < 0 ? text.length : nl + 1;
    if (/^\s*$/.test(line) || line.startsWith('#')) continue;
    if (!line.startsWith('%')) return;
    const m = /^%YAML[ \t]+(\d+)\.(\d+)/.exec(line);
    if (m && (m[1] !== '1' || m[2] !== '1')) fail('found incompatible YAML document');
  }
}

/** Only the first document counts, as in goyaml's Unmarshal. */
function firstDocument(input: string, registry: Registry): unknown {
  if (NOT_ALLOWED.test(input)) fail('control characters are not allowed');
  checkDirectives(input);
  let text = input.replace(/^\ufeff/, '');
  for (let attempt = 0; ; attempt++) {
    const r = loadFirst(text, registry);
    if (!(r instanceof EscapedQuote)) return r.value;
    // libyaml takes `\'` in double-quoted scalars (a plain quote); js-yaml refuses it.
    if (attempt >= 10000) fail('too many escaped quotes');
    text = text.slice(0, r.pos - 1) + text.slice(r.pos);
  }
}

class EscapedQuote {
  constructor(readonly pos: number) {}
}

function loadDocs(text: string, registry: Registry): { value: unknown } {
  const opts = { schema: SCHEMA, json: true, listener: listener(registry) } as unknown as yaml.LoadOptions;
  const docs = yaml.loadAll(text, undefined, opts) as unknown[];
  return { value: docs.length ? docs[0] : null };
}

function loadFirst(text: string, registry: Registry): { value: unknown } | EscapedQuote {
  try {
    return loadDocs(text, registry);
  } catch (e) {
    if (!(e instanceof yaml.YAMLException)) throw e;
    const pos = e.mark?.position ?? -1;
    if (e.reason === 'unknown escape sequence' && text[pos] === "'" && text[pos - 1] === '\\') return new EscapedQuote(pos);
    // goyaml never parses past the first document: retry on the text before the marker that
    // ends it (a `---` after content or after the opening `---`, or any `...`).
    const re = /^(?:---|\.\.\.)(?=[ \t\r\n]|$)/gm;
    let cut = -1;
    let opened = false;
    for (let m = re.exec(text); m && m.index < pos; m = re.exec(text)) {
      const before = text.slice(0, m.index).replace(/^(?:%|#).*$/gm, '');
      if (m[0] === '...' || opened || /\S/.test(before.replace(/^---.*$/gm, ''))) {
        cut = m[0] === '...' ? m.index + 3 : m.index;
        break;
      }
      opened = true;
    }
    if (cut > 0) {
      try {
        return loadDocs(text.slice(0, cut), registry);
      } catch {
        /* report the original error */
      }
    }
    const line = e.mark ? ` line ${e.mark.line + 1}:` : '';
    throw new YamlError(`yaml:${line} ${e.reason ?? e.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// goyaml v2 resolve() and decoding into interface{}

const RESOLVE_MAP = new Map<string, [string, GoValue]>();
for (const [v, tag, list] of [
  [true, BOOL, ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']],
  [false, BOOL, ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']],
  [null, NULL, ['', '~', 'null', 'Null', 'NULL']],
  [NaN, FLOAT, ['.nan', '.NaN', '.NAN']],
  [Infinity, FLOAT, ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']],
  [-Infinity, FLOAT, ['-.inf', '-.Inf', '-.INF']],
  ['<<', MERGE, ['<<']],
] as const) {
  for (const s of list) RESOLVE_MAP.set(s, [tag, v]);
}

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

const TIMESTAMP_RES = [
  /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?(?:Z|[+-]\d{2}:\d{2})$/,
  /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?$/,
  /^(\d{4})-(\d{1,2})-(\d{1,2})$/,
];

/** goyaml's parseTimestamp (time.Parse with its four layouts), true if it is one. */
function isTimestamp(s: string): boolean {
  if (!/^\d{4}-/.test(s)) return false;
  for (const re of TIMESTAMP_RES) {
    const m = re.exec(s);
    if (!m) continue;
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y)) continue;
    if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59)) continue;
    return true;
  }
  return false;
}

/** goyaml v2 `resolve(tag, in)`: the resolved tag and value. */
function resolve(tag: string, input: string): [string, GoValue] {
  const resolvable = tag === '' || tag === STR || tag === BOOL || tag === INT || tag === FLOAT || tag === NULL || tag === TIMESTAMP;
  if (!resolvable) return [tag, input];
  const [rtag, out] = resolveInner(tag, input);
  if (tag === '' || tag === rtag || tag === STR || tag === BINARY) return [rtag, out];
  if (tag === FLOAT && rtag === INT && typeof out === 'bigint' && out <= INT64_MAX) return [FLOAT, Number(out)];
  fail(`cannot decode ${shortTag(rtag)} \`${input}\` as a ${shortTag(tag)}`);
}

function resolveInner(tag: string, input: string): [string, GoValue] {
  const c = input === '' ? '' : input[0];
  const hint = input === '' ? 'N' : c === '+' || c === '-' ? 'S' : c >= '0' && c <= '9' ? 'D' : 'yYnNtTfFoO~'.includes(c) ? 'M' : c === '.' ? '.' : '';
  if (hint !== '' && tag !== STR && tag !== BINARY) {
    const item = RESOLVE_MAP.get(input);
    if (item) return [item[0], item[1]];
    if (hint === '.') {
      const f = goParseFloat(input);
      if (f !== undefined) return [FLOAT, f];
    } else if (hint === 'D' || hint === 'S') {
      if ((tag === '' || tag === TIMESTAMP) && isTimestamp(input)) return [TIMESTAMP, input];
      const plain = input.replace(/_/g, '');
      const i = goParseInt0(plain);
      if (i !== undefined) return [INT, i];
      const u = goParseUint0(plain);
      if (u !== undefined) return [INT, u];
      if (YAML_STYLE_FLOAT.test(plain)) {
        const f = goParseFloat(plain);
        if (f !== undefined) return [FLOAT, f];
      }
      if (plain.startsWith('0b')) {
        const b = parseDigits(plain.slice(2), 2);
        if (b !== undefined && b <= UINT64_MAX) return [INT, b];
      } else if (plain.startsWith('-0b')) {
        const b = parseDigits(plain.slice(3), 2);
        if (b !== undefined && -b >= INT64_MIN) return [INT, -b];
      }
    }
  }
  return [STR, input];
}

function isMergeKey(k: unknown): boolean {
  return k instanceof GoScalar && k.value === '<<' && (k.tag === '?' || k.tag === '!' || k.tag === MERGE);
}

function base64Decode(s: string): string {
  // Go's StdEncoding: padding required, '\r' and '\n' ignored.
  const t = s.replace(/[\r\n]/g, '');
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) fail('!!binary value contains invalid base64 data');
  return Buffer.from(t, 'base64').toString('utf8');
}

const ALIAS_RATIO_LOW = 400000;
const ALIAS_RATIO_HIGH = 4000000;

class Decoder {
  private decodeCount = 0;
  private aliasCount = 0;
  private aliasDepth = 0;
  private readonly active = new Set<AliasRef>();

  constructor(private readonly registry: Registry) {}

  private count(): void {
    this.decodeCount++;
    if (this.aliasDepth > 0) this.aliasCount++;
    if (this.aliasCount > 100 && this.decodeCount > 1000) {
      const d = this.decodeCount;
      const allowed = d <= ALIAS_RATIO_LOW ? 0.99 : d >= ALIAS_RATIO_HIGH ? 0.1 : 0.99 - (0.89 * (d - ALIAS_RATIO_LOW)) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW);
      if (this.aliasCount / d > allowed) fail('document contains excessive aliasing');
    }
  }

  decode(raw: unknown): GoValue {
    this.count();
    if (raw === null || raw === undefined) return null;
    if (raw instanceof GoScalar) return this.scalar(raw);
    if (raw instanceof AliasRef) return this.alias(raw, (t) => this.decode(t));
    if (Array.isArray(raw)) return raw.map((x) => this.decode(x));
    const m = new GoMap();
    this.mappingInto(raw as Record<string, unknown>, m);
    return m;
  }

  private alias<T>(a: AliasRef, f: (target: unknown) => T): T {
    if (this.active.has(a)) fail('anchor value contains itself');
    this.active.add(a);
    this.aliasDepth++;
    try {
      return f(a.target);
    } finally {
      this.aliasDepth--;
      this.active.delete(a);
    }
  }

  private scalar(s: GoScalar): GoValue {
    if (s.tag === null || s.tag === '!') return s.value;
    const [tag, v] = resolve(s.tag === '?' ? '' : s.tag === MERGE_MARKER ? MERGE : s.tag, s.value);
    if (tag === BINARY) return base64Decode(s.value);
    if (tag === TIMESTAMP) return s.value; // v2 keeps timestamps as strings in interface{}
    return v;
  }

  private mappingInto(raw: Record<string, unknown>, out: GoMap): void {
    for (const ks of Object.keys(raw)) {
      const key = this.registry.get(ks);
      const value = raw[ks];
      if (key && isMergeKey(key)) {
        this.merge(value, out);
        continue;
      }
      if (!key || (key as unknown as Record<symbol, boolean>)[IN_SEQUENCE]) {
        // js-yaml stringified a null or collection key; goyaml rejects collections, and
        // sigs.k8s.io/yaml rejects a null key.
        fail(ks === 'null' ? 'unsupported map key of type: <nil>' : 'invalid map key');
      }
      const k = this.decode(key);
      if (Array.isArray(k) || k instanceof GoMap) fail('invalid map key');
      out.set(k, this.decode(value));
    }
  }

  private merge(value: unknown, out: GoMap): void {
    const isMapping = (x: unknown) => x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof GoScalar) && !(x instanceof AliasRef);
    const wantMap = () => fail('map merge requires map or sequence of maps as the value');
    const into = (x: unknown): void => {
      this.count();
      if (x instanceof AliasRef) {
        if (!isMapping(x.target)) wantMap();
        this.alias(x, (t) => {
          this.count();
          this.mappingInto(t as Record<string, unknown>, out);
        });
      } else if (isMapping(x)) {
        this.mappingInto(x as Record<string, unknown>, out);
      } else {
        wantMap();
      }
    };
    if (Array.isArray(value)) {
      // Earlier entries take precedence: apply from the last to the first.
      for (let i = value.length - 1; i >= 0; i--) into(value[i]);
    } else if (value instanceof AliasRef || isMapping(value)) {
      into(value);
    } else {
      wantMap();
    }
  }
}

/**
 * YAML 1.1 (libyaml) also breaks lines at NEL, LS and PS; js-yaml only at CR and LF. libyaml
 * turns NEL into "\n" in content, so replacing it is exact. LS and PS stay in content where
 * libyaml broke the line, which we cannot reproduce: `exactBreaks` refuses them (metadata must
 * be exact), otherwise they become "\n" (same structure, content slightly different).
 */
function normaliseBreaks(text: string, exactBreaks: boolean): string {
  if (!/[\u0085\u2028\u2029]/.test(text)) return text;
  if (exactBreaks && /[\u2028\u2029]/.test(text)) {
    const c = /\u2028/.test(text) ? 'U+2028' : 'U+2029';
    fail(`raw ${c} found: YAML 1.1 reads it as a line break, which chartmirror cannot reproduce exactly (use an escape such as "\\u2028")`);
  }
  return text.replace(/[\u0085\u2028\u2029]/g, '\n');
}

/**
 * goyaml v2 `Unmarshal(text, &interface{})`; throws YamlError. `exactBreaks`: refuse raw
 * U+2028/U+2029 (see normaliseBreaks).
 */
export function decodeYaml(text: string, exactBreaks = false): GoValue {
  const registry = new Registry();
  const raw = firstDocument(normaliseBreaks(text, exactBreaks), registry);
  return new Decoder(registry).decode(raw);
}

/**
 * The text libyaml reads from these bytes (readerc.go yaml_parser_determine_encoding):
 * UTF-16 when a BOM says so, else UTF-8 with one leading BOM skipped; undefined when the
 * bytes are not valid UTF-8.
 */
export function yamlSourceText(data: Uint8Array): string | undefined {
  if (data.length >= 2 && data[0] === 0xff && data[1] === 0xfe) return new TextDecoder('utf-16le').decode(data);
  if (data.length >= 2 && data[0] === 0xfe && data[1] === 0xff) return new TextDecoder('utf-16be').decode(data);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Fast path for large documents (index.yaml)

/** goyaml v2's value for an untagged plain scalar: null, bool, int (bigint), float, or string. */
export function resolvePlainScalar(input: string): GoValue {
  return resolveInner('', input)[1];
}

const goPlainScalar = new yaml.Type('tag:chartmirror,2026:go-plain', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string',
  construct: (data: string) => resolvePlainScalar(data),
});

/** js-yaml's merge key first, so `<<` keeps its meaning; every other plain scalar resolves as goyaml does. */
// `types` is exported by js-yaml 4 but missing from its type declarations.
const mergeType = (yaml as unknown as { types: { merge: yaml.Type } }).types.merge;
const FAST_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({ implicit: [mergeType, goPlainScalar] });

/**
 * parseGoYaml's values (ints as bigint, floats as number, timestamps as strings, YAML 1.1
 * booleans, last duplicate key wins) at js-yaml's own speed, for documents too large for the
 * exact path's per-scalar bookkeeping: a 100,000-version index.yaml. It differs from
 * parseGoYaml only in corners no index uses (explicit tags, float map keys, libyaml's escape
 * quirks), which the index reader does not depend on.
 */
export function parseGoYamlFast(text: string): unknown {
  try {
    return yaml.load(text, { schema: FAST_SCHEMA, json: true });
  } catch (e) {
    const err = e as { reason?: string; mark?: { line: number; column: number } };
    const where = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    throw new ChartMirrorError('CHART', `yaml: ${err.reason ?? (e as Error).message}${where}`);
  }
}
