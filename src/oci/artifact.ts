/**
 * The OCI artifact `helm push` builds for a chart, byte for byte (Helm 3.17 with oras-go v1,
 * Helm 4 with oras-go v2 build the same manifest): config = compact json.Marshal(*Metadata),
 * layers = chart (+ .prov) sorted by digest, manifest = json.Marshal of image-spec Manifest
 * with schemaVersion, config, layers and annotations only.
 */
import type { LoadedChart } from '../chart/archive.js';
import { configJson, type ChartMetadata } from '../chart/metadata.js';
import { goJsonString, goMarshal } from '../helmcompat/gojson.js';
import { daysIn, formatRfc3339Utc } from '../helmcompat/gotime.js';
import { goTrimSpace } from '../helmcompat/gounicode.js';
import { sha256Digest } from '../util/digest.js';
import type { Descriptor } from './descriptor.js';
import {
  ANNOTATION_AUTHORS,
  ANNOTATION_CREATED,
  ANNOTATION_DESCRIPTION,
  ANNOTATION_SOURCE,
  ANNOTATION_TITLE,
  ANNOTATION_URL,
  ANNOTATION_VERSION,
  HELM_CHART_MEDIA_TYPE,
  HELM_CONFIG_MEDIA_TYPE,
  HELM_PROV_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
} from './media-types.js';

export interface ChartArtifact {
  /** From Chart.yaml. */
  name: string;
  version: string;
  /** version with every '+' → '_' */
  tag: string;
  config: { descriptor: Descriptor; bytes: Buffer };
  /** Sorted by digest, as Helm. */
  layers: Array<{ descriptor: Descriptor; bytes: Buffer }>;
  /** descriptor.mediaType = OCI manifest type; the body has no mediaType key unless asked. */
  manifest: { descriptor: Descriptor; bytes: Buffer };
  annotations: Record<string, string>;
}

function isBlank(s: string | undefined): boolean {
  return s === undefined || goTrimSpace(s) === '';
}

/**
 * Helm's generateChartOCIAnnotations + the merge of Chart.yaml annotations: each of
 * description, title (name), version, url, created, source (sources[0] only) and authors only
 * when not blank (Go TrimSpace), stored untrimmed. `created` undefined: left out (Helm would
 * use "now"). Chart.yaml annotations then overwrite anything,
 * empty values included, except title and version.
 */
export function chartAnnotations(md: ChartMetadata, created: string | undefined): Record<string, string> {
  const a: Record<string, string> = {};
  const add = (k: string, v: string | undefined) => {
    if (!isBlank(v)) a[k] = v!;
  };
  add(ANNOTATION_DESCRIPTION, md.description);
  add(ANNOTATION_TITLE, md.name);
  add(ANNOTATION_VERSION, md.version);
  add(ANNOTATION_URL, md.home);
  if (created) a[ANNOTATION_CREATED] = created;
  if (md.sources && md.sources.length > 0) add(ANNOTATION_SOURCE, md.sources[0]);
  if (md.maintainers && md.maintainers.length > 0) {
    let authors = '';
    md.maintainers.forEach((m, i) => {
      if (!m) return;
      if (m.name) authors += m.name;
      if (m.email) authors += ` (${m.email})`;
      if (i < md.maintainers!.length - 1) authors += ', ';
    });
    add(ANNOTATION_AUTHORS, authors);
  }
  for (const [k, v] of Object.entries(md.annotations ?? {})) {
    if (k === ANNOTATION_TITLE || k === ANNOTATION_VERSION) continue;
    if (k === '__proto__') Object.defineProperty(a, k, { value: v, enumerable: true, writable: true, configurable: true });
    else a[k] = v;
  }
  return a;
}

function descriptorJson(d: Descriptor): string {
  return `{"mediaType":${goJsonString(d.mediaType)},"digest":${goJsonString(d.digest)},"size":${d.size}}`;
}

function blob(mediaType: string, bytes: Buffer): { descriptor: Descriptor; bytes: Buffer } {
  return { descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.length }, bytes };
}

/** The version as an OCI tag: every '+' becomes '_' (Helm's convention). */
export function tagForVersion(version: string): string {
  return version.split('+').join('_');
}

/**
 * The artifact `helm push` would create for this archive. `created`: an RFC 3339 string
 * already formatted (see formatCreated); when undefined the Chart.yaml tar mtime is used.
 * `manifestMediaType`: put "mediaType" in the manifest body (Helm does not; some registries
 * want it). A Chart.yaml annotation `org.opencontainers.image.created` wins, as in Helm.
 */
export function buildChartArtifact(input: {
  chart: LoadedChart;
  archive: Buffer;
  provenance?: Buffer;
  created?: string;
  manifestMediaType?: boolean;
}): ChartArtifact {
  const md = input.chart.metadata;
  const name = md.name ?? '';
  const version = md.version ?? '';
  const created = input.created ?? (input.chart.chartYamlMtime ? formatCreated(input.chart.chartYamlMtime) : undefined);

  const config = blob(HELM_CONFIG_MEDIA_TYPE, Buffer.from(configJson(md), 'utf8'));
  const layers = [blob(HELM_CHART_MEDIA_TYPE, input.archive)];
  if (input.provenance) layers.push(blob(HELM_PROV_MEDIA_TYPE, input.provenance));
  layers.sort((x, y) => (x.descriptor.digest < y.descriptor.digest ? -1 : x.descriptor.digest > y.descriptor.digest ? 1 : 0));

  const annotations = chartAnnotations(md, created);
  const body =
    '{"schemaVersion":2,' +
    (input.manifestMediaType ? `"mediaType":${goJsonString(OCI_MANIFEST_MEDIA_TYPE)},` : '') +
    `"config":${descriptorJson(config.descriptor)},` +
    `"layers":[${layers.map((l) => descriptorJson(l.descriptor)).join(',')}],` +
    `"annotations":${goMarshal(annotations)}}`;
  const manifestBytes = Buffer.from(body, 'utf8');
  return {
    name,
    version,
    tag: tagForVersion(version),
    config,
    layers,
    manifest: { descriptor: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: sha256Digest(manifestBytes), size: manifestBytes.length }, bytes: manifestBytes },
    annotations,
  };
}

/**
 * The `created` annotation for an instant, as Helm writes it: `t.UTC().Format(time.RFC3339)`
 * (whole seconds, UTC, `Z`).
 */
export function formatCreated(t: Date): string {
  if (Number.isNaN(t.getTime())) throw new RangeError('formatCreated: invalid date');
  return formatRfc3339Utc(t);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An index.yaml `created` (RFC 3339, any offset, any fraction) as formatCreated would write
 * that instant; undefined when absent or not parsable.
 */
export function createdFromIndex(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = RFC3339.exec(value.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || s > 59) return undefined;
  let offsetMin = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // The fraction only moves the instant forward within its second: drop it.
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return formatCreated(new Date(date.getTime() - offsetMin * 60000));
}
