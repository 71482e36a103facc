import { ChartMirrorError } from '../errors.js';
import { parseGoYaml } from '../chart/goyaml.js';
import { decodeValueInto, validateMetadata, type ChartMetadata } from '../chart/metadata.js';
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
      doc = parseGoYaml(text);
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
      const md: ChartMetadata = {};
      const metaOnly: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r)) if (METADATA_KEYS.has(k.toLowerCase())) metaOnly[k] = v;
      const versionLabel = String(scalarString(fieldCI(r, 'version')) ?? '');
      try {
        decodeValueInto(md, metaOnly, `index entry ${key}`);
        md.apiVersion ||= 'v1';
        validateMetadata(md);
      } catch (e) {
        problems.push({ chart: md.name || key, version: md.version ?? versionLabel, reason: `index entry dropped by Helm: ${(e as Error).message}` });
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

/** A YAML scalar as the string Go would see in a string field. */
function scalarString(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean' || v instanceof Number) return String(v);
  if (v instanceof Date) return v.toISOString();
  return undefined;
}
