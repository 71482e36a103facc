/**
 * sigs.k8s.io/yaml `Unmarshal` (yaml.go: yamlToJSONTarget, convertToJSONableObject, then
 * jsonUnmarshal; fields.go: its copy of encoding/json's field lookup), v1.4.0 in Helm 3.17.3
 * and v1.6.0 in Helm 4.1.4 (which imports another goyaml v2 copy and wraps errors with %w;
 * the messages are the same).
 *
 * goyaml decodes the YAML into interface{}; the conversion to JSON is guided by the Go target
 * type: a number or bool bound for a string field becomes a string (`1.10` → "1.1", `yes` →
 * "true"), map keys become strings; encoding/json then decodes that JSON into Helm's struct.
 */
import { ChartMirrorError } from '../errors.js';
import { defineOwn } from '../util/own-property.js';
import { JsonDecodeError, JsonNumber, unmarshalJson, type JsonObject, type JsonValue } from './gojson-decode.js';
import { goJsonFloat64 } from './gojson.js';
import { formatFloat } from './gostrconv.js';
import type { GoField, GoType } from './gotype.js';
import { decodeYaml, GoMap, YamlError, type GoKey, type GoValue } from './goyaml.js';

const INT64_MAX = (1n << 63n) - 1n;

function fail(msg: string): never {
  throw new YamlError('yaml: ' + msg);
}

/** sigs' `indirect()`: through pointers; an Unmarshaler stops coercion. */
function indirect(t: GoType | null): GoType | null {
  while (t && t.kind === 'ptr') t = t.elem;
  return t && t.kind === 'time' ? null : t;
}

/** sigs.k8s.io/yaml key → string rules. */
function sigsKeyString(k: GoKey): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'bigint') {
    if (k > INT64_MAX) fail(`unsupported map key of type: uint64, key: 0x${k.toString(16)}`);
    return k.toString();
  }
  if (typeof k === 'number') {
    const s = formatFloat(k, 32);
    return s === '+Inf' ? '.inf' : s === '-Inf' ? '-.inf' : s === 'NaN' ? '.nan' : s;
  }
  if (typeof k === 'boolean') return k ? 'true' : 'false';
  fail('unsupported map key of type: <nil>');
}

/**
 * sigs.k8s.io/yaml field lookup (its copy of old encoding/json folding): exact name first,
 * else ASCII case-insensitive, plus U+017F ſ for 's' and U+212A K for 'k'.
 */
export function sigsFieldFor(fields: GoField[], key: string): GoField | undefined {
  let found: GoField | undefined;
  for (const f of fields) {
    if (f.json === key) return f;
    if (!found && sigsEqualFold(f.json, key)) found = f;
  }
  return found;
}

function sigsEqualFold(name: string, key: string): boolean {
  const special = /[kKsS]/.test(name);
  let j = 0;
  for (let i = 0; i < name.length; i++) {
    if (j >= key.length) return false;
    const sb = name[i];
    const tc = key.codePointAt(j)!;
    if (tc < 0x80) {
      if (sb !== key[j] && (!/[A-Za-z]/.test(sb) || sb.toLowerCase() !== key[j].toLowerCase())) return false;
      j++;
      continue;
    }
    if (!special) return false;
    const lower = sb.toLowerCase();
    if (!((lower === 's' && tc === 0x17f) || (lower === 'k' && tc === 0x212a))) return false;
    j += tc > 0xffff ? 2 : 1;
  }
  return j === key.length;
}

function toJsonScalar(v: null | boolean | string | bigint | number): JsonValue {
  if (typeof v === 'bigint') return new JsonNumber(v.toString());
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail(`json: unsupported value: ${formatFloat(v, 64)}`);
    return new JsonNumber(goJsonFloat64(v));
  }
  return v;
}

/** encoding/json's scanner refuses JSON nested deeper than this (scanner.go maxNestingDepth). */
export const JSON_MAX_NESTING_DEPTH = 10000;

/** JSON nested deeper than encoding/json reads: Helm's json.Unmarshal fails on it. */
export class JsonDepthError extends Error {}

/**
 * sigs.k8s.io/yaml convertToJSONableObject then json.Marshal, as a JsonValue tree. Iterative
 * (an explicit stack), so depth costs no JS call depth; nesting deeper than encoding/json's
 * limit throws JsonDepthError (Go's json.Unmarshal would refuse the marshalled text).
 */
function convert(root: GoValue, rootTarget: GoType | null): JsonValue {
  let result: JsonValue = null;
  const work: Array<{ v: GoValue; t: GoType | null; depth: number; put: (j: JsonValue) => void }> = [
    { v: root, t: rootTarget, depth: 0, put: (j) => (result = j) },
  ];
  while (work.length) {
    const { v, t: target, depth, put } = work.pop()!;
    const t = indirect(target);
    if (v instanceof GoMap || Array.isArray(v)) {
      if (depth + 1 > JSON_MAX_NESTING_DEPTH) throw new JsonDepthError(`invalid character '${Array.isArray(v) ? '[' : '{'}' exceeded max depth`);
    }
    if (v instanceof GoMap) {
      const out: JsonObject = new Map();
      put(out);
      const items: typeof work = [];
      for (const [k, val] of v.entries.values()) {
        const ks = sigsKeyString(k);
        let sub: GoType | null = null;
        if (t?.kind === 'struct') sub = sigsFieldFor(t.fields, ks)?.type ?? null;
        else if (t?.kind === 'map') sub = t.elem;
        out.set(ks, null);
        items.push({ v: val, t: sub, depth: depth + 1, put: (j) => out.set(ks, j) });
      }
      for (let i = items.length - 1; i >= 0; i--) work.push(items[i]!);
      continue;
    }
    if (Array.isArray(v)) {
      const elem = t?.kind === 'slice' ? t.elem : null;
      const out: JsonValue[] = new Array<JsonValue>(v.length).fill(null);
      put(out);
      for (let i = v.length - 1; i >= 0; i--) work.push({ v: v[i]!, t: elem, depth: depth + 1, put: (j) => (out[i] = j) });
      continue;
    }
    if (t?.kind === 'string' && v !== null && typeof v !== 'string') {
      if (typeof v === 'bigint') put(v.toString());
      else if (typeof v === 'number') put(formatFloat(v, 32));
      else put(v ? 'true' : 'false');
      continue;
    }
    put(toJsonScalar(v));
  }
  return result;
}

