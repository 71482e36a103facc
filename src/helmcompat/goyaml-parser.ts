/**
 * libyaml's parser as gopkg.in/yaml.v2 v2.4.0 ports it (parserc.go: tokens to events), and the
 * node tree goyaml's Unmarshal builds from the events of the first document (decode.go:
 * `parser.parse`, `document`, `mapping`, `sequence`, `scalar`, `alias`, anchors). Same versions
 * as goyaml-scanner.ts.
 *
 * Go builds the tree recursively on a growable stack; here it is built with an explicit stack,
 * so 10,000 nested flow levels inside 10,000 indentation levels cost no JS call depth.
 */
import {
  LibyamlError,
  S_PLAIN,
  Scanner,
  T_ALIAS,
  T_ANCHOR,
  T_BLOCK_END,
  T_BLOCK_ENTRY,
  T_BLOCK_MAPPING_START,
  T_BLOCK_SEQUENCE_START,
  T_DOCUMENT_END,
  T_DOCUMENT_START,
  T_FLOW_ENTRY,
  T_FLOW_MAPPING_END,
  T_FLOW_MAPPING_START,
  T_FLOW_SEQUENCE_END,
  T_FLOW_SEQUENCE_START,
  T_KEY,
  T_SCALAR,
  T_STREAM_END,
  T_STREAM_START,
  T_TAG,
  T_TAG_DIRECTIVE,
  T_VALUE,
  T_VERSION_DIRECTIVE,
  type Mark,
} from './goyaml-scanner.js';

// Event types.
const E_STREAM_START = 1;
const E_STREAM_END = 2;
const E_DOCUMENT_START = 3;
const E_DOCUMENT_END = 4;
const E_ALIAS = 5;
const E_SCALAR = 6;
const E_SEQUENCE_START = 7;
const E_SEQUENCE_END = 8;
const E_MAPPING_START = 9;
const E_MAPPING_END = 10;

interface YamlEvent {
  type: number;
  start: Mark;
  anchor?: string;
  tag?: string;
  value?: string;
  /** plain_implicit */
  implicit?: boolean;
  style?: number;
}

// Parser states (yaml_parser_state_t).
const P_STREAM_START = 0;
const P_IMPLICIT_DOCUMENT_START = 1;
const P_DOCUMENT_START = 2;
const P_DOCUMENT_CONTENT = 3;
const P_DOCUMENT_END = 4;
const P_BLOCK_NODE = 5;
const P_BLOCK_NODE_OR_INDENTLESS_SEQUENCE = 6;
const P_FLOW_NODE = 7;
const P_BLOCK_SEQUENCE_FIRST_ENTRY = 8;
const P_BLOCK_SEQUENCE_ENTRY = 9;
const P_INDENTLESS_SEQUENCE_ENTRY = 10;
const P_BLOCK_MAPPING_FIRST_KEY = 11;
const P_BLOCK_MAPPING_KEY = 12;
const P_BLOCK_MAPPING_VALUE = 13;
const P_FLOW_SEQUENCE_FIRST_ENTRY = 14;
const P_FLOW_SEQUENCE_ENTRY = 15;
const P_FLOW_SEQUENCE_ENTRY_MAPPING_KEY = 16;
const P_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE = 17;
const P_FLOW_SEQUENCE_ENTRY_MAPPING_END = 18;
const P_FLOW_MAPPING_FIRST_KEY = 19;
const P_FLOW_MAPPING_KEY = 20;
const P_FLOW_MAPPING_VALUE = 21;
const P_FLOW_MAPPING_EMPTY_VALUE = 22;
const P_END = 23;

interface TagDirective {
  handle: string;
  prefix: string;
}

const DEFAULT_TAG_DIRECTIVES: TagDirective[] = [
  { handle: '!', prefix: '!' },
  { handle: '!!', prefix: 'tag:yaml.org,2002:' },
];

function parserError(problem: string, problemMark: Mark, contextMark?: Mark): never {
  throw new LibyamlError('parser', problem, problemMark, contextMark);
}

/** yaml_parser_t's parsing half: `parse()` returns the next event. */
class EventParser {
  private state = P_STREAM_START;
  private states: number[] = [];
  private marks: Mark[] = [];
  private tagDirectives: TagDirective[] = [];

  constructor(private readonly s: Scanner) {}

