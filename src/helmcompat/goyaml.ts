/**
 * gopkg.in/yaml.v2 `Unmarshal(bytes, &interface{})`, the YAML 1.1 reader under Helm's
 * sigs.k8s.io/yaml: v2.4.0 as forked into sigs.k8s.io/yaml/goyaml.v2 (sigs.k8s.io/yaml v1.4.0,
 * Helm 3.17.3) and go.yaml.in/yaml/v2 v2.4.3 (sigs.k8s.io/yaml v1.6.0, Helm 4.1.4), the same
 * code. The syntax is libyaml's, ported in goyaml-scanner.ts (readerc.go, scannerc.go) and
 * goyaml-parser.ts (parserc.go, the node tree); this module is decode.go for an interface{}
 * target (aliases, merges, excessive-aliasing limits, "last key wins") and resolve.go (plain
 * scalar resolution, YAML 1.1 booleans, timestamps kept as strings, int64/uint64 exact as
 * bigint).
 *
 * parseGoYamlFast (index.yaml) is js-yaml with goyaml's scalar resolution, for speed.
 */
import yaml from 'js-yaml';
import { ChartMirrorError } from '../errors.js';
import { GoYamlError, N_ALIAS, N_DOCUMENT, N_MAPPING, N_SCALAR, N_SEQUENCE, parseFirstDocument, type YamlNode } from './goyaml-parser.js';
import { codePointsToString, LibyamlError } from './goyaml-scanner.js';
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

// ---------------------------------------------------------------------------------------------
// decode.go: the node tree into interface{}

function isMerge(n: YamlNode): boolean {
  return n.kind === N_SCALAR && n.value === '<<' && (n.implicit || n.tag === MERGE);
}

/**
 * Go `string(bytes)` as Go's encoding/json writes it: one U+FFFD per byte that does not start a
 * valid UTF-8 sequence (utf8.DecodeRune's (RuneError, 1)), not one per maximal subpart as
 * TextDecoder and Buffer do. sigs.k8s.io/yaml marshals every string to JSON, so this is what
 * Helm's structs receive from a `!!binary` value.
 */
export function goBytesToString(b: Uint8Array): string {
  const cps: number[] = [];
  let i = 0;
  while (i < b.length) {
    const c0 = b[i]!;
    if (c0 < 0x80) {
      cps.push(c0);
      i++;
      continue;
    }
    let size = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c0 >= 0xc2 && c0 <= 0xdf) size = 2;
    else if (c0 >= 0xe0 && c0 <= 0xef) {
      size = 3;
      if (c0 === 0xe0) lo = 0xa0;
      else if (c0 === 0xed) hi = 0x9f;
    } else if (c0 >= 0xf0 && c0 <= 0xf4) {
      size = 4;
      if (c0 === 0xf0) lo = 0x90;
      else if (c0 === 0xf4) hi = 0x8f;
    }
    let ok = size > 0 && i + size <= b.length;
    for (let k = 1; ok && k < size; k++) {
      const c = b[i + k]!;
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) ok = false;
    }
    if (!ok) {
      cps.push(0xfffd);
      i++;
      continue;
    }
    let v = size === 2 ? c0 & 0x1f : size === 3 ? c0 & 0x0f : c0 & 0x07;
    for (let k = 1; k < size; k++) v = (v << 6) | (b[i + k]! & 0x3f);
    cps.push(v);
    i += size;
  }
  return codePointsToString(cps);
}

function base64Decode(s: string): string {
  // Go's StdEncoding: padding required, '\r' and '\n' ignored.
  let t = '';
  for (const ch of s) if (ch !== '\r' && ch !== '\n') t += ch;
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) fail('!!binary value contains invalid base64 data');
  return goBytesToString(Buffer.from(t, 'base64'));
}

const ALIAS_RATIO_LOW = 400000;
const ALIAS_RATIO_HIGH = 4000000;

/** decode.go allowedAliasRatio. */
export function allowedAliasRatio(decodeCount: number): number {
  if (decodeCount <= ALIAS_RATIO_LOW) return 0.99;
  if (decodeCount >= ALIAS_RATIO_HIGH) return 0.1;
  return 0.99 - (0.89 * (decodeCount - ALIAS_RATIO_LOW)) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW);
}

