/**
 * libyaml's reader and scanner as gopkg.in/yaml.v2 ports them (readerc.go, scannerc.go,
 * yamlprivateh.go), v2.4.0: the copy in sigs.k8s.io/yaml/goyaml.v2 (sigs.k8s.io/yaml v1.4.0,
 * Helm 3.17.3) and go.yaml.in/yaml/v2 v2.4.3 (sigs.k8s.io/yaml v1.6.0, Helm 4.1.4) are the
 * same code. Ported function by function, so that what Helm accepts, refuses and reads is
 * decided by the same steps: block scalar chomping at the end of input, tabs, the 1024-character
 * limit on implicit keys, the 10,000 limits on flow and indentation depth, unknown directives,
 * YAML 1.1 line breaks (NEL, LS, PS), `\'` in double quotes, and the reader's 512-byte chunks
 * (an encoding error is seen only when the scanner reads into its chunk).
 *
 * Go works on a byte buffer of UTF-8; this works on an array of code points, one per character,
 * indexed like Go's `mark.index`. Every scan is a single pass (no regular expressions), so the
 * time is linear in the input.
 */

// Token types (yamlh.go yaml_token_type_t).
export const T_STREAM_START = 1;
export const T_STREAM_END = 2;
export const T_VERSION_DIRECTIVE = 3;
export const T_TAG_DIRECTIVE = 4;
export const T_DOCUMENT_START = 5;
export const T_DOCUMENT_END = 6;
export const T_BLOCK_SEQUENCE_START = 7;
export const T_BLOCK_MAPPING_START = 8;
export const T_BLOCK_END = 9;
export const T_FLOW_SEQUENCE_START = 10;
export const T_FLOW_SEQUENCE_END = 11;
export const T_FLOW_MAPPING_START = 12;
export const T_FLOW_MAPPING_END = 13;
export const T_BLOCK_ENTRY = 14;
export const T_FLOW_ENTRY = 15;
export const T_KEY = 16;
export const T_VALUE = 17;
export const T_ALIAS = 18;
export const T_ANCHOR = 19;
export const T_TAG = 20;
export const T_SCALAR = 21;

// Scalar styles (yaml_scalar_style_t).
export const S_PLAIN = 1;
export const S_SINGLE_QUOTED = 2;
export const S_DOUBLE_QUOTED = 3;
export const S_LITERAL = 4;
export const S_FOLDED = 5;

export interface Mark {
  index: number;
  line: number;
  column: number;
}

export interface Token {
  type: number;
  start: Mark;
  end: Mark;
  /** Scalar value, anchor or alias name, tag handle, %TAG handle. */
  value?: string;
  /** Tag suffix. */
  suffix?: string;
  /** %TAG prefix. */
  prefix?: string;
  major?: number;
  minor?: number;
  style?: number;
}

/** A libyaml error with its kind and marks; `message` is what goyaml's parser.fail() says. */
export class LibyamlError extends Error {
  constructor(
    readonly kind: 'reader' | 'scanner' | 'parser',
    readonly problem: string,
    readonly problemMark: Mark | undefined,
    readonly contextMark: Mark | undefined,
  ) {
    // decode.go (*parser).fail: scanner errors report the line after problem_mark.line.
    let line = 0;
    if (problemMark && problemMark.line !== 0) line = problemMark.line + (kind === 'scanner' ? 1 : 0);
    else if (contextMark && contextMark.line !== 0) line = contextMark.line;
    super(`yaml: ${line !== 0 ? `line ${line}: ` : ''}${problem}`);
  }
}

const INPUT_RAW_BUFFER_SIZE = 512;
const MAX_FLOW_LEVEL = 10000;
const MAX_INDENTS = 10000;
const MAX_NUMBER_LENGTH = 2;

const ENC_ANY = 0;
const ENC_UTF8 = 1;
const ENC_UTF16LE = 2;
const ENC_UTF16BE = 3;

const NUL = 0;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const NEL = 0x85;
const LS = 0x2028;
const PS = 0x2029;
const BOM = 0xfeff;

function isAlpha(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
function asHex(c: number): number {
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return c - 0x30;
}
function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}
function isBreak(c: number): boolean {
  return c === CR || c === LF || c === NEL || c === LS || c === PS;
}
function isBreakz(c: number): boolean {
  return isBreak(c) || c === NUL;
}
function isBlankz(c: number): boolean {
  return isBlank(c) || isBreakz(c);
}
/** yamlprivateh.go width(): the UTF-8 length a leading octet announces (0: invalid). */
function utf8Width(b: number): number {
  if ((b & 0x80) === 0) return 1;
  if ((b & 0xe0) === 0xc0) return 2;
  if ((b & 0xf0) === 0xe0) return 3;
  if ((b & 0xf8) === 0xf0) return 4;
  return 0;
}

/** Code points to a JS string, in chunks (no spread of a large array onto the stack). */
export function codePointsToString(cps: ArrayLike<number>, from = 0, to = cps.length): string {
  let out = '';
  const CHUNK = 4096;
  for (let i = from; i < to; i += CHUNK) {
    const end = Math.min(to, i + CHUNK);
    const units: number[] = [];
    for (let k = i; k < end; k++) {
      const c = cps[k]!;
      if (c < 0x10000) units.push(c);
      else units.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
    }
    out += String.fromCharCode.apply(null, units);
  }
  return out;
}

interface SimpleKey {
  possible: boolean;
  required: boolean;
  tokenNumber: number;
  mark: Mark;
}

/**
 * The scanner: `next()` is yaml_parser_scan (via the parser's peek/skip), over the reader.
 * Construct it with the bytes goyaml's Unmarshal gets.
 */
