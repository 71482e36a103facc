/**
 * The container images a chart version uses, found in its files (and its subcharts'), in this
 * order, each image recording every method that found it:
 *
 *   annotations  Chart.yaml `helm.sh/images` (HIP-0015 draft), `artifacthub.io/images`, Bitnami's `images`
 *   lock         an `images.lock` (Bitnami's format, with per-platform digests)
 *   values       image-shaped values.yaml entries, with global.imageRegistry / global.image.* and
 *                the chart's appVersion as the default tag
 *   render       `helm template` (render.ts), every pod spec's containers
 *
 * Chart content is untrusted: YAML is read with a node budget, and nothing here runs code.
 */
import yaml from 'js-yaml';
import type { ChartTree } from '../chart/archive.js';
import type { ImageDiscovery } from '../config/load.js';
import { globToRegExp } from '../pipeline/selection.js';
import { formatImage, parseImageReference, type ImageReference } from './reference.js';
import { renderImages } from './render.js';

export interface FoundImage {
  /** The normalized reference (or, when it does not parse, the text as found). */
  image: string;
  ref?: ImageReference;
  /** Why the text is not an image reference. */
  problem?: string;
  /** Every method that found it, first the first: `annotation helm.sh/images`, `lock`, `values`, `render`. */
  methods: string[];
  /** The chart (or subchart path, `app/charts/db`) that names it. */
  chart: string;
  /** From images.lock: the platform manifests it lists. */
  platformDigests?: { platform: string; digest: string }[];
}

export interface DiscoverOptions {
  discover: readonly ImageDiscovery[];
  include?: readonly string[];
  exclude?: readonly string[];
  render?: { helm: string; values: readonly string[]; archive: Uint8Array; signal?: AbortSignal };
}

/** Nodes read from one chart's YAML before giving up (values.yaml of real charts: a few thousand). */
const NODE_BUDGET = 200_000;

type Values = Record<string, unknown>;

function isObject(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function loadYaml(text: string | Buffer | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return yaml.load(typeof text === 'string' ? text : text.toString('utf8'), { json: true });
  } catch {
    return undefined;
  }
}

/** Helm's coalescing, simplified: parent values for a subchart win over its own; globals flow down. */
function merge(base: unknown, over: unknown, budget: { n: number }): unknown {
  if (--budget.n < 0) return base;
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v, budget);
  return out;
}