/** decode.go's check in unmarshal(): true when the document must be refused. */
export function excessiveAliasing(decodeCount: number, aliasCount: number): boolean {
  return aliasCount > 100 && decodeCount > 1000 && aliasCount / decodeCount > allowedAliasRatio(decodeCount);
}

/** A request from a decoding step to decode `node` (into the map `into`, for merges). */
type Req = { node: YamlNode; into?: GoMap };
type Step = Generator<Req, GoValue, GoValue>;

/**
 * goyaml v2's decoder for an `interface{}` target: the same visits in the same order, so the
 * same decode and alias counts ("document contains excessive aliasing"), merges applied in
 * place (v2: a `<<` overrides the keys before it, later keys override it), "last key wins".
 * Go recurses; each step here is a generator run from an explicit stack, so aliases of deep
 * nodes cost no JS call depth.
 */
class Decoder {
  private decodeCount = 0;
  private aliasCount = 0;
  private aliasDepth = 0;
  private readonly active = new Set<YamlNode>();

  decode(root: YamlNode): GoValue {
    const stack: Step[] = [this.unmarshal({ node: root })];
    let input: GoValue = null;
    while (stack.length) {
      const r = stack[stack.length - 1]!.next(input);
      if (r.done) {
        stack.pop();
        input = r.value;
      } else {
        stack.push(this.unmarshal(r.value));
        input = null;
      }
    }
    return input;
  }

  private count(): void {
    this.decodeCount++;
    if (this.aliasDepth > 0) this.aliasCount++;
    if (excessiveAliasing(this.decodeCount, this.aliasCount)) fail('document contains excessive aliasing');
  }

  /** A scalar child, decoded in place (most nodes are scalars: no generator for them). */
  private scalarChild(n: YamlNode): GoValue {
    this.count();
    return scalar(n);
  }

  private *unmarshal(req: Req): Step {
    const n = req.node;
    this.count();
    switch (n.kind) {
      case N_DOCUMENT:
        return n.children.length === 1 ? yield { node: n.children[0]!, into: req.into } : null;
      case N_ALIAS: {
        if (this.active.has(n)) fail(`anchor '${n.value}' value contains itself`);
        this.active.add(n);
        this.aliasDepth++;
        const v = yield { node: n.alias!, into: req.into };
        this.aliasDepth--;
        this.active.delete(n);
        return v;
      }
      case N_SCALAR:
        return scalar(n);
      case N_SEQUENCE: {
        const out: GoValue[] = [];
        for (const c of n.children) out.push(c.kind === N_SCALAR ? this.scalarChild(c) : yield { node: c });
        return out;
      }
    }
    // A mapping: a new map, or (for a merge) the map being merged into.
    const out = req.into ?? new GoMap();
    for (let i = 0; i < n.children.length; i += 2) {
      const kn = n.children[i]!;
      const vn = n.children[i + 1]!;
      if (isMerge(kn)) {
        yield* this.merge(vn, out);
        continue;
      }
      const k = kn.kind === N_SCALAR ? this.scalarChild(kn) : yield { node: kn };
      if (Array.isArray(k) || k instanceof GoMap) fail('invalid map key');
      const v = vn.kind === N_SCALAR ? this.scalarChild(vn) : yield { node: vn };
      out.set(k, v);
    }
    return out;
  }

  private *merge(n: YamlNode, out: GoMap): Generator<Req, void, GoValue> {
    const wantMap = (): never => fail('map merge requires map or sequence of maps as the value');
    switch (n.kind) {
      case N_MAPPING:
        yield { node: n, into: out };
        return;
      case N_ALIAS:
        if (n.alias && n.alias.kind !== N_MAPPING) wantMap();
        yield { node: n, into: out };
        return;
      case N_SEQUENCE:
        // Step backwards as earlier nodes take precedence.
        for (let i = n.children.length - 1; i >= 0; i--) {
          const ni = n.children[i]!;
          if (ni.kind === N_ALIAS) {
            if (ni.alias && ni.alias.kind !== N_MAPPING) wantMap();
          } else if (ni.kind !== N_MAPPING) {
            wantMap();
          }
          yield { node: ni, into: out };
        }
        return;
      default:
        wantMap();
    }
  }
}

