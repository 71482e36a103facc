/**
 * The signed body of a .prov: `yaml.Marshal(Chart.yaml metadata)`, the separator `\n...\n`,
 * then `files:` mapping archive basenames to `sha256:<hex>` (Helm pkg/provenance/sign.go).
 */
import yaml from 'js-yaml';

export interface MessageBlock {
  /** name and version from the Chart.yaml block, as written (undefined when missing). */
  chartName?: string;
  chartVersion?: string;
  /** Why the Chart.yaml block could not be read, when it could not. */
  metadataProblem?: string;
  files: Map<string, string>;
}

/** A problem with the body; the caller prefixes it with `provenance: malformed message block`. */
export class MessageBlockError extends Error {}

/**
 * Every scalar as its literal text: a YAML 1.1 reader (goyaml) and a YAML 1.2 reader disagree
 * on `1.10`, `yes`, `0x1F`, but the text is what `helm package` wrote and what we compare.
 */
function loadFailsafe(text: string): unknown {
  return yaml.load(text, { schema: yaml.FAILSAFE_SCHEMA });
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** encoding/json (behind sigs.k8s.io/yaml) matches struct keys exactly first, then case-insensitively. */
function field(obj: Record<string, unknown>, key: string): unknown {
  if (Object.hasOwn(obj, key)) return obj[key];
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key);
  return k === undefined ? undefined : obj[k];
}

export function parseMessageBlock(plaintext: string): MessageBlock {
  // Helm: bytes.Split(data, "\n...\n"), at least two parts; parts beyond the second are ignored.
  const parts = plaintext.split('\n...\n');
  if (parts.length < 2) throw new MessageBlockError('no "..." line between the Chart.yaml block and the files block');

  let sums: unknown;
  try {
    sums = loadFailsafe(parts[1]);
  } catch (e) {
    throw new MessageBlockError(`files block is not valid YAML: ${firstLine(e)}`);
  }
  const filesNode = isMapping(sums) ? field(sums, 'files') : undefined;
  if (!isMapping(filesNode)) throw new MessageBlockError('files block has no "files" mapping');
  const files = new Map<string, string>();
  for (const [k, v] of Object.entries(filesNode)) {
    if (typeof v === 'string') files.set(k, v);
  }

  const block: MessageBlock = { files };
  try {
    const md = loadFailsafe(parts[0]);
    if (!isMapping(md)) {
      block.metadataProblem = 'the Chart.yaml block is not a mapping';
    } else {
      const name = field(md, 'name');
      const version = field(md, 'version');
      if (typeof name === 'string') block.chartName = name;
      if (typeof version === 'string') block.chartVersion = version;
    }
  } catch (e) {
    block.metadataProblem = `the Chart.yaml block is not valid YAML: ${firstLine(e)}`;
  }
  return block;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}
