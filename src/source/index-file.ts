import { ChartMirrorError } from '../errors.js';
import { validateMetadata, type ChartMetadata, type Dependency, type Maintainer } from '../chart/metadata.js';
import { parseGoYamlFast } from '../helmcompat/goyaml.js';
import { formatFloat } from '../helmcompat/gostrconv.js';
import { normaliseIndexDigest } from '../util/digest.js';

/** One chart version as the index lists it, reduced to what mirroring needs. */
export interface IndexEntry {
  /** Chart name from the entry (Helm does not check it against the map key). */
  name: string;
  version: string;
  urls: string[];
  /** `sha256:<hex>` when the index gives a usable digest. */
  digest?: string;
  /** The index `created` value, as written. */
  created?: string;
  deprecated: boolean;
}

export interface IndexProblem {
  chart: string;
  version: string;
  reason: string;
}

export interface ParsedIndex {
  apiVersion?: string;
  entries: IndexEntry[];
  /** Versions Helm itself would drop, with the reason. */
  problems: IndexProblem[];
  /** Things Helm rejects but we tolerate (unknown keys), summarised. */
  warnings: string[];
}

const INDEX_KEYS = new Set(['apiversion', 'generated', 'entries', 'publickeys', 'annotations', 'serverinfo']);
/** ChartVersion keys beyond Chart.yaml's Metadata (Helm pkg/repo/index.go). */
const ENTRY_EXTRA_KEYS = new Set(['urls', 'created', 'removed', 'digest', 'checksum', 'engine', 'tillerversion', 'url']);
const METADATA_KEYS = new Set([
  'name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'apiversion',
  'condition', 'tags', 'appversion', 'deprecated', 'annotations', 'kubeversion', 'dependencies', 'type',
]);

/**
 * Parse index.yaml (YAML, or JSON when the body is valid JSON, as Helm does) with Helm's YAML
 * 1.1 reading. Unlike Helm, one bad entry or an unknown key does not fail the whole index:
 * entries Helm would drop become problems, unknown keys become warnings.
 */
export function parseIndex(bytes: Buffer, what: string): ParsedIndex {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') throw new ChartMirrorError('INDEX', `${what}: empty index.yaml file`);
  if (looksLikeJson(text)) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = undefined;
    }
    if (doc !== undefined) return fromDocument(doc, what, (acc, entries) => acc.addEntries(entries));
  }
  // Large indexes are read chart by chart: only one chart's parse tree is alive at a time.
  const split = splitEntries(text);
  if (split) {
    try {
      return fromDocument(parseGoYamlFast(split.head), what, (acc) => {
        for (const chunk of split.charts) {
          const doc = parseGoYamlFast(chunk) as { entries?: unknown };
          acc.addEntries(doc.entries);
        }
      });
    } catch (e) {
      if (e instanceof ChartMirrorError && e.code === 'INDEX') throw e; // refused: reading it whole changes nothing
      // Not as regular as it looked: read it whole, which also gives the right error message.
    }
  }
  let doc: unknown;
  try {
    doc = parseGoYamlFast(text);
  } catch (e) {
    if (e instanceof ChartMirrorError && e.code === 'INDEX') throw new ChartMirrorError('INDEX', `${what}: index.yaml refused: ${e.message}`);
    throw new ChartMirrorError('INDEX', `${what}: index.yaml is not valid YAML: ${(e as Error).message}`);
  }
  return fromDocument(doc, what, (acc, entries) => acc.addEntries(entries));
}