/** decode.go (*decoder).scalar into interface{}. */
function scalar(n: YamlNode): GoValue {
  if (n.tag === '' && !n.implicit) return n.value;
  const [tag, v] = resolve(n.tag, n.value);
  if (tag === BINARY) return base64Decode(n.value);
  if (tag === TIMESTAMP) return n.value; // v2 keeps timestamps as strings in interface{}
  return v;
}

/**
 * goyaml v2 `Unmarshal(input, &interface{})`: the first document, decoded. Throws YamlError
 * with goyaml's message (`yaml: line N: ...`). A string is read as its UTF-8 bytes.
 */
export function decodeYaml(input: Uint8Array | string): GoValue {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let root: YamlNode | undefined;
  try {
    root = parseFirstDocument(bytes);
  } catch (e) {
    if (e instanceof LibyamlError || e instanceof GoYamlError) throw new YamlError(e.message);
    throw e;
  }
  return root ? new Decoder().decode(root) : null;
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

/** What js-yaml's `listener` option sees of a node when it opens and closes. */
interface ListenerState {
  kind: string | null;
  result: unknown;
  anchor: string | null;
}

/**
 * goyaml's alias budget for a document js-yaml reads: js-yaml shares an aliased node instead of
 * copying it, but everything that walks the result (and goyaml, in Helm) pays for each copy.
 * Counts what goyaml's decoder would (each node once, each alias again with everything its
 * anchor holds, aliases inside included) and refuses the document where goyaml does
 * ("document contains excessive aliasing"): beyond 400,000 decoded nodes the share that comes
 * from aliases shrinks from 99% to 10% at 4,000,000, so what a document expands to is bounded
 * by its own size.
 */
class AliasBudget {
  private readonly open: number[] = [];
  private readonly sizes = new WeakMap<object, number>();
  private decodeCount = 1; // the document node
  private aliasCount = 0;

  readonly listener = (event: string, state: ListenerState): void => {
    if (event === 'open') {
      this.open.push(0);
      return;
    }
    const children = this.open.pop() ?? 0;
    const r = state.result;
    let size: number;
    if (state.kind === null && r !== null && r !== undefined) {
      // An alias: the node itself, then a copy of its anchor's node with everything in it.
      const target = typeof r === 'object' ? (this.sizes.get(r) ?? 1) : 1;
      size = 1 + target;
      this.count(1, 0);
      this.count(target, target);
    } else {
      size = 1 + children;
      this.count(1, 0);
      if (state.anchor !== null && r !== null && typeof r === 'object') this.sizes.set(r, size);
    }
    if (this.open.length) this.open[this.open.length - 1]! += size;
  };

  private count(decoded: number, aliased: number): void {
    this.decodeCount += decoded;
    this.aliasCount += aliased;
    if (excessiveAliasing(this.decodeCount, this.aliasCount)) {
      throw new ChartMirrorError(
        'INDEX',
        `yaml: document contains excessive aliasing (its aliases expand it to ${this.decodeCount} nodes and counting, ${this.aliasCount} of them copies; Helm's YAML reader refuses it too)`,
      );
    }
  }
}

/** An alias (`*name` where a node may start): only then does a document need AliasBudget. */
const MAY_ALIAS = /(?:^|[\s[{,:-])\*[^\s,\]}]/;

/**
 * parseGoYaml's values (ints as bigint, floats as number, timestamps as strings, YAML 1.1
 * booleans, last duplicate key wins) at js-yaml's own speed, for documents too large for the
 * exact path's per-scalar bookkeeping: a 100,000-version index.yaml. It differs from
 * parseGoYaml only in corners no index uses (explicit tags, float map keys, libyaml's escape
 * quirks), which the index reader does not depend on. Aliases are held to goyaml's budget
 * (AliasBudget): a document that expands past it is refused (ChartMirrorError 'INDEX').
 */
export function parseGoYamlFast(text: string): unknown {
  const budget = MAY_ALIAS.test(text) ? new AliasBudget() : undefined;
  try {
    return yaml.load(text, { schema: FAST_SCHEMA, json: true, ...(budget ? { listener: budget.listener } : {}) } as yaml.LoadOptions);
  } catch (e) {
    if (e instanceof ChartMirrorError) throw e;
    const err = e as { reason?: string; mark?: { line: number; column: number } };
    const where = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    throw new ChartMirrorError('CHART', `yaml: ${err.reason ?? (e as Error).message}${where}`);
  }
}
