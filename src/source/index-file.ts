import { ChartMirrorError } from '../errors.js';
import { parseGoYamlFast } from '../chart/goyaml.js';
import { validateMetadata, type ChartMetadata, type Dependency, type Maintainer } from '../chart/metadata.js';
import { formatFloat } from '../util/gojson.js';
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
  let doc: unknown;
  if (looksLikeJson(text)) {
    try {
      doc = JSON.parse(text);
    } catch {
      doc = undefined;
    }
  }
  if (doc === undefined) {
    try {
      doc = parseGoYamlFast(text);
    } catch (e) {
      throw new ChartMirrorError('INDEX', `${what}: index.yaml is not valid YAML: ${(e as Error).message}`);
    }
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ChartMirrorError('INDEX', `${what}: index.yaml is not a mapping`);
  }
  const root = doc as Record<string, unknown>;
  const unknownKeys = new Map<string, number>();
  const noteUnknown = (k: string) => unknownKeys.set(k, (unknownKeys.get(k) ?? 0) + 1);
  for (const k of Object.keys(root)) if (!INDEX_KEYS.has(k.toLowerCase())) noteUnknown(k);

  const apiVersion = stringField(root, 'apiVersion');
  const warnings: string[] = [];
  if (!apiVersion) warnings.push('index.yaml has no apiVersion (Helm refuses such an index)');

  const rawEntries = fieldCI(root, 'entries');
  if (rawEntries !== undefined && rawEntries !== null && (typeof rawEntries !== 'object' || Array.isArray(rawEntries))) {
    throw new ChartMirrorError('INDEX', `${what}: index.yaml "entries" is not a mapping`);
  }
  const entries: IndexEntry[] = [];
  const problems: IndexProblem[] = [];
  const seen = new Set<string>();

  for (const [key, list] of Object.entries((rawEntries ?? {}) as Record<string, unknown>)) {
    if (!Array.isArray(list)) {
      problems.push({ chart: key, version: '', reason: `index entry "${key}" is not a list of versions` });
      continue;
    }
    for (const raw of list) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        problems.push({ chart: key, version: '', reason: `index lists an empty entry under "${key}"` });
        continue;
      }
      const r = raw as Record<string, unknown>;
      for (const k of Object.keys(r)) {
        const lk = k.toLowerCase();
        if (!METADATA_KEYS.has(lk) && !ENTRY_EXTRA_KEYS.has(lk)) noteUnknown(`${key}[].${k}`);
      }
      const versionLabel = scalarString(fieldCI(r, 'version')) ?? '';
      let md: ChartMetadata;
      try {
        md = entryMetadata(r);
        validateEntry(md);
      } catch (e) {
        const reason = e instanceof EntryTypeError ? `Helm cannot read this entry: ${e.message}` : (e as Error).message;
        problems.push({ chart: scalarString(fieldCI(r, 'name')) || key, version: versionLabel, reason: `index entry dropped by Helm: ${reason}` });
        continue;
      }
      const name = md.name!;
      const version = md.version!;
      const id = `${name}\u0000${version}`;
      if (seen.has(id)) continue; // A version listed twice is one item (the first wins).
      seen.add(id);
      const urls = fieldCI(r, 'urls');
      entries.push({
        name,
        version,
        urls: Array.isArray(urls) ? urls.map((u) => scalarString(u)).filter((u): u is string => Boolean(u)) : [],
        digest: normaliseIndexDigest(scalarString(fieldCI(r, 'digest'))),
        created: scalarString(fieldCI(r, 'created')),
        deprecated: md.deprecated === true,
      });
    }
  }
  if (unknownKeys.size > 0) {
    const list = [...unknownKeys].slice(0, 5).map(([k, n]) => (n > 1 ? `${k} (${n}x)` : k));
    warnings.push(`unknown keys tolerated (Helm would refuse this index): ${list.join(', ')}${unknownKeys.size > 5 ? ', …' : ''}`);
  }
  return { apiVersion, entries, problems, warnings };
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