function fromDocument(
  doc: unknown,
  what: string,
  fill: (acc: IndexAccumulator, entries: unknown) => void,
): ParsedIndex {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ChartMirrorError('INDEX', `${what}: index.yaml is not a mapping`);
  }
  const root = doc as Record<string, unknown>;
  const acc = new IndexAccumulator();
  for (const k of Object.keys(root)) if (!INDEX_KEYS.has(k.toLowerCase())) acc.noteUnknown(k);
  const apiVersion = stringField(root, 'apiVersion');
  const rawEntries = fieldCI(root, 'entries');
  if (rawEntries !== undefined && rawEntries !== null && (typeof rawEntries !== 'object' || Array.isArray(rawEntries))) {
    throw new ChartMirrorError('INDEX', `${what}: index.yaml "entries" is not a mapping`);
  }
  try {
    fill(acc, rawEntries);
  } catch (e) {
    if (e instanceof IndexRefusal) throw new ChartMirrorError('INDEX', `${what}: index.yaml refused: ${e.message}`);
    throw e;
  }
  const warnings: string[] = [];
  if (!apiVersion) warnings.push('index.yaml has no apiVersion (Helm refuses such an index)');
  if (acc.unknownKeys.size > 0) {
    const list = [...acc.unknownKeys].slice(0, 5).map(([k, n]) => (n > 1 ? `${k} (${n}x)` : k));
    warnings.push(`unknown keys tolerated (Helm would refuse this index): ${list.join(', ')}${acc.unknownKeys.size > 5 ? ', …' : ''}`);
  }
  return { apiVersion, entries: acc.entries, problems: acc.problems, warnings };
}

/** Something in an entry that makes the whole index unusable (Helm refuses it too). */
class IndexRefusal extends Error {}

/** Entries, problems and unknown keys, gathered one chart at a time. */
class IndexAccumulator {
  readonly entries: IndexEntry[] = [];
  readonly problems: IndexProblem[] = [];
  readonly unknownKeys = new Map<string, number>();
  private readonly seen = new Set<string>();

  noteUnknown(k: string): void {
    this.unknownKeys.set(k, (this.unknownKeys.get(k) ?? 0) + 1);
  }

  addEntries(rawEntries: unknown): void {
    if (!rawEntries || typeof rawEntries !== 'object') return;
    for (const [key, list] of Object.entries(rawEntries as Record<string, unknown>)) {
      if (!Array.isArray(list)) {
        this.problems.push({ chart: key, version: '', reason: `index entry "${key}" is not a list of versions` });
        continue;
      }
      for (const raw of list) this.addEntry(key, raw);
    }
  }

  private addEntry(key: string, raw: unknown): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.problems.push({ chart: key, version: '', reason: `index lists an empty entry under "${key}"` });
      return;
    }
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      const lk = k.toLowerCase();
      if (!METADATA_KEYS.has(lk) && !ENTRY_EXTRA_KEYS.has(lk)) this.noteUnknown(`${key}[].${k}`);
    }
    const rawVersion = fieldCI(r, 'version');
    if (typeof rawVersion === 'number' || typeof rawVersion === 'bigint' || typeof rawVersion === 'boolean') {
      // Helm cannot read such an index at all ("cannot unmarshal number into Go struct field
      // ChartVersion.entries.version of type string"), and the text (1.10? 1.1?) is lost.
      const chart = scalarString(fieldCI(r, 'name')) || key;
      throw new IndexRefusal(
        `chart "${chart}" has version ${scalarString(rawVersion)} as a YAML ${typeof rawVersion === 'boolean' ? 'boolean' : 'number'}, not a string, ` +
          `which Helm refuses for the whole index (its text, such as 1.10 read as 1.1, cannot be told); quote it in index.yaml, e.g. version: "1.10"`,
      );
    }
    const versionLabel = scalarString(rawVersion) ?? '';
    let md: ChartMetadata;
    try {
      md = entryMetadata(r);
      validateEntry(md);
    } catch (e) {
      const reason = e instanceof EntryTypeError ? `Helm cannot read this entry: ${e.message}` : (e as Error).message;
      this.problems.push({ chart: scalarString(fieldCI(r, 'name')) || key, version: versionLabel, reason: `index entry dropped by Helm: ${reason}` });
      return;
    }
    const name = md.name!;
    const version = md.version!;
    const id = `${name}\u0000${version}`;
    if (this.seen.has(id)) return; // A version listed twice is one item (the first wins).
    this.seen.add(id);
    const urls = fieldCI(r, 'urls');
    // Copies, not slices: a slice of the parsed text would keep the whole index.yaml in memory.
    this.entries.push({
      name: detach(name),
      version: detach(version),
      urls: Array.isArray(urls) ? urls.map((u) => scalarString(u)).filter((u): u is string => Boolean(u)).map(detach) : [],
      digest: detach(normaliseIndexDigest(scalarString(fieldCI(r, 'digest')))),
      created: detach(scalarString(fieldCI(r, 'created'))),
      deprecated: md.deprecated === true,
    });
  }
}