function pathValue(values: unknown, path: string): unknown {
  let cur: unknown = values;
  for (const part of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

export async function discoverImages(tree: ChartTree, opts: DiscoverOptions): Promise<FoundImage[]> {
  const found = new Map<string, FoundImage>();
  const add = (text: string, method: string, chart: string, extra: Partial<FoundImage> = {}) => {
    const parsed = parseImageReference(text);
    const image = parsed.ok ? formatImage(parsed.ref) : text.trim();
    const seen = found.get(image);
    if (seen) {
      if (!seen.methods.includes(method)) seen.methods.push(method);
      if (extra.platformDigests && !seen.platformDigests) seen.platformDigests = extra.platformDigests;
      return;
    }
    found.set(image, { image, ...(parsed.ok ? { ref: parsed.ref } : { problem: parsed.problem }), methods: [method], chart, ...extra });
  };
  const budget = { n: NODE_BUDGET };
  const methods = new Set(opts.discover);

  // The values each chart of the tree sees: its own, under what its parent gives it.
  const charts: { tree: ChartTree; path: string; values: Values }[] = [];
  const visit = (t: ChartTree, path: string, given: unknown) => {
    const own = loadYaml(t.files.get('values.yaml'));
    const merged = merge(isObject(own) ? own : {}, given, budget);
    const values = isObject(merged) ? merged : {};
    charts.push({ tree: t, path, values });
    for (const s of t.subcharts) {
      const forChild = isObject(values[s.name]) ? (values[s.name] as Values) : {};
      const withGlobal = isObject(values.global) ? { ...forChild, global: merge(forChild.global, values.global, budget) } : forChild;
      visit(s, `${path}/charts/${s.name}`, withGlobal);
    }
  };
  visit(tree, tree.name, undefined);

  if (methods.has('annotations')) {
    for (const c of charts) {
      const a = c.tree.metadata.annotations ?? {};
      for (const e of asList(loadYaml(a['helm.sh/images']))) {
        if (typeof e.image !== 'string') continue;
        if (typeof e.condition === 'string' && !pathValue(c.values, e.condition)) continue;
        if (typeof e.dependency === 'string' && !dependencyEnabled(c.tree, e.dependency, c.values)) continue;
        add(e.image, 'annotation helm.sh/images', c.path);
      }
      for (const e of asList(loadYaml(a['artifacthub.io/images']))) if (typeof e.image === 'string') add(e.image, 'annotation artifacthub.io/images', c.path);
      for (const e of asList(loadYaml(a.images))) if (typeof e.image === 'string') add(e.image, 'annotation images', c.path);
    }
  }

  if (methods.has('lock')) {
    for (const c of charts) {
      const lock = loadYaml(c.tree.files.get('images.lock'));
      for (const e of asList(isObject(lock) ? lock.images : undefined)) {
        if (typeof e.image !== 'string') continue;
        const digests = asList(e.digests)
          .filter((d) => typeof d.digest === 'string' && typeof d.arch === 'string')
          .map((d) => ({ platform: d.arch as string, digest: d.digest as string }));
        add(e.image, 'lock', c.path, digests.length ? { platformDigests: digests } : {});
      }
    }
  }

  if (methods.has('values')) {
    for (const c of charts) {
      for (const text of valuesImages(c.values, c.tree.metadata.appVersion, budget)) {
        // Values are heuristics: what does not read as an image is not reported as one.
        if (parseImageReference(text).ok) add(text, 'values', c.path);
      }
    }
  }

  if (methods.has('render') && opts.render) {
    for (const text of await renderImages(opts.render.archive, { helm: opts.render.helm, values: opts.render.values, signal: opts.render.signal })) {
      add(text, 'render', tree.name);
    }
  }

  const include = opts.include?.map(globToRegExp);
  const exclude = (opts.exclude ?? []).map(globToRegExp);
  return [...found.values()].filter((f) => !exclude.some((re) => re.test(f.image)) && (!include || include.some((re) => re.test(f.image))));
}

function asList(v: unknown): Values[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

/** A dependency is on unless its Chart.yaml condition names a value that is false. */
function dependencyEnabled(tree: ChartTree, name: string, values: Values): boolean {
  const dep = tree.metadata.dependencies?.find((d) => d?.name === name || d?.alias === name);
  if (!dep?.condition) return true;
  for (const cond of dep.condition.split(',')) {
    const v = pathValue(values, cond.trim());
    if (typeof v === 'boolean') return v;
  }
  return true;
}

const IMAGE_FIELDS = ['tag', 'registry', 'digest', 'pullPolicy'];

/**
 * Image references in values: objects with a `repository` (under an `*image` key, or with a
 * tag/registry/digest/pullPolicy beside it), and `image: "repo:tag"` strings. `global.imageRegistry`
 * (or `global.image.registry`) replaces each object's registry; `global.imageTag` (or
 * `global.image.tag`) and then the chart's appVersion fill an empty tag.
 */
function valuesImages(values: Values, appVersion: string | undefined, budget: { n: number }): string[] {
  const global = isObject(values.global) ? values.global : {};
  const globalImage = isObject(global.image) ? global.image : {};
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined);
  const registryOverride = str(global.imageRegistry) ?? str(globalImage.registry);
  const tagDefault = str(global.imageTag) ?? str(globalImage.tag);
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown, key: string) => {
    if (--budget.n < 0 || node === null || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const v of node) walk(v, key);
      return;
    }
    const o = node as Values;
    const repository = str(o.repository);
    if (repository && (/image$/i.test(key) || IMAGE_FIELDS.some((f) => f in o)) && !repository.includes('{{')) {
      const registry = registryOverride ?? str(o.registry);
      const digest = str(o.digest);
      const tag = str(o.tag) ?? (digest ? undefined : (tagDefault ?? appVersion));
      const text = `${registry ? `${registry}/` : ''}${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
      if (!text.includes('{{')) out.push(text);
    }
    for (const [k, v] of Object.entries(o)) {
      if (/image$/i.test(k) && typeof v === 'string' && v.trim() && !v.includes('{{')) out.push(v.trim());
      else walk(v, k);
    }
  };
  walk(values, '');
  return out;
}
