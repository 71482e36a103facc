/**
 * WWW-Authenticate parsing (RFC 7235 §2.1, §4.1; RFC 9110 §11.6.1):
 *
 *   WWW-Authenticate = 1#challenge
 *   challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param       = token BWS "=" BWS ( token / quoted-string )
 *
 * Commas separate both challenges and parameters, so after each comma we look ahead: a token
 * followed by "=" is another parameter, anything else starts a new challenge.
 * The parser is lenient (registries are not always exact) and never throws.
 */

export interface Challenge {
  /** Lowercase: 'basic', 'bearer', ... */
  scheme: string;
  /** Parameter names in lowercase; values unquoted and unescaped. */
  params: Record<string, string>;
}

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

/** Several headers (string[]) are treated as one comma-joined list, as HTTP allows. */
export function parseWWWAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  return new Parser(text).challenges();
}

class Parser {
  private pos = 0;

  constructor(private readonly s: string) {}

  challenges(): Challenge[] {
    const out: Challenge[] = [];
    for (;;) {
      this.skipListSeparators();
      if (this.pos >= this.s.length) return out;
      const scheme = this.token();
      if (scheme === '') {
        // Garbage where a scheme should be: skip to the next comma and try again.
        this.skipPast(',');
        continue;
      }
      const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
      out.push(challenge);
      this.parseParams(challenge);
    }
  }

  private parseParams(challenge: Challenge): void {
    if (this.pos >= this.s.length) return;
    // A scheme must be followed by a space before its parameters; a comma means no parameters,
    // anything else is malformed and the outer loop resyncs at the next comma.
    if (this.s[this.pos] !== ' ' && this.s[this.pos] !== '\t') return;
    this.skipWhitespace();
    if (this.skipToken68()) return;
    for (;;) {
      const start = this.pos;
      const name = this.token();
      this.skipWhitespace();
      if (name === '' || this.s[this.pos] !== '=') {
        this.pos = start; // not a parameter: the next challenge starts here
        return;
      }
      this.pos++;
      this.skipWhitespace();
      const value = this.s[this.pos] === '"' ? this.quotedString() : this.token();
      const key = name.toLowerCase();
      // RFC 7235: a parameter name occurs at most once per challenge; keep the first.
      if (!Object.hasOwn(challenge.params, key) && key !== '__proto__') challenge.params[key] = value;
      this.skipWhitespace();
      if (this.pos >= this.s.length) return;
      if (this.s[this.pos] !== ',') {
        // Junk after a value: drop it up to the next comma.
        this.skipPast(',');
        if (this.pos >= this.s.length) return;
      }
      // Look past the comma(s): "name =" continues this challenge; anything else is a new one.
      this.skipListSeparators();
      const next = this.pos;
      const isParam = this.token() !== '' && (this.skipWhitespace(), this.s[this.pos] === '=');
      this.pos = next;
      if (!isParam) return;
    }
  }

  /** `Negotiate abc==`: a token68 blob instead of parameters. Nothing we use; skipped. */
  private skipToken68(): boolean {
    const m = TOKEN68.exec(this.s.slice(this.pos));
    if (!m) return false;
    let end = this.pos + m[0].length;
    while (end < this.s.length && (this.s[end] === ' ' || this.s[end] === '\t')) end++;
    // `realm=x` also starts like a token68; it is one only when the end or a comma follows.
    if (end < this.s.length && this.s[end] !== ',') return false;
    this.pos = end;
    return true;
  }

  private token(): string {
    const start = this.pos;
    while (this.pos < this.s.length && TCHAR.test(this.s[this.pos]!)) this.pos++;
    return this.s.slice(start, this.pos);
  }

  private quotedString(): string {
    let out = '';
    this.pos++; // opening quote
    while (this.pos < this.s.length) {
      const c = this.s[this.pos++]!;
      if (c === '"') return out;
      if (c === '\\' && this.pos < this.s.length) {
        out += this.s[this.pos++];
        continue;
      }
      out += c;
    }
    return out; // unterminated: take the rest rather than drop the parameter
  }

  private skipWhitespace(): void {
    while (this.pos < this.s.length && (this.s[this.pos] === ' ' || this.s[this.pos] === '\t')) this.pos++;
  }

  private skipListSeparators(): void {
    while (this.pos < this.s.length && /[ \t,]/.test(this.s[this.pos]!)) this.pos++;
  }

  private skipPast(c: string): void {
    const i = this.s.indexOf(c, this.pos);
    this.pos = i === -1 ? this.s.length : i + 1;
  }
}