export class Scanner {
  // --- reader (readerc.go)
  private readonly input: Uint8Array;
  private inputPos = 0;
  private rawPos = 0;
  private rawWinStart = 0;
  private rawEnd = 0;
  private eof = false;
  private encoding = ENC_ANY;
  /** Decoded characters by index; zero beyond `decoded` (libyaml's NUL padding). */
  private buf: Int32Array;
  private decoded = 0;
  /** Index of the character at the start of libyaml's buffer (is_bom looks there, not at the position). */
  private bufStart = 0;

  // --- scanner (scannerc.go)
  private index = 0;
  private line = 0;
  private column = 0;
  private tokens: Token[] = [];
  private tokensHead = 0;
  tokensParsed = 0;
  private tokenAvailable = false;
  private streamStartProduced = false;
  streamEndProduced = false;
  private indent = 0;
  private indents: number[] = [];
  private simpleKeyAllowed = false;
  private simpleKeys: SimpleKey[] = [];
  private simpleKeysByTok = new Map<number, number>();
  private flowLevel = 0;

  constructor(input: Uint8Array) {
    // decode.go newParser: an empty input is read as "\n".
    this.input = input.length === 0 ? new Uint8Array([LF]) : input;
    this.buf = new Int32Array(this.input.length + 16);
  }

  private mark(): Mark {
    return { index: this.index, line: this.line, column: this.column };
  }

  private scannerError(context: string, contextMark: Mark, problem: string): never {
    void context;
    throw new LibyamlError('scanner', problem, this.mark(), contextMark);
  }

  // ------------------------------------------------------------------ reader

  private readerError(problem: string): never {
    throw new LibyamlError('reader', problem, undefined, undefined);
  }

  private determineEncoding(): void {
    while (!this.eof && this.rawEnd - this.rawPos < 3) this.updateRaw();
    const b = this.input;
    const pos = this.rawPos;
    const avail = this.rawEnd - pos;
    if (avail >= 2 && b[pos] === 0xff && b[pos + 1] === 0xfe) {
      this.encoding = ENC_UTF16LE;
      this.rawPos += 2;
    } else if (avail >= 2 && b[pos] === 0xfe && b[pos + 1] === 0xff) {
      this.encoding = ENC_UTF16BE;
      this.rawPos += 2;
    } else if (avail >= 3 && b[pos] === 0xef && b[pos + 1] === 0xbb && b[pos + 2] === 0xbf) {
      this.encoding = ENC_UTF8;
      this.rawPos += 3;
    } else {
      this.encoding = ENC_UTF8;
    }
  }

  /** yaml_parser_update_raw_buffer: the raw buffer is a 512-byte window on the input. */
  private updateRaw(): void {
    if (this.rawPos === this.rawWinStart && this.rawEnd - this.rawWinStart === INPUT_RAW_BUFFER_SIZE) return;
    if (this.eof) return;
    this.rawWinStart = this.rawPos; // the unread bytes move to the start of the buffer
    const room = INPUT_RAW_BUFFER_SIZE - (this.rawEnd - this.rawPos);
    if (this.inputPos === this.input.length) {
      this.eof = true; // yaml_string_read_handler: io.EOF once everything was handed over
      return;
    }
    const n = Math.min(room, this.input.length - this.inputPos);
    this.inputPos += n;
    this.rawEnd += n;
  }

  private push(c: number): void {
    if (this.decoded + 4 >= this.buf.length) {
      const bigger = new Int32Array(this.buf.length * 2 + 16);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.decoded++] = c;
  }