  parse(): YamlEvent | undefined {
    if (this.s.streamEndProduced || this.state === P_END) return undefined;
    return this.stateMachine();
  }

  private popState(): void {
    this.state = this.states.pop()!;
  }

  private stateMachine(): YamlEvent {
    switch (this.state) {
      case P_STREAM_START:
        return this.parseStreamStart();
      case P_IMPLICIT_DOCUMENT_START:
        return this.parseDocumentStart(true);
      case P_DOCUMENT_START:
        return this.parseDocumentStart(false);
      case P_DOCUMENT_CONTENT:
        return this.parseDocumentContent();
      case P_DOCUMENT_END:
        return this.parseDocumentEnd();
      case P_BLOCK_NODE:
        return this.parseNode(true, false);
      case P_BLOCK_NODE_OR_INDENTLESS_SEQUENCE:
        return this.parseNode(true, true);
      case P_FLOW_NODE:
        return this.parseNode(false, false);
      case P_BLOCK_SEQUENCE_FIRST_ENTRY:
        return this.parseBlockSequenceEntry(true);
      case P_BLOCK_SEQUENCE_ENTRY:
        return this.parseBlockSequenceEntry(false);
      case P_INDENTLESS_SEQUENCE_ENTRY:
        return this.parseIndentlessSequenceEntry();
      case P_BLOCK_MAPPING_FIRST_KEY:
        return this.parseBlockMappingKey(true);
      case P_BLOCK_MAPPING_KEY:
        return this.parseBlockMappingKey(false);
      case P_BLOCK_MAPPING_VALUE:
        return this.parseBlockMappingValue();
      case P_FLOW_SEQUENCE_FIRST_ENTRY:
        return this.parseFlowSequenceEntry(true);
      case P_FLOW_SEQUENCE_ENTRY:
        return this.parseFlowSequenceEntry(false);
      case P_FLOW_SEQUENCE_ENTRY_MAPPING_KEY:
        return this.parseFlowSequenceEntryMappingKey();
      case P_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE:
        return this.parseFlowSequenceEntryMappingValue();
      case P_FLOW_SEQUENCE_ENTRY_MAPPING_END:
        return this.parseFlowSequenceEntryMappingEnd();
      case P_FLOW_MAPPING_FIRST_KEY:
        return this.parseFlowMappingKey(true);
      case P_FLOW_MAPPING_KEY:
        return this.parseFlowMappingKey(false);
      case P_FLOW_MAPPING_VALUE:
        return this.parseFlowMappingValue(false);
      case P_FLOW_MAPPING_EMPTY_VALUE:
        return this.parseFlowMappingValue(true);
      default:
        throw new Error('invalid parser state');
    }
  }

  private parseStreamStart(): YamlEvent {
    const token = this.s.peek();
    if (token.type !== T_STREAM_START) parserError('did not find expected <stream-start>', token.start);
    this.state = P_IMPLICIT_DOCUMENT_START;
    this.s.skipToken();
    return { type: E_STREAM_START, start: token.start };
  }

  private parseDocumentStart(implicit: boolean): YamlEvent {
    let token = this.s.peek();
    if (!implicit) {
      while (token.type === T_DOCUMENT_END) {
        this.s.skipToken();
        token = this.s.peek();
      }
    }
    if (implicit && token.type !== T_VERSION_DIRECTIVE && token.type !== T_TAG_DIRECTIVE && token.type !== T_DOCUMENT_START && token.type !== T_STREAM_END) {
      this.processDirectives();
      this.states.push(P_DOCUMENT_END);
      this.state = P_BLOCK_NODE;
      return { type: E_DOCUMENT_START, start: token.start };
    }
    if (token.type !== T_STREAM_END) {
      const start = token.start;
      this.processDirectives();
      token = this.s.peek();
      if (token.type !== T_DOCUMENT_START) parserError('did not find expected <document start>', token.start);
      this.states.push(P_DOCUMENT_END);
      this.state = P_DOCUMENT_CONTENT;
      this.s.skipToken();
      return { type: E_DOCUMENT_START, start };
    }
    this.state = P_END;
    this.s.skipToken();
    return { type: E_STREAM_END, start: token.start };
  }