/** A one-line YAML error as a ChartMirrorError, or rethrow anything else. */
function rethrow(e: unknown, prefix: string): never {
  if (e instanceof YamlError || e instanceof RangeError || e instanceof JsonDepthError) {
    throw new ChartMirrorError('CHART', `${prefix}${e.message.split('\n')[0]}`, { cause: e });
  }
  throw e;
}

/**
 * sigs.k8s.io/yaml `yamlToJSONTarget`: goyaml decode, then the target-guided conversion
 * (numbers and bools become strings where the Go field is a string). The result is what
 * `json.Unmarshal` then sees; JsonDepthError when that would refuse it for its depth.
 * Throws ChartMirrorError('CHART', one line).
 */
export function yamlToJson(input: Uint8Array | string, target: GoType | null, what = ''): JsonValue {
  try {
    return convert(decodeYaml(input), target);
  } catch (e) {
    if (e instanceof JsonDepthError) throw e;
    rethrow(e, what ? `${what}: error converting YAML to JSON: ` : 'error converting YAML to JSON: ');
  }
}

/**
 * The same conversion for a value that is already parsed (parseGoYaml output, or JSON.parse
 * output): plain objects are maps with string keys, bigint an int, number a float64.
 */
export function valueToJson(value: unknown, target: GoType | null, what = ''): JsonValue {
  try {
    return convert(fromPlain(value), target);
  } catch (e) {
    rethrow(e, what ? `${what}: ` : '');
  }
}

function fromPlain(v: unknown): GoValue {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(fromPlain);
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
    case 'number':
      return v;
    case 'object': {
      if (v instanceof Number) return v.valueOf();
      if (v instanceof String) return v.valueOf();
      const m = new GoMap();
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) m.set(k, fromPlain(x));
      return m;
    }
    default:
      fail(`unsupported value of type ${typeof v}`);
  }
}

/**
 * Parse YAML as gopkg.in/yaml.v2 does into `interface{}`, with map keys turned into strings
 * the sigs.k8s.io/yaml way (ints in decimal, floats as float32 `%g`, bools; null and uint64
 * keys are errors). Maps become plain objects, ints bigint, floats number, timestamps strings;
 * only the first document is read. Throws ChartMirrorError('CHART', one line).
 */
export function parseGoYaml(input: Uint8Array | string): unknown {
  try {
    return toPlain(decodeYaml(input));
  } catch (e) {
    rethrow(e, '');
  }
}

function toPlain(root: GoValue): unknown {
  let result: unknown;
  const work: Array<{ v: GoValue; put: (x: unknown) => void }> = [{ v: root, put: (x) => (result = x) }];
  while (work.length) {
    const { v, put } = work.pop()!;
    if (v instanceof GoMap) {
      const o: Record<string, unknown> = {};
      put(o);
      for (const [k, val] of v.entries.values()) {
        const ks = sigsKeyString(k);
        defineOwn(o, ks, null);
        work.push({ v: val, put: (x) => defineOwn(o, ks, x) });
      }
    } else if (Array.isArray(v)) {
      const a: unknown[] = new Array<unknown>(v.length).fill(null);
      put(a);
      v.forEach((x, i) => work.push({ v: x, put: (y) => (a[i] = y) }));
    } else {
      put(v);
    }
  }
  return result;
}

/**
 * sigs.k8s.io/yaml `Unmarshal(yamlText, &target)` for an existing Go value of type `t` (a
 * top-level struct or map): yamlToJson, then json.Unmarshal into what is there. Returns the
 * decoded value (undefined when null clears a map). Errors are one-line
 * ChartMirrorError('CHART') prefixed with `context` (Helm's `cannot load Chart.yaml`).
 */
export function unmarshalYaml(target: Record<string, unknown>, t: GoType, input: Uint8Array | string, context: string): Record<string, unknown> | undefined {
  let j: JsonValue;
  try {
    j = yamlToJson(input, t, context);
  } catch (e) {
    if (e instanceof JsonDepthError) {
      throw new ChartMirrorError('CHART', `${context}: error unmarshaling JSON: while decoding JSON: ${e.message}`, { cause: e });
    }
    throw e;
  }
  return unmarshalJsonInto(target, t, j, context);
}

/** unmarshalYaml for a value that is already parsed (see valueToJson). */
export function unmarshalValue(target: Record<string, unknown>, t: GoType, value: unknown, context: string): Record<string, unknown> | undefined {
  return unmarshalJsonInto(target, t, valueToJson(value, t, context), context);
}

function unmarshalJsonInto(target: Record<string, unknown>, t: GoType, j: JsonValue, context: string): Record<string, unknown> | undefined {
  try {
    return unmarshalJson(j, t, target);
  } catch (e) {
    if (e instanceof JsonDecodeError) {
      const msg = `${context}: error unmarshaling JSON: while decoding JSON: ${e.message}`;
      throw new ChartMirrorError('CHART', msg.split('\n')[0], { cause: e });
    }
    throw e;
  }
}