  /** Decode every complete character in the raw buffer (the inner loop of yaml_parser_update_buffer). */
  private decodeRaw(): void {
    const b = this.input;
    while (this.rawPos !== this.rawEnd) {
      const rawUnread = this.rawEnd - this.rawPos;
      let value: number;
      let width: number;
      if (this.encoding === ENC_UTF8) {
        let octet = b[this.rawPos]!;
        width = utf8Width(octet);
        if (width === 0) this.readerError('invalid leading UTF-8 octet');
        if (width > rawUnread) {
          if (this.eof) this.readerError('incomplete UTF-8 octet sequence');
          break;
        }
        value = width === 1 ? octet & 0x7f : width === 2 ? octet & 0x1f : width === 3 ? octet & 0x0f : octet & 0x07;
        for (let k = 1; k < width; k++) {
          octet = b[this.rawPos + k]!;
          if ((octet & 0xc0) !== 0x80) this.readerError('invalid trailing UTF-8 octet');
          value = (value << 6) + (octet & 0x3f);
        }
        if (!(width === 1 || (width === 2 && value >= 0x80) || (width === 3 && value >= 0x800) || (width === 4 && value >= 0x10000))) {
          this.readerError('invalid length of a UTF-8 sequence');
        }
        if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff) this.readerError('invalid Unicode character');
      } else {
        const [low, high] = this.encoding === ENC_UTF16LE ? [0, 1] : [1, 0];
        if (rawUnread < 2) {
          if (this.eof) this.readerError('incomplete UTF-16 character');
          break;
        }
        value = b[this.rawPos + low]! + (b[this.rawPos + high]! << 8);
        if ((value & 0xfc00) === 0xdc00) this.readerError('unexpected low surrogate area');
        if ((value & 0xfc00) === 0xd800) {
          width = 4;
          if (rawUnread < 4) {
            if (this.eof) this.readerError('incomplete UTF-16 surrogate pair');
            break;
          }
          const value2 = b[this.rawPos + low + 2]! + (b[this.rawPos + high + 2]! << 8);
          if ((value2 & 0xfc00) !== 0xdc00) this.readerError('expected low surrogate area');
          value = 0x10000 + ((value & 0x3ff) << 10) + (value2 & 0x3ff);
        } else {
          width = 2;
        }
      }
      if (
        !(
          value === 0x09 ||
          value === 0x0a ||
          value === 0x0d ||
          (value >= 0x20 && value <= 0x7e) ||
          value === 0x85 ||
          (value >= 0xa0 && value <= 0xd7ff) ||
          (value >= 0xe000 && value <= 0xfffd) ||
          (value >= 0x10000 && value <= 0x10ffff)
        )
      ) {
        this.readerError('control characters are not allowed');
      }
      this.rawPos += width;
      this.push(value);
    }
  }

  /** yaml_parser_update_buffer: make `length` characters available (NULs at the end). */
  private update(length: number): void {
    // The unread characters move to the start of the buffer (is_bom looks there).
    if (this.index > this.bufStart) this.bufStart = this.index;
    if (this.encoding === ENC_ANY) this.determineEncoding();
    let first = true;
    while (this.decoded - this.index < length) {
      if (!first || this.rawPos === this.rawEnd) this.updateRaw();
      first = false;
      this.decodeRaw();
      if (this.eof) {
        this.push(NUL);
        break;
      }
    }
  }

  private cache(length: number): void {
    if (this.decoded - this.index < length) this.update(length);
  }

  private at(k = 0): number {
    return this.buf[this.index + k]!;
  }

  // ------------------------------------------------------------------ moving

  private skip(): void {
    this.index++;
    this.column++;
  }

  private skipLine(): void {
    const c = this.at();
    if (c === CR && this.at(1) === LF) {
      this.index += 2;
      this.column = 0;
      this.line++;
    } else if (isBreak(c)) {
      this.index++;
      this.column = 0;
      this.line++;
    }
  }

  private read(s: number[]): void {
    s.push(this.at());
    this.index++;
    this.column++;
  }

  /** read_line: a break into `s` (CRLF, CR, LF, NEL become LF; LS and PS stay themselves). */
  private readLine(s: number[]): void {
    const c = this.at();
    if (c === CR && this.at(1) === LF) {
      s.push(LF);
      this.index += 2;
    } else if (c === CR || c === LF || c === NEL) {
      s.push(LF);
      this.index++;
    } else if (c === LS || c === PS) {
      s.push(c);
      this.index++;
    } else {
      return;
    }
    this.column = 0;
    this.line++;
  }

  // ------------------------------------------------------------------ tokens

  /** yaml_parser_fetch_more_tokens + the head token (peek_token). */
  peek(): Token {
    if (!this.tokenAvailable) this.fetchMoreTokens();
    return this.tokens[this.tokensHead]!;
  }

  /** skip_token. */
  skipToken(): void {
    this.tokenAvailable = false;
    this.tokensParsed++;
    this.streamEndProduced = this.tokens[this.tokensHead]!.type === T_STREAM_END;
    this.tokensHead++;
    if (this.tokensHead > 1024 && this.tokensHead * 2 > this.tokens.length) {
      this.tokens = this.tokens.slice(this.tokensHead);
      this.tokensHead = 0;
    }
  }

  private insertToken(pos: number, token: Token): void {
    if (pos < 0) {
      this.tokens.push(token);
      return;
    }
    this.tokens.splice(this.tokensHead + pos, 0, token);
  }

  private fetchMoreTokens(): void {
    for (;;) {
      if (this.tokensHead !== this.tokens.length) {
        const headIdx = this.simpleKeysByTok.get(this.tokensParsed);
        if (headIdx === undefined) break;
        if (!this.simpleKeyIsValid(this.simpleKeys[headIdx]!)) break;
      }
      this.fetchNextToken();
    }
    this.tokenAvailable = true;
  }

  private fetchNextToken(): void {
    this.cache(1);
    if (!this.streamStartProduced) {
      this.fetchStreamStart();
      return;
    }
    this.scanToNextToken();
    this.unrollIndent(this.column);
    this.cache(4);
    const c = this.at();
    if (c === NUL) return this.fetchStreamEnd();
    if (this.column === 0 && c === 0x25 /* % */) return this.fetchDirective();
    const c1 = this.at(1);
    const c2 = this.at(2);
    if (this.column === 0 && c === 0x2d && c1 === 0x2d && c2 === 0x2d && isBlankz(this.at(3))) return this.fetchDocumentIndicator(T_DOCUMENT_START);
    if (this.column === 0 && c === 0x2e && c1 === 0x2e && c2 === 0x2e && isBlankz(this.at(3))) return this.fetchDocumentIndicator(T_DOCUMENT_END);
    switch (c) {
      case 0x5b:
        return this.fetchFlowCollectionStart(T_FLOW_SEQUENCE_START);
      case 0x7b:
        return this.fetchFlowCollectionStart(T_FLOW_MAPPING_START);
      case 0x5d:
        return this.fetchFlowCollectionEnd(T_FLOW_SEQUENCE_END);
      case 0x7d:
        return this.fetchFlowCollectionEnd(T_FLOW_MAPPING_END);
      case 0x2c:
        return this.fetchFlowEntry();
    }
    if (c === 0x2d && isBlankz(c1)) return this.fetchBlockEntry();
    if (c === 0x3f && (this.flowLevel > 0 || isBlankz(c1))) return this.fetchKey();
    if (c === 0x3a && (this.flowLevel > 0 || isBlankz(c1))) return this.fetchValue();
    if (c === 0x2a) return this.fetchAnchor(T_ALIAS);
    if (c === 0x26) return this.fetchAnchor(T_ANCHOR);
    if (c === 0x21) return this.fetchTag();
    if (c === 0x7c && this.flowLevel === 0) return this.fetchBlockScalar(true);
    if (c === 0x3e && this.flowLevel === 0) return this.fetchBlockScalar(false);
    if (c === 0x27) return this.fetchFlowScalar(true);
    if (c === 0x22) return this.fetchFlowScalar(false);
    if (
      !(
        isBlankz(c) ||
        c === 0x2d || // -
        c === 0x3f || // ?
        c === 0x3a || // :
        c === 0x2c || // ,
        c === 0x5b || // [
        c === 0x5d || // ]
        c === 0x7b || // {
        c === 0x7d || // }
        c === 0x23 || // #
        c === 0x26 || // &
        c === 0x2a || // *
        c === 0x21 || // !
        c === 0x7c || // |
        c === 0x3e || // >
        c === 0x27 || // '
        c === 0x22 || // "
        c === 0x25 || // %
        c === 0x40 || // @
        c === 0x60 // `
      ) ||
      (c === 0x2d && !isBlank(c1)) ||
      (this.flowLevel === 0 && (c === 0x3f || c === 0x3a) && !isBlankz(c1))
    ) {
      return this.fetchPlainScalar();
    }
    this.scannerError('while scanning for the next token', this.mark(), 'found character that cannot start any token');
  }

  /** yaml_simple_key_is_valid (throws where Go returns ok=false). */
  private simpleKeyIsValid(key: SimpleKey): boolean {
    if (!key.possible) return false;
    if (key.mark.line < this.line || key.mark.index + 1024 < this.index) {
      if (key.required) this.scannerError('while scanning a simple key', key.mark, "could not find expected ':'");
      key.possible = false;
      return false;
    }
    return true;
  }

  private saveSimpleKey(): void {
    const required = this.flowLevel === 0 && this.indent === this.column;
    if (this.simpleKeyAllowed) {
      const key: SimpleKey = { possible: true, required, tokenNumber: this.tokensParsed + (this.tokens.length - this.tokensHead), mark: this.mark() };
      this.removeSimpleKey();
      this.simpleKeys[this.simpleKeys.length - 1] = key;
      this.simpleKeysByTok.set(key.tokenNumber, this.simpleKeys.length - 1);
    }
  }

  private removeSimpleKey(): void {
    const i = this.simpleKeys.length - 1;
    const key = this.simpleKeys[i]!;
    if (key.possible) {
      if (key.required) this.scannerError('while scanning a simple key', key.mark, "could not find expected ':'");
      key.possible = false;
      this.simpleKeysByTok.delete(key.tokenNumber);
    }
  }

  private increaseFlowLevel(): void {
    this.simpleKeys.push({ possible: false, required: false, tokenNumber: this.tokensParsed + (this.tokens.length - this.tokensHead), mark: this.mark() });
    this.flowLevel++;
    if (this.flowLevel > MAX_FLOW_LEVEL) {
      this.scannerError('while increasing flow level', this.simpleKeys[this.simpleKeys.length - 1]!.mark, `exceeded max depth of ${MAX_FLOW_LEVEL}`);
    }
  }

  private decreaseFlowLevel(): void {
    if (this.flowLevel > 0) {
      this.flowLevel--;
      const last = this.simpleKeys.pop()!;
      this.simpleKeysByTok.delete(last.tokenNumber);
    }
  }

  private rollIndent(column: number, number: number, type: number, mark: Mark): void {
    if (this.flowLevel > 0) return;
    if (this.indent < column) {
      this.indents.push(this.indent);
      this.indent = column;
      if (this.indents.length > MAX_INDENTS) {
        this.scannerError('while increasing indent level', this.simpleKeys[this.simpleKeys.length - 1]!.mark, `exceeded max depth of ${MAX_INDENTS}`);
      }
      const token: Token = { type, start: mark, end: mark };
      this.insertToken(number > -1 ? number - this.tokensParsed : number, token);
    }
  }

  private unrollIndent(column: number): void {
    if (this.flowLevel > 0) return;
    while (this.indent > column) {
      const m = this.mark();
      this.insertToken(-1, { type: T_BLOCK_END, start: m, end: m });
      this.indent = this.indents.pop()!;
    }
  }

  private fetchStreamStart(): void {
    this.indent = -1;
    this.simpleKeys.push({ possible: false, required: false, tokenNumber: 0, mark: { index: 0, line: 0, column: 0 } });
    this.simpleKeysByTok = new Map();
    this.simpleKeyAllowed = true;
    this.streamStartProduced = true;
    const m = this.mark();
    this.insertToken(-1, { type: T_STREAM_START, start: m, end: m });
  }

  private fetchStreamEnd(): void {
    if (this.column !== 0) {
      this.column = 0;
      this.line++;
    }
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    const m = this.mark();
    this.insertToken(-1, { type: T_STREAM_END, start: m, end: m });
  }

  private fetchDirective(): void {
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    this.insertToken(-1, this.scanDirective());
  }

  private fetchDocumentIndicator(type: number): void {
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    const start = this.mark();
    this.skip();
    this.skip();
    this.skip();
    this.insertToken(-1, { type, start, end: this.mark() });
  }

  private fetchFlowCollectionStart(type: number): void {
    this.saveSimpleKey();
    this.increaseFlowLevel();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.insertToken(-1, { type, start, end: this.mark() });
  }

  private fetchFlowCollectionEnd(type: number): void {
    this.removeSimpleKey();
    this.decreaseFlowLevel();
    this.simpleKeyAllowed = false;
    const start = this.mark();
    this.skip();
    this.insertToken(-1, { type, start, end: this.mark() });
  }

  private fetchFlowEntry(): void {
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.insertToken(-1, { type: T_FLOW_ENTRY, start, end: this.mark() });
  }

  private fetchBlockEntry(): void {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) this.scannerError('', this.mark(), 'block sequence entries are not allowed in this context');
      this.rollIndent(this.column, -1, T_BLOCK_SEQUENCE_START, this.mark());
    }
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.insertToken(-1, { type: T_BLOCK_ENTRY, start, end: this.mark() });
  }

  private fetchKey(): void {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) this.scannerError('', this.mark(), 'mapping keys are not allowed in this context');
      this.rollIndent(this.column, -1, T_BLOCK_MAPPING_START, this.mark());
    }
    this.removeSimpleKey();
    this.simpleKeyAllowed = this.flowLevel === 0;
    const start = this.mark();
    this.skip();
    this.insertToken(-1, { type: T_KEY, start, end: this.mark() });
  }

  private fetchValue(): void {
    const key = this.simpleKeys[this.simpleKeys.length - 1]!;
    if (this.simpleKeyIsValid(key)) {
      this.insertToken(key.tokenNumber - this.tokensParsed, { type: T_KEY, start: key.mark, end: key.mark });
      this.rollIndent(key.mark.column, key.tokenNumber, T_BLOCK_MAPPING_START, key.mark);
      key.possible = false;
      this.simpleKeysByTok.delete(key.tokenNumber);
      this.simpleKeyAllowed = false;
    } else {
      if (this.flowLevel === 0) {
        if (!this.simpleKeyAllowed) this.scannerError('', this.mark(), 'mapping values are not allowed in this context');
        this.rollIndent(this.column, -1, T_BLOCK_MAPPING_START, this.mark());
      }
      this.simpleKeyAllowed = this.flowLevel === 0;
    }
    const start = this.mark();
    this.skip();
    this.insertToken(-1, { type: T_VALUE, start, end: this.mark() });
  }

  private fetchAnchor(type: number): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.insertToken(-1, this.scanAnchor(type));
  }

  private fetchTag(): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.insertToken(-1, this.scanTag());
  }

  private fetchBlockScalar(literal: boolean): void {
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    this.insertToken(-1, this.scanBlockScalar(literal));
  }

  private fetchFlowScalar(single: boolean): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.insertToken(-1, this.scanFlowScalar(single));
  }

  private fetchPlainScalar(): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.insertToken(-1, this.scanPlainScalar());
  }

  private scanToNextToken(): void {
    for (;;) {
      this.cache(1);
      // is_bom looks at the start of libyaml's buffer, not at the current position.
      if (this.column === 0 && this.buf[this.bufStart] === BOM) this.skip();
      this.cache(1);
      while (this.at() === SPACE || ((this.flowLevel > 0 || !this.simpleKeyAllowed) && this.at() === TAB)) {
        this.skip();
        this.cache(1);
      }
      if (this.at() === 0x23) {
        while (!isBreakz(this.at())) {
          this.skip();
          this.cache(1);
        }
      }
      if (isBreak(this.at())) {
        this.cache(2);
        this.skipLine();
        if (this.flowLevel === 0) this.simpleKeyAllowed = true;
      } else {
        break;
      }
    }
  }

  // ------------------------------------------------------------------ directives

  private scanDirective(): Token {
    const start = this.mark();
    this.skip();
    const name = this.scanDirectiveName(start);
    let token: Token;
    if (name === 'YAML') {
      const [major, minor] = this.scanVersionDirectiveValue(start);
      token = { type: T_VERSION_DIRECTIVE, start, end: this.mark(), major, minor };
    } else if (name === 'TAG') {
      const [handle, prefix] = this.scanTagDirectiveValue(start);
      token = { type: T_TAG_DIRECTIVE, start, end: this.mark(), value: handle, prefix };
    } else {
      this.scannerError('while scanning a directive', start, 'found unknown directive name');
    }
    this.cache(1);
    while (isBlank(this.at())) {
      this.skip();
      this.cache(1);
    }
    if (this.at() === 0x23) {
      while (!isBreakz(this.at())) {
        this.skip();
        this.cache(1);
      }
    }
    if (!isBreakz(this.at())) this.scannerError('while scanning a directive', start, 'did not find expected comment or line break');
    if (isBreak(this.at())) {
      this.cache(2);
      this.skipLine();
    }
    return token;
  }

  private scanDirectiveName(start: Mark): string {
    this.cache(1);
    const s: number[] = [];
    while (isAlpha(this.at())) {
      this.read(s);
      this.cache(1);
    }
    if (s.length === 0) this.scannerError('while scanning a directive', start, 'could not find expected directive name');
    if (!isBlankz(this.at())) this.scannerError('while scanning a directive', start, 'found unexpected non-alphabetical character');
    return codePointsToString(s);
  }

  private scanVersionDirectiveValue(start: Mark): [number, number] {
    this.cache(1);
    while (isBlank(this.at())) {
      this.skip();
      this.cache(1);
    }
    const major = this.scanVersionDirectiveNumber(start);
    if (this.at() !== 0x2e) this.scannerError('while scanning a %YAML directive', start, "did not find expected digit or '.' character");
    this.skip();
    const minor = this.scanVersionDirectiveNumber(start);
    return [major, minor];
  }

  private scanVersionDirectiveNumber(start: Mark): number {
    this.cache(1);
    let value = 0;
    let length = 0;
    while (isDigit(this.at())) {
      length++;
      if (length > MAX_NUMBER_LENGTH) this.scannerError('while scanning a %YAML directive', start, 'found extremely long version number');
      value = value * 10 + (this.at() - 0x30);
      this.skip();
      this.cache(1);
    }
    if (length === 0) this.scannerError('while scanning a %YAML directive', start, 'did not find expected version number');
    return value;
  }

  private scanTagDirectiveValue(start: Mark): [string, string] {
    this.cache(1);
    while (isBlank(this.at())) {
      this.skip();
      this.cache(1);
    }
    const handle = this.scanTagHandle(true, start);
    this.cache(1);
    if (!isBlank(this.at())) this.scannerError('while scanning a %TAG directive', start, 'did not find expected whitespace');
    while (isBlank(this.at())) {
      this.skip();
      this.cache(1);
    }
    const prefix = this.scanTagUri(true, '', start);
    this.cache(1);
    if (!isBlankz(this.at())) this.scannerError('while scanning a %TAG directive', start, 'did not find expected whitespace or line break');
    return [handle, prefix];
  }

  // ------------------------------------------------------------------ anchors and tags

  private scanAnchor(type: number): Token {
    const start = this.mark();
    this.skip();
    this.cache(1);
    const s: number[] = [];
    while (isAlpha(this.at())) {
      this.read(s);
      this.cache(1);
    }
    const end = this.mark();
    const c = this.at();
    if (s.length === 0 || !(isBlankz(c) || c === 0x3f || c === 0x3a || c === 0x2c || c === 0x5d || c === 0x7d || c === 0x25 || c === 0x40 || c === 0x60)) {
      this.scannerError(type === T_ANCHOR ? 'while scanning an anchor' : 'while scanning an alias', start, 'did not find expected alphabetic or numeric character');
    }
    return { type, start, end, value: codePointsToString(s) };
  }

  private scanTag(): Token {
    const start = this.mark();
    let handle: string;
    let suffix: string;
    this.cache(2);
    if (this.at(1) === 0x3c /* < */) {
      handle = '';
      this.skip();
      this.skip();
      suffix = this.scanTagUri(false, '', start);
      if (this.at() !== 0x3e) this.scannerError('while scanning a tag', start, "did not find the expected '>'");
      this.skip();
    } else {
      handle = this.scanTagHandle(false, start);
      if (handle[0] === '!' && handle.length > 1 && handle[handle.length - 1] === '!') {
        suffix = this.scanTagUri(false, '', start);
      } else {
        suffix = this.scanTagUri(false, handle, start);
        handle = '!';
        if (suffix.length === 0) [handle, suffix] = [suffix, handle];
      }
    }
    this.cache(1);
    if (!isBlankz(this.at())) this.scannerError('while scanning a tag', start, 'did not find expected whitespace or line break');
    return { type: T_TAG, start, end: this.mark(), value: handle, suffix };
  }

  private scanTagHandle(directive: boolean, start: Mark): string {
    this.cache(1);
    if (this.at() !== 0x21) this.scannerError(directive ? 'while parsing a %TAG directive' : 'while parsing a tag', start, "did not find expected '!'");
    const s: number[] = [];
    this.read(s);
    this.cache(1);
    while (isAlpha(this.at())) {
      this.read(s);
      this.cache(1);
    }
    if (this.at() === 0x21) {
      this.read(s);
    } else if (directive && !(s.length === 1 && s[0] === 0x21)) {
      this.scannerError('while parsing a %TAG directive', start, "did not find expected '!'");
    }
    return codePointsToString(s);
  }

  /** A tag URI; `%xx` escapes are bytes (decoded as UTF-8 here; only ASCII tags mean anything). */
  private scanTagUri(directive: boolean, head: string, start: Mark): string {
    const bytes: number[] = [];
    let hasTag = head.length > 0;
    if (head.length > 1) for (const b of Buffer.from(head.slice(1), 'utf8')) bytes.push(b);
    this.cache(1);
    for (;;) {
      const c = this.at();
      if (
        !(
          isAlpha(c) ||
          c === 0x3b || // ;
          c === 0x2f || // /
          c === 0x3f || // ?
          c === 0x3a || // :
          c === 0x40 || // @
          c === 0x26 || // &
          c === 0x3d || // =
          c === 0x2b || // +
          c === 0x24 || // $
          c === 0x2c || // ,
          c === 0x2e || // .
          c === 0x21 || // !
          c === 0x7e || // ~
          c === 0x2a || // *
          c === 0x27 || // '
          c === 0x28 || // (
          c === 0x29 || // )
          c === 0x5b || // [
          c === 0x5d || // ]
          c === 0x25 // %
        )
      ) {
        break;
      }
      if (c === 0x25) {
        this.scanUriEscapes(directive, start, bytes);
      } else {
        bytes.push(c); // ASCII only (isAlpha and the punctuation above)
        this.skip();
      }
      this.cache(1);
      hasTag = true;
    }
    if (!hasTag) this.scannerError(directive ? 'while parsing a %TAG directive' : 'while parsing a tag', start, 'did not find expected tag URI');
    return Buffer.from(bytes).toString('utf8');
  }

  private scanUriEscapes(directive: boolean, start: Mark, s: number[]): void {
    const context = directive ? 'while parsing a %TAG directive' : 'while parsing a tag';
    let w = 1024;
    while (w > 0) {
      this.cache(3);
      if (!(this.at() === 0x25 && isHex(this.at(1)) && isHex(this.at(2)))) this.scannerError(context, start, 'did not find URI escaped octet');
      const octet = (asHex(this.at(1)) << 4) + asHex(this.at(2));
      if (w === 1024) {
        w = utf8Width(octet);
        if (w === 0) this.scannerError(context, start, 'found an incorrect leading UTF-8 octet');
      } else if ((octet & 0xc0) !== 0x80) {
        this.scannerError(context, start, 'found an incorrect trailing UTF-8 octet');
      }
      s.push(octet);
      this.skip();
      this.skip();
      this.skip();
      w--;
    }
  }

  // ------------------------------------------------------------------ scalars

  private scanBlockScalar(literal: boolean): Token {
    const start = this.mark();
    this.skip();
    this.cache(1);
    let chomping = 0;
    let increment = 0;
    if (this.at() === 0x2b || this.at() === 0x2d) {
      chomping = this.at() === 0x2b ? 1 : -1;
      this.skip();
      this.cache(1);
      if (isDigit(this.at())) {
        if (this.at() === 0x30) this.scannerError('while scanning a block scalar', start, 'found an indentation indicator equal to 0');
        increment = this.at() - 0x30;
        this.skip();
      }
    } else if (isDigit(this.at())) {
      if (this.at() === 0x30) this.scannerError('while scanning a block scalar', start, 'found an indentation indicator equal to 0');
      increment = this.at() - 0x30;
      this.skip();
      this.cache(1);
      if (this.at() === 0x2b || this.at() === 0x2d) {
        chomping = this.at() === 0x2b ? 1 : -1;
        this.skip();
      }
    }
    this.cache(1);
    while (isBlank(this.at())) {
      this.skip();
      this.cache(1);
    }
    if (this.at() === 0x23) {
      while (!isBreakz(this.at())) {
        this.skip();
        this.cache(1);
      }
    }
    if (!isBreakz(this.at())) this.scannerError('while scanning a block scalar', start, 'did not find expected comment or line break');
    if (isBreak(this.at())) {
      this.cache(2);
      this.skipLine();
    }
    let end = this.mark();
    let indent = 0;
    if (increment > 0) indent = this.indent >= 0 ? this.indent + increment : increment;

    const s: number[] = [];
    let leadingBreak: number[] = [];
    let trailingBreaks: number[] = [];
    ({ indent, end } = this.scanBlockScalarBreaks(indent, trailingBreaks, start));
    this.cache(1);
    let leadingBlank = false;
    let trailingBlank = false;
    while (this.column === indent && this.at() !== NUL) {
      trailingBlank = isBlank(this.at());
      if (!literal && !leadingBlank && !trailingBlank && leadingBreak.length > 0 && leadingBreak[0] === LF) {
        if (trailingBreaks.length === 0) s.push(SPACE);
      } else {
        for (const c of leadingBreak) s.push(c);
      }
      leadingBreak = [];
      for (const c of trailingBreaks) s.push(c);
      trailingBreaks = [];
      leadingBlank = isBlank(this.at());
      while (!isBreakz(this.at())) {
        this.read(s);
        this.cache(1);
      }
      this.cache(2);
      this.readLine(leadingBreak);
      ({ indent, end } = this.scanBlockScalarBreaks(indent, trailingBreaks, start));
    }
    // Chomp the tail. At the end of the input without a final line break there is no
    // leading break to keep: `|` and `|+` end without one.
    if (chomping !== -1) for (const c of leadingBreak) s.push(c);
    if (chomping === 1) for (const c of trailingBreaks) s.push(c);
    return { type: T_SCALAR, start, end, value: codePointsToString(s), style: literal ? S_LITERAL : S_FOLDED };
  }

  private scanBlockScalarBreaks(indentIn: number, breaks: number[], start: Mark): { indent: number; end: Mark } {
    let indent = indentIn;
    let end = this.mark();
    let maxIndent = 0;
    for (;;) {
      this.cache(1);
      while ((indent === 0 || this.column < indent) && this.at() === SPACE) {
        this.skip();
        this.cache(1);
      }
      if (this.column > maxIndent) maxIndent = this.column;
      if ((indent === 0 || this.column < indent) && this.at() === TAB) {
        this.scannerError('while scanning a block scalar', start, 'found a tab character where an indentation space is expected');
      }
      if (!isBreak(this.at())) break;
      this.cache(2);
      this.readLine(breaks);
      end = this.mark();
    }
    if (indent === 0) {
      indent = maxIndent;
      if (indent < this.indent + 1) indent = this.indent + 1;
      if (indent < 1) indent = 1;
    }
    return { indent, end };
  }

  private scanFlowScalar(single: boolean): Token {
    const start = this.mark();
    this.skip();
    const s: number[] = [];
    let leadingBreak: number[] = [];
    let trailingBreaks: number[] = [];
    let whitespaces: number[] = [];
    for (;;) {
      this.cache(4);
      if (
        this.column === 0 &&
        ((this.at() === 0x2d && this.at(1) === 0x2d && this.at(2) === 0x2d) || (this.at() === 0x2e && this.at(1) === 0x2e && this.at(2) === 0x2e)) &&
        isBlankz(this.at(3))
      ) {
        this.scannerError('while scanning a quoted scalar', start, 'found unexpected document indicator');
      }
      if (this.at() === NUL) this.scannerError('while scanning a quoted scalar', start, 'found unexpected end of stream');
      let leadingBlanks = false;
      while (!isBlankz(this.at())) {
        const c = this.at();
        if (single && c === 0x27 && this.at(1) === 0x27) {
          s.push(0x27);
          this.skip();
          this.skip();
        } else if (single && c === 0x27) {
          break;
        } else if (!single && c === 0x22) {
          break;
        } else if (!single && c === 0x5c && isBreak(this.at(1))) {
          this.cache(3);
          this.skip();
          this.skipLine();
          leadingBlanks = true;
          break;
        } else if (!single && c === 0x5c) {
          let codeLength = 0;
          switch (this.at(1)) {
            case 0x30: s.push(0); break; // prettier-ignore
            case 0x61: s.push(0x07); break; // prettier-ignore
            case 0x62: s.push(0x08); break; // prettier-ignore
            case 0x74:
            case TAB:
              s.push(TAB);
              break;
            case 0x6e: s.push(LF); break; // prettier-ignore
            case 0x76: s.push(0x0b); break; // prettier-ignore
            case 0x66: s.push(0x0c); break; // prettier-ignore
            case 0x72: s.push(CR); break; // prettier-ignore
            case 0x65: s.push(0x1b); break; // prettier-ignore
            case SPACE: s.push(SPACE); break; // prettier-ignore
            case 0x22: s.push(0x22); break; // prettier-ignore
            case 0x27: s.push(0x27); break; // prettier-ignore
            case 0x5c: s.push(0x5c); break; // prettier-ignore
            case 0x4e: s.push(NEL); break; // prettier-ignore
            case 0x5f: s.push(0xa0); break; // prettier-ignore
            case 0x4c: s.push(LS); break; // prettier-ignore
            case 0x50: s.push(PS); break; // prettier-ignore
            case 0x78: codeLength = 2; break; // prettier-ignore
            case 0x75: codeLength = 4; break; // prettier-ignore
            case 0x55: codeLength = 8; break; // prettier-ignore
            default:
              this.scannerError('while parsing a quoted scalar', start, 'found unknown escape character');
          }
          this.skip();
          this.skip();
          if (codeLength > 0) {
            let value = 0;
            this.cache(codeLength);
            for (let k = 0; k < codeLength; k++) {
              if (!isHex(this.at(k))) this.scannerError('while parsing a quoted scalar', start, 'did not find expected hexdecimal number');
              value = value * 16 + asHex(this.at(k));
            }
            if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff) {
              this.scannerError('while parsing a quoted scalar', start, 'found invalid Unicode character escape code');
            }
            s.push(value);
            for (let k = 0; k < codeLength; k++) this.skip();
          }
        } else {
          this.read(s);
        }
        this.cache(2);
      }
      this.cache(1);
      if (single ? this.at() === 0x27 : this.at() === 0x22) break;
      while (isBlank(this.at()) || isBreak(this.at())) {
        if (isBlank(this.at())) {
          if (!leadingBlanks) this.read(whitespaces);
          else this.skip();
        } else {
          this.cache(2);
          if (!leadingBlanks) {
            whitespaces = [];
            this.readLine(leadingBreak);
            leadingBlanks = true;
          } else {
            this.readLine(trailingBreaks);
          }
        }
        this.cache(1);
      }
      if (leadingBlanks) {
        if (leadingBreak.length > 0 && leadingBreak[0] === LF) {
          if (trailingBreaks.length === 0) s.push(SPACE);
          else for (const c of trailingBreaks) s.push(c);
        } else {
          for (const c of leadingBreak) s.push(c);
          for (const c of trailingBreaks) s.push(c);
        }
        trailingBreaks = [];
        leadingBreak = [];
      } else {
        for (const c of whitespaces) s.push(c);
        whitespaces = [];
      }
    }
    this.skip();
    return { type: T_SCALAR, start, end: this.mark(), value: codePointsToString(s), style: single ? S_SINGLE_QUOTED : S_DOUBLE_QUOTED };
  }

  private scanPlainScalar(): Token {
    const s: number[] = [];
    let leadingBreak: number[] = [];
    let trailingBreaks: number[] = [];
    let whitespaces: number[] = [];
    let leadingBlanks = false;
    const indent = this.indent + 1;
    const start = this.mark();
    let end = this.mark();
    for (;;) {
      this.cache(4);
      if (
        this.column === 0 &&
        ((this.at() === 0x2d && this.at(1) === 0x2d && this.at(2) === 0x2d) || (this.at() === 0x2e && this.at(1) === 0x2e && this.at(2) === 0x2e)) &&
        isBlankz(this.at(3))
      ) {
        break;
      }
      if (this.at() === 0x23) break;
      while (!isBlankz(this.at())) {
        const c = this.at();
        if (
          (c === 0x3a && isBlankz(this.at(1))) ||
          (this.flowLevel > 0 && (c === 0x2c || c === 0x3f || c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d))
        ) {
          break;
        }
        if (leadingBlanks || whitespaces.length > 0) {
          if (leadingBlanks) {
            if (leadingBreak[0] === LF) {
              if (trailingBreaks.length === 0) s.push(SPACE);
              else for (const b of trailingBreaks) s.push(b);
            } else {
              for (const b of leadingBreak) s.push(b);
              for (const b of trailingBreaks) s.push(b);
            }
            trailingBreaks = [];
            leadingBreak = [];
            leadingBlanks = false;
          } else {
            for (const b of whitespaces) s.push(b);
            whitespaces = [];
          }
        }
        this.read(s);
        end = this.mark();
        this.cache(2);
      }
      if (!(isBlank(this.at()) || isBreak(this.at()))) break;
      this.cache(1);
      while (isBlank(this.at()) || isBreak(this.at())) {
        if (isBlank(this.at())) {
          if (leadingBlanks && this.column < indent && this.at() === TAB) {
            this.scannerError('while scanning a plain scalar', start, 'found a tab character that violates indentation');
          }
          if (!leadingBlanks) this.read(whitespaces);
          else this.skip();
        } else {
          this.cache(2);
          if (!leadingBlanks) {
            whitespaces = [];
            this.readLine(leadingBreak);
            leadingBlanks = true;
          } else {
            this.readLine(trailingBreaks);
          }
        }
        this.cache(1);
      }
      if (this.flowLevel === 0 && this.column < indent) break;
    }
    if (leadingBlanks) this.simpleKeyAllowed = true;
    return { type: T_SCALAR, start, end, value: codePointsToString(s), style: S_PLAIN };
  }
}