  private parseDocumentContent(): YamlEvent {
    const token = this.s.peek();
    if (
      token.type === T_VERSION_DIRECTIVE ||
      token.type === T_TAG_DIRECTIVE ||
      token.type === T_DOCUMENT_START ||
      token.type === T_DOCUMENT_END ||
      token.type === T_STREAM_END
    ) {
      this.popState();
      return emptyScalar(token.start);
    }
    return this.parseNode(true, false);
  }

  private parseDocumentEnd(): YamlEvent {
    const token = this.s.peek();
    const start = token.start;
    if (token.type === T_DOCUMENT_END) this.s.skipToken();
    this.tagDirectives = [];
    this.state = P_DOCUMENT_START;
    return { type: E_DOCUMENT_END, start };
  }

  private parseNode(block: boolean, indentlessSequence: boolean): YamlEvent {
    let token = this.s.peek();
    if (token.type === T_ALIAS) {
      this.popState();
      this.s.skipToken();
      return { type: E_ALIAS, start: token.start, anchor: token.value };
    }
    let start = token.start;
    let tagToken = false;
    let tagHandle = '';
    let tagSuffix = '';
    let anchor: string | undefined;
    let tagMark = token.start;
    if (token.type === T_ANCHOR) {
      anchor = token.value;
      start = token.start;
      this.s.skipToken();
      token = this.s.peek();
      if (token.type === T_TAG) {
        tagToken = true;
        tagHandle = token.value!;
        tagSuffix = token.suffix!;
        tagMark = token.start;
        this.s.skipToken();
        token = this.s.peek();
      }
    } else if (token.type === T_TAG) {
      tagToken = true;
      tagHandle = token.value!;
      tagSuffix = token.suffix!;
      start = token.start;
      tagMark = token.start;
      this.s.skipToken();
      token = this.s.peek();
      if (token.type === T_ANCHOR) {
        anchor = token.value;
        this.s.skipToken();
        token = this.s.peek();
      }
    }
    let tag = '';
    if (tagToken) {
      if (tagHandle.length === 0) {
        tag = tagSuffix;
      } else {
        const d = this.tagDirectives.find((x) => x.handle === tagHandle);
        if (d) tag = d.prefix + tagSuffix;
        if (tag.length === 0) parserError('found undefined tag handle', tagMark, start);
      }
    }
    // libyaml compares lengths in bytes; only the empty tag matters here.
    const implicit = tag.length === 0;
    if (indentlessSequence && token.type === T_BLOCK_ENTRY) {
      this.state = P_INDENTLESS_SEQUENCE_ENTRY;
      return { type: E_SEQUENCE_START, start, anchor, tag, implicit };
    }
    if (token.type === T_SCALAR) {
      const plainImplicit = (tag.length === 0 && token.style === S_PLAIN) || tag === '!';
      this.popState();
      this.s.skipToken();
      return { type: E_SCALAR, start, anchor, tag, value: token.value, implicit: plainImplicit, style: token.style };
    }
    if (token.type === T_FLOW_SEQUENCE_START) {
      this.state = P_FLOW_SEQUENCE_FIRST_ENTRY;
      return { type: E_SEQUENCE_START, start, anchor, tag, implicit };
    }
    if (token.type === T_FLOW_MAPPING_START) {
      this.state = P_FLOW_MAPPING_FIRST_KEY;
      return { type: E_MAPPING_START, start, anchor, tag, implicit };
    }
    if (block && token.type === T_BLOCK_SEQUENCE_START) {
      this.state = P_BLOCK_SEQUENCE_FIRST_ENTRY;
      return { type: E_SEQUENCE_START, start, anchor, tag, implicit };
    }
    if (block && token.type === T_BLOCK_MAPPING_START) {
      this.state = P_BLOCK_MAPPING_FIRST_KEY;
      return { type: E_MAPPING_START, start, anchor, tag, implicit };
    }
    if ((anchor !== undefined && anchor.length > 0) || tag.length > 0) {
      this.popState();
      return { type: E_SCALAR, start, anchor, tag, value: '', implicit, style: S_PLAIN };
    }
    parserError('did not find expected node content', token.start, start);
  }