/**
 * A string that does not share memory with the text it was read from. V8 represents substrings
 * of 13 characters or more as views of their parent; one such view would keep an 80 MB index
 * alive for the whole run.
 */
function detach<T extends string | undefined>(s: T): T {
  return (s === undefined || s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8')) as T;
}

/** Anchors, aliases, tags, merge keys, document markers: structure a line scan cannot follow. */
const IRREGULAR = /(?:^|[\s[{,])[&*!][^\s,\]}]|<<\s*:|^(?:---|\.\.\.|%)/m;
/**
 * A `<chart>:` line of the entries block (nothing after the colon but blanks or a comment):
 * the key as written, or undefined. A scan, not a regular expression: `[^:#]*\s*:` backtracks
 * quadratically over a long run of spaces.
 */
function chartKey(line: string): string | undefined {
  const first = line[0];
  let end: number;
  if (first === '"' || first === "'") {
    end = line.indexOf(first, 1);
    if (end < 0) return undefined;
    end++;
  } else {
    if (first === undefined || /[\s#'"\-{[]/.test(first)) return undefined;
    end = 0;
    while (end < line.length && line[end] !== ':' && line[end] !== '#') end++;
    if (line[end] !== ':') return undefined;
  }
  let i = end;
  while (i < line.length && /\s/.test(line[i]!)) i++;
  if (line[i] !== ':') return undefined;
  i++;
  while (i < line.length && /\s/.test(line[i]!)) i++;
  return i === line.length || line[i] === '#' ? line.slice(0, end) : undefined;
}

/**
 * Split an index written the way `helm repo index` and ChartMuseum write it (block style,
 * `entries:` at column 0, one `<chart>:` key per chart at one indentation) into a head (every
 * other top-level key) and one small YAML document per chart. Anything less regular returns
 * undefined and the whole document is parsed at once, as before.
 */
export function splitEntries(text: string): { head: string; charts: Iterable<string> } | undefined {
  if (IRREGULAR.test(text)) return undefined;
  const m = /^entries:[ \t]*(?:#.*)?$/m.exec(text);
  if (!m) return undefined;
  const blockStart = text.indexOf('\n', m.index) + 1;
  if (blockStart === 0) return undefined;
  const starts: number[] = [];
  const seen = new Set<string>();
  let keyIndent = -1;
  let pos = blockStart;
  let blockEnd = text.length;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? text.length : nl;
    let indent = 0;
    while (text.charCodeAt(pos + indent) === 32) indent++;
    const c = text[pos + indent];
    if (c === undefined || c === '\n' || c === '\r' || c === '#') {
      // blank or comment: belongs to whatever chart it sits in
    } else if (indent === 0) {
      blockEnd = pos; // the next top-level key ends the entries block
      break;
    } else if (c === '\t') {
      return undefined;
    } else {
      if (keyIndent < 0) keyIndent = indent;
      if (indent < keyIndent) return undefined;
      if (indent === keyIndent && !(c === '-' && /^- |^-$/.test(text.slice(pos + indent, pos + indent + 2)))) {
        const raw = text.slice(pos + indent, lineEnd);
        const key = chartKey(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
        if (key === undefined) return undefined;
        if (seen.has(key)) return undefined; // a duplicate chart key: YAML's last-wins needs the whole document
        seen.add(key);
        starts.push(pos);
      } else if (starts.length === 0) {
        return undefined;
      }
    }
    if (nl < 0) break;
    pos = nl + 1;
  }
  if (starts.length < 2) return undefined;
  const head = `${text.slice(0, m.index)}entries:\n${text.slice(blockEnd)}`;
  const charts = function* () {
    for (let i = 0; i < starts.length; i++) {
      yield `entries:\n${text.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : blockEnd)}`;
    }
  };
  return { head, charts: charts() };
}

function looksLikeJson(text: string): boolean {
  const c = text.trimStart()[0];
  return c === '{';
}

/** Go json / sigs.k8s.io/yaml field lookup: exact key first, else case-insensitive. */
function fieldCI(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

function stringField(obj: Record<string, unknown>, name: string): string | undefined {
  return scalarString(fieldCI(obj, name));
}

/** A YAML scalar as the string sigs.k8s.io/yaml puts in a Go string field (floats as float32 %g). */
function scalarString(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloat(v, 32);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

/** A value Go's json.Unmarshal would refuse for the field: Helm fails the whole index on it. */
class EntryTypeError extends Error {}

function str(obj: Record<string, unknown>, name: string): string | undefined {
  const v = fieldCI(obj, name);
  if (v === null || v === undefined) return undefined;
  const s = scalarString(v);
  if (s === undefined) throw new EntryTypeError(`${name} is not a string`);
  return s;
}

function strList(obj: Record<string, unknown>, name: string): string[] | undefined {
  const v = fieldCI(obj, name);
  if (v === null || v === undefined) return undefined;
  if (!Array.isArray(v)) throw new EntryTypeError(`${name} is not a list`);
  return v.map((x) => scalarString(x) ?? '');
}

function objList<T>(obj: Record<string, unknown>, name: string, each: (o: Record<string, unknown>) => T): (T | null)[] | undefined {
  const v = fieldCI(obj, name);
  if (v === null || v === undefined) return undefined;
  if (!Array.isArray(v)) throw new EntryTypeError(`${name} is not a list`);
  return v.map((x) => {
    if (x === null) return null;
    if (typeof x !== 'object' || Array.isArray(x)) throw new EntryTypeError(`${name} holds something other than mappings`);
    return each(x as Record<string, unknown>);
  });
}

/**
 * The fields of an index entry that Helm's Validate() looks at, decoded as sigs.k8s.io/yaml
 * decodes them into Metadata. A 100,000-version index is decoded in a fraction of a second this
 * way; Chart.yaml itself (what gets pushed) goes through the exact decoder in src/chart.
 */
function entryMetadata(r: Record<string, unknown>): ChartMetadata {
  const dep = fieldCI(r, 'deprecated');
  if (dep !== undefined && dep !== null && typeof dep !== 'boolean') throw new EntryTypeError('deprecated is not true or false');
  return {
    name: str(r, 'name'),
    version: str(r, 'version'),
    apiVersion: str(r, 'apiVersion') || 'v1',
    type: str(r, 'type'),
    deprecated: dep === true,
    sources: strList(r, 'sources'),
    keywords: strList(r, 'keywords'),
    maintainers: objList<Maintainer>(r, 'maintainers', (m) => ({ name: str(m, 'name'), email: str(m, 'email'), url: str(m, 'url') })),
    dependencies: objList<Dependency>(r, 'dependencies', (d) => ({
      name: str(d, 'name') ?? '',
      version: str(d, 'version'),
      repository: str(d, 'repository') ?? '',
      condition: str(d, 'condition'),
      tags: strList(d, 'tags'),
      alias: str(d, 'alias'),
    })),
  };
}

/** Helm's Validate(), minus the one error its index loader ignores (helm#12748, JFrog). */
function validateEntry(md: ChartMetadata): void {
  try {
    validateMetadata(md);
  } catch (e) {
    if (/more than one dependency with name or alias/.test((e as Error).message)) return;
    throw e;
  }
}
