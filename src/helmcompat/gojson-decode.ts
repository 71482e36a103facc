/**
 * Go `encoding/json` Unmarshal into an existing value of a known Go type (decode.go: object,
 * array, literalStore, indirect; fold.go's field-name folding; Go 1.23 / 1.25 as in Helm
 * 3.17.3 / 4.1.4), which is what sigs.k8s.io/yaml hands its JSON to. It decodes INTO what is
 * there: null leaves strings and bools alone and clears slices and maps, maps merge, slices
 * reuse their elements and capacity, and type mismatches fail with Go's messages.
 */
import { defineOwn } from '../util/own-property.js';
import { compareUtf8 } from './gojson.js';
import { goQuote } from './gostrconv.js';
import { isGoRfc3339 } from './gotime.js';
import { goTypeName, type GoField, type GoType } from './gotype.js';
import { grownCap } from './growslice.js';

/** A JSON number as Go's json.Marshal wrote it. */
export class JsonNumber {
  constructor(readonly text: string) {}
}
export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

/** A json.Unmarshal error; the message is Go's. */
export class JsonDecodeError extends Error {}

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
  throw new JsonDecodeError(`json: cannot unmarshal ${jsonKind(j)} into ${where} of type ${goTypeName(t)}`);
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

/** Keys in the order Go's decoder meets them: sigs.k8s.io/yaml's json.Marshal sorted them by bytes. */
function sortedKeys(m: Map<string, JsonValue>): string[] {
  return [...m.keys()].sort(compareUtf8);
}

/** Hidden capacity and stale elements of a decoded slice (encoding/json reuses them). */
const SLICE_CAP = new WeakMap<unknown[], { cap: number; spare: unknown[] }>();

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

/** JSON into interface{}: numbers float64. Iterative: the value may be nested 10,000 deep. */
function jsonToAny(root: JsonValue): unknown {
  let result: unknown;
  const work: Array<{ j: JsonValue; put: (x: unknown) => void }> = [{ j: root, put: (x) => (result = x) }];
  while (work.length) {
    const { j, put } = work.pop()!;
    if (j === null || typeof j !== 'object') put(j);
    else if (j instanceof JsonNumber) put(Number(j.text)); // float64
    else if (Array.isArray(j)) {
      const a = new Array<unknown>(j.length).fill(null);
      put(a);
      j.forEach((x, i) => work.push({ j: x, put: (y) => (a[i] = y) }));
    } else {
      const o: Record<string, unknown> = {};
      put(o);
      for (const [k, v] of j) {
        defineOwn(o, k, null);
        work.push({ j: v, put: (y) => defineOwn(o, k, y) });
      }
    }
  }
  return result;
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
      if (typeof j !== 'string') throw new JsonDecodeError('Time.UnmarshalJSON: input is not a JSON string');
      if (!isGoRfc3339(j)) throw new JsonDecodeError(`parsing time ${goQuote(j)} as "2006-01-02T15:04:05Z07:00": cannot parse`);
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

/**
 * json.Unmarshal(j, &target) for a top-level struct or map of type `t`: the decoded value
 * (undefined when null clears a map). Throws JsonDecodeError.
 */
export function unmarshalJson(j: JsonValue, t: GoType, target: Record<string, unknown>): Record<string, unknown> | undefined {
  if (j === null) return t.kind === 'map' ? undefined : target;
  return decodeValue(j, t, target, { path: [] }) as Record<string, unknown>;
}