  private parseBlockSequenceEntry(first: boolean): YamlEvent {
    if (first) {
      this.marks.push(this.s.peek().start);
      this.s.skipToken();
    }
    let token = this.s.peek();
    if (token.type === T_BLOCK_ENTRY) {
      const mark = token.end;
      this.s.skipToken();
      token = this.s.peek();
      if (token.type !== T_BLOCK_ENTRY && token.type !== T_BLOCK_END) {
        this.states.push(P_BLOCK_SEQUENCE_ENTRY);
        return this.parseNode(true, false);
      }
      this.state = P_BLOCK_SEQUENCE_ENTRY;
      return emptyScalar(mark);
    }
    if (token.type === T_BLOCK_END) {
      this.popState();
      this.marks.pop();
      this.s.skipToken();
      return { type: E_SEQUENCE_END, start: token.start };
    }
    const contextMark = this.marks.pop();
    parserError("did not find expected '-' indicator", token.start, contextMark);
  }

  private parseIndentlessSequenceEntry(): YamlEvent {
    let token = this.s.peek();
    if (token.type === T_BLOCK_ENTRY) {
      const mark = token.end;
      this.s.skipToken();
      token = this.s.peek();
      if (token.type !== T_BLOCK_ENTRY && token.type !== T_KEY && token.type !== T_VALUE && token.type !== T_BLOCK_END) {
        this.states.push(P_INDENTLESS_SEQUENCE_ENTRY);
        return this.parseNode(true, false);
      }
      this.state = P_INDENTLESS_SEQUENCE_ENTRY;
      return emptyScalar(mark);
    }
    this.popState();
    return { type: E_SEQUENCE_END, start: token.start };
  }

  private parseBlockMappingKey(first: boolean): YamlEvent {
    if (first) {
      this.marks.push(this.s.peek().start);
      this.s.skipToken();
    }
    let token = this.s.peek();
    if (token.type === T_KEY) {
      const mark = token.end;
      this.s.skipToken();
      token = this.s.peek();
      if (token.type !== T_KEY && token.type !== T_VALUE && token.type !== T_BLOCK_END) {
        this.states.push(P_BLOCK_MAPPING_VALUE);
        return this.parseNode(true, true);
      }
      this.state = P_BLOCK_MAPPING_VALUE;
      return emptyScalar(mark);
    }
    if (token.type === T_BLOCK_END) {
      this.popState();
      this.marks.pop();
      this.s.skipToken();
      return { type: E_MAPPING_END, start: token.start };
    }
    const contextMark = this.marks.pop();
    parserError('did not find expected key', token.start, contextMark);
  }

  private parseBlockMappingValue(): YamlEvent {
    let token = this.s.peek();
    if (token.type === T_VALUE) {
      const mark = token.end;
      this.s.skipToken();
      token = this.s.peek();
      if (token.type !== T_KEY && token.type !== T_VALUE && token.type !== T_BLOCK_END) {
        this.states.push(P_BLOCK_MAPPING_KEY);
        return this.parseNode(true, true);
      }
      this.state = P_BLOCK_MAPPING_KEY;
      return emptyScalar(mark);
    }
    this.state = P_BLOCK_MAPPING_KEY;
    return emptyScalar(token.start);
  }

  private parseFlowSequenceEntry(first: boolean): YamlEvent {
    if (first) {
      this.marks.push(this.s.peek().start);
      this.s.skipToken();
    }
    let token = this.s.peek();
    if (token.type !== T_FLOW_SEQUENCE_END) {
      if (!first) {
        if (token.type === T_FLOW_ENTRY) {
          this.s.skipToken();
          token = this.s.peek();
        } else {
          const contextMark = this.marks.pop();
          parserError("did not find expected ',' or ']'", token.start, contextMark);
        }
      }
      if (token.type === T_KEY) {
        this.state = P_FLOW_SEQUENCE_ENTRY_MAPPING_KEY;
        this.s.skipToken();
        return { type: E_MAPPING_START, start: token.start, implicit: true, tag: '' };
      } else if (token.type !== T_FLOW_SEQUENCE_END) {
        this.states.push(P_FLOW_SEQUENCE_ENTRY);
        return this.parseNode(false, false);
      }
    }
    this.popState();
    this.marks.pop();
    this.s.skipToken();
    return { type: E_SEQUENCE_END, start: token.start };
  }

  private parseFlowSequenceEntryMappingKey(): YamlEvent {
    const token = this.s.peek();
    if (token.type !== T_VALUE && token.type !== T_FLOW_ENTRY && token.type !== T_FLOW_SEQUENCE_END) {
      this.states.push(P_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE);
      return this.parseNode(false, false);
    }
    const mark = token.end;
    this.s.skipToken();
    this.state = P_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE;
    return emptyScalar(mark);
  }

