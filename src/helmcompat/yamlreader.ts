/**
 * k8s.io/apimachinery `pkg/util/yaml` YAMLReader.Read over a LineReader (decoder.go, v0.35.1
 * as in Helm 4.1.4), which Helm 4's LoadValues splits values.yaml into documents with: a line
 * starting with `---` ends a document and may only be followed by white space or a comment
 * (strings.TrimSpace, then the first byte must be `#`). It is a line splitter over bytes
 * (bufio.ReadLine drops "\n" or "\r\n"), not a YAML parser. Linear: every byte is looked at a
 * bounded number of times, whatever the line holds.
 */
import { goIsSpace } from './gounicode.js';

/** A YAMLReader error; the message is the reader's. */
export class YamlReaderError extends Error {}

const LF = 0x0a;
const CR = 0x0d;

/** The code point at `i` and its length, as utf8.DecodeRune reads it (invalid: U+FFFD, 1). */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c0 = b[i]!;
  if (c0 < 0x80) return [c0, 1];
  let size = 0;
  let lo = 0x80;
  let hi = 0xbf;
  if (c0 >= 0xc2 && c0 <= 0xdf) size = 2;
  else if (c0 >= 0xe0 && c0 <= 0xef) [size, lo, hi] = [3, c0 === 0xe0 ? 0xa0 : 0x80, c0 === 0xed ? 0x9f : 0xbf];
  else if (c0 >= 0xf0 && c0 <= 0xf4) [size, lo, hi] = [4, c0 === 0xf0 ? 0x90 : 0x80, c0 === 0xf4 ? 0x8f : 0xbf];
  if (size === 0 || i + size > b.length) return [0xfffd, 1];
  for (let k = 1; k < size; k++) {
    const c = b[i + k]!;
    if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return [0xfffd, 1];
  }
  let v = size === 2 ? c0 & 0x1f : size === 3 ? c0 & 0x0f : c0 & 0x07;
  for (let k = 1; k < size; k++) v = (v << 6) | (b[i + k]! & 0x3f);
  return [v, size];
}

/** The start of the rune that ends at `end` (utf8.DecodeLastRune's view of it). */
function lastRuneStart(b: Uint8Array, from: number, end: number): number {
  // A rune is at most 4 bytes: try the longest valid one ending exactly at `end`.
  for (let start = Math.max(from, end - 4); start < end - 1; start++) {
    const [, size] = decodeRune(b, start);
    if (size > 1 && start + size === end) return start;
  }
  return end - 1;
}

/** strings.TrimSpace over bytes (unicode.IsSpace; an invalid byte is not space). */
export function goTrimSpace(b: Uint8Array): Uint8Array {
  let start = 0;
  while (start < b.length) {
    const [r, size] = decodeRune(b, start);
    if (!goIsSpace(r) || (r === 0xfffd && size === 1)) break;
    start += size;
  }
  let end = b.length;
  while (end > start) {
    const s = lastRuneStart(b, start, end);
    const [r, size] = decodeRune(b, s);
    if (s + size !== end || !goIsSpace(r)) break;
    end = s;
  }
  return b.subarray(start, end);
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The documents YAMLReader returns one by one, in order; throws YamlReaderError. */
export function splitYamlDocuments(data: Uint8Array): Uint8Array[] {
  const docs: Uint8Array[] = [];
  let parts: Uint8Array[] = [];
  const newline = new Uint8Array([LF]);
  let pos = 0;
  while (pos < data.length) {
    const nl = data.indexOf(LF, pos);
    const end = nl < 0 ? data.length : nl;
    // bufio.ReadLine drops "\n" and a "\r" before it; LineReader puts back "\n".
    const contentEnd = nl >= 0 && end > pos && data[end - 1] === CR ? end - 1 : end;
    const content = data.subarray(pos, contentEnd);
    pos = nl < 0 ? data.length : nl + 1;
    if (content.length >= 3 && content[0] === 0x2d && content[1] === 0x2d && content[2] === 0x2d) {
      const trimmed = goTrimSpace(content.subarray(3));
      if (trimmed.length > 0 && trimmed[0] !== 0x23) {
        throw new YamlReaderError(`invalid Yaml document separator: ${Buffer.from(trimmed).toString('utf8')}`);
      }
      if (parts.length) {
        docs.push(concat(parts));
        parts = [];
        continue;
      }
    }
    parts.push(content, newline);
  }
  if (parts.length) docs.push(concat(parts));
  return docs;
}