  private parseFlowSequenceEntryMappingValue(): YamlEvent {
    const token = this.s.peek();
    if (token.type === T_VALUE) {
      this.s.skipToken();
      const next = this.s.peek();
      if (next.type !== T_FLOW_ENTRY && next.type !== T_FLOW_SEQUENCE_END) {
        this.states.push(P_FLOW_SEQUENCE_ENTRY_MAPPING_END);
        return this.parseNode(false, false);
      }
      // Go shadows `token` inside the if: the empty scalar below takes the VALUE token's mark.
    }
    this.state = P_FLOW_SEQUENCE_ENTRY_MAPPING_END;
    return emptyScalar(token.start);
  }

  private parseFlowSequenceEntryMappingEnd(): YamlEvent {
    const token = this.s.peek();
    this.state = P_FLOW_SEQUENCE_ENTRY;
    return { type: E_MAPPING_END, start: token.start };
  }

  private parseFlowMappingKey(first: boolean): YamlEvent {
    if (first) {
      this.marks.push(this.s.peek().start);
      this.s.skipToken();
    }
    let token = this.s.peek();
    if (token.type !== T_FLOW_MAPPING_END) {
      if (!first) {
        if (token.type === T_FLOW_ENTRY) {
          this.s.skipToken();
          token = this.s.peek();
        } else {
          const contextMark = this.marks.pop();
          parserError("did not find expected ',' or '}'", token.start, contextMark);
        }
      }
      if (token.type === T_KEY) {
        this.s.skipToken();
        token = this.s.peek();
        if (token.type !== T_VALUE && token.type !== T_FLOW_ENTRY && token.type !== T_FLOW_MAPPING_END) {
          this.states.push(P_FLOW_MAPPING_VALUE);
          return this.parseNode(false, false);
        }
        this.state = P_FLOW_MAPPING_VALUE;
        return emptyScalar(token.start);
      } else if (token.type !== T_FLOW_MAPPING_END) {
        this.states.push(P_FLOW_MAPPING_EMPTY_VALUE);
        return this.parseNode(false, false);
      }
    }
    this.popState();
    this.marks.pop();
    this.s.skipToken();
    return { type: E_MAPPING_END, start: token.start };
  }

  private parseFlowMappingValue(empty: boolean): YamlEvent {
    let token = this.s.peek();
    if (empty) {
      this.state = P_FLOW_MAPPING_KEY;
      return emptyScalar(token.start);
    }
    if (token.type === T_VALUE) {
      this.s.skipToken();
      token = this.s.peek();
      if (token.type !== T_FLOW_ENTRY && token.type !== T_FLOW_MAPPING_END) {
        this.states.push(P_FLOW_MAPPING_KEY);
        return this.parseNode(false, false);
      }
    }
    this.state = P_FLOW_MAPPING_KEY;
    return emptyScalar(token.start);
  }

  private processDirectives(): void {
    let token = this.s.peek();
    let versionSeen = false;
    while (token.type === T_VERSION_DIRECTIVE || token.type === T_TAG_DIRECTIVE) {
      if (token.type === T_VERSION_DIRECTIVE) {
        if (versionSeen) parserError('found duplicate %YAML directive', token.start);
        if (token.major !== 1 || token.minor !== 1) parserError('found incompatible YAML document', token.start);
        versionSeen = true;
      } else {
        this.appendTagDirective({ handle: token.value!, prefix: token.prefix! }, false, token.start);
      }
      this.s.skipToken();
      token = this.s.peek();
    }
    for (const d of DEFAULT_TAG_DIRECTIVES) this.appendTagDirective(d, true, token.start);
  }

  private appendTagDirective(value: TagDirective, allowDuplicates: boolean, mark: Mark): void {
    if (this.tagDirectives.some((d) => d.handle === value.handle)) {
      if (allowDuplicates) return;
      parserError('found duplicate %TAG directive', mark);
    }
    this.tagDirectives.push({ ...value });
  }
}

function emptyScalar(mark: Mark): YamlEvent {
  return { type: E_SCALAR, start: mark, value: '', implicit: true, style: S_PLAIN, tag: '' };
}

// ---------------------------------------------------------------------------------------------
// decode.go: the node tree of the first document

export const N_DOCUMENT = 1;
export const N_MAPPING = 2;
export const N_SEQUENCE = 4;
export const N_SCALAR = 8;
export const N_ALIAS = 16;

export interface YamlNode {
  kind: number;
  line: number;
  tag: string;
  value: string;
  /** plain_implicit: an untagged plain scalar, or one tagged `!`. */
  implicit: boolean;
  /** For an alias: the node its anchor named. */
  alias?: YamlNode;
  children: YamlNode[];
}

/** A goyaml failf(): `yaml: <msg>`. */
export class GoYamlError extends Error {}

function node(kind: number, e: YamlEvent): YamlNode {
  return { kind, line: e.start.line, tag: '', value: '', implicit: false, children: [] };
}

/**
 * goyaml v2 `newParser(in).parse()`: the first document's node tree (undefined for an empty
 * stream). Reads no further than the parser needs to see the document end. Throws
 * LibyamlError or GoYamlError with goyaml's messages.
 */
export function parseFirstDocument(input: Uint8Array): YamlNode | undefined {
  const p = new EventParser(new Scanner(input));
  let pending: YamlEvent | undefined;
  const peek = (): YamlEvent => {
    if (!pending) {
      pending = p.parse();
      if (!pending) throw new GoYamlError('yaml: attempted to go past the end of stream; corrupted value?');
    }
    return pending;
  };
  const expect = (type: number): YamlEvent => {
    const e = peek();
    if (e.type === E_STREAM_END) throw new GoYamlError('yaml: attempted to go past the end of stream; corrupted value?');
    if (e.type !== type) throw new GoYamlError(`yaml: expected event ${type} but got ${e.type}`);
    pending = undefined;
    return e;
  };
  expect(E_STREAM_START);

  let anchors = new Map<string, YamlNode>();
  // Open collections and documents; a finished node is appended to the top one.
  const stack: YamlNode[] = [];
  let root: YamlNode | undefined;
  const attach = (n: YamlNode): void => {
    if (stack.length) stack[stack.length - 1]!.children.push(n);
    else root = n;
  };
  const anchor = (n: YamlNode, name: string | undefined): void => {
    if (name !== undefined) anchors.set(name, n);
  };

  do {
    const top = stack[stack.length - 1];
    if (top && top.kind === N_SEQUENCE && peek().type === E_SEQUENCE_END) {
      expect(E_SEQUENCE_END);
      stack.pop();
      continue;
    }
    if (top && top.kind === N_MAPPING && top.children.length % 2 === 0 && peek().type === E_MAPPING_END) {
      expect(E_MAPPING_END);
      stack.pop();
      continue;
    }
    if (top && top.kind === N_DOCUMENT && top.children.length === 1) {
      expect(E_DOCUMENT_END);
      stack.pop();
      continue;
    }
    const e = peek();
    switch (e.type) {
      case E_SCALAR: {
        const n = node(N_SCALAR, e);
        n.value = e.value ?? '';
        n.tag = e.tag ?? '';
        n.implicit = e.implicit === true;
        anchor(n, e.anchor);
        expect(E_SCALAR);
        attach(n);
        break;
      }
      case E_ALIAS: {
        const n = node(N_ALIAS, e);
        n.value = e.anchor ?? '';
        n.alias = anchors.get(n.value);
        if (!n.alias) throw new GoYamlError(`yaml: unknown anchor '${n.value}' referenced`);
        expect(E_ALIAS);
        attach(n);
        break;
      }
      case E_MAPPING_START:
      case E_SEQUENCE_START: {
        const n = node(e.type === E_MAPPING_START ? N_MAPPING : N_SEQUENCE, e);
        n.tag = e.tag ?? '';
        anchor(n, e.anchor);
        expect(e.type);
        attach(n);
        stack.push(n);
        break;
      }
      case E_DOCUMENT_START: {
        const n = node(N_DOCUMENT, e);
        anchors = new Map();
        expect(E_DOCUMENT_START);
        attach(n);
        stack.push(n);
        break;
      }
      case E_STREAM_END:
        if (!stack.length) return undefined; // an empty stream
        throw new GoYamlError('yaml: attempted to go past the end of stream; corrupted value?');
      default:
        throw new GoYamlError(`yaml: attempted to parse unknown event: ${e.type}`);
    }
  } while (stack.length);
  return root;
}
