/**
 * Provenance (.prov) checks before a chart and its .prov are pushed (issue 3).
 *
 * copy: the checks that need no key (a clear-signed message Helm can decode, a files entry for
 * the archive with its sha256, the Chart.yaml block naming the same chart and version).
 * verify: copy + the OpenPGP signature against the keyring; no .prov is fine.
 * require: verify, and a missing .prov fails.
 *
 * Failures throw ChartMirrorError('PROVENANCE', 'provenance: <check>: <why>'), one line.
 */
import { ChartMirrorError, ConfigError } from '../errors.js';
import { ClearSignError, decodeClearSigned, type ClearSigned } from '../helmcompat/clearsign.js';
import { MessageBlockError, parseMessageBlock } from './provenance-body.js';
import type { Signer } from './provenance-signature.js';
import type { Keyring } from './provenance-types.js';

export type { Keyring } from './provenance-types.js';
export type { Signer } from './provenance-signature.js';

/** OpenPGP is loaded where it is first needed: reading a keyring, or a signature. */
export async function loadKeyring(files: string[]): Promise<Keyring> {
  return (await import('./provenance-keyring.js')).loadKeyring(files);
}

export type { ProvenanceMode } from './provenance-types.js';
import type { ProvenanceMode } from './provenance-types.js';

export interface ProvenanceInput {
  mode: Exclude<ProvenanceMode, 'ignore'>;
  /** undefined: the source has none (404). */
  prov?: Buffer;
  /** Lower-case hex sha256 of the .tgz. */
  archiveSha256: string;
  /** Basename of the archive URL in the source (decoded). */
  archiveFileName: string;
  /** From the archive's Chart.yaml. */
  chartName: string;
  chartVersion: string;
  /** Required for verify and require. */
  keyring?: Keyring;
  /** When keys and the signature must be valid (Helm 4 judges them at the current time). Default: now. */
  now?: Date;
}

export interface ProvenanceResult {
  /** absent: no .prov and the mode allows it; checked: copy-mode checks passed; verified: signature good too. */
  status: 'absent' | 'checked' | 'verified';
  /** Set when verified. */
  signer?: Signer;
  /** One-line notes for the report (the item still passes), each starting with `provenance: `. */
  warnings: string[];
}

function fail(reason: string, cause?: unknown): never {
  throw new ChartMirrorError('PROVENANCE', `provenance: ${reason}`, cause === undefined ? {} : { cause });
}

export async function checkProvenance(input: ProvenanceInput): Promise<ProvenanceResult> {
  const { mode } = input;
  const needsKey = mode === 'verify' || mode === 'require';
  if (needsKey && !input.keyring) {
    throw new ConfigError(`verify.keyring: required when verify.provenance is ${mode}`);
  }
  if (input.prov === undefined) {
    if (mode === 'require') fail('no .prov (verify.provenance is require)');
    return { status: 'absent', warnings: [] };
  }

  let decoded: ClearSigned;
  try {
    decoded = decodeClearSigned(input.prov);
  } catch (e) {
    if (e instanceof ClearSignError) fail(`not a clear-signed message: ${e.message}`, e);
    throw e;
  }

  // Like Helm: the signature first, so a tampered body reads "bad signature", not a hash mismatch.
  let signer: Signer | undefined;
  const { readSignaturePackets, verifyDetached, SignatureCheckError } = await import('./provenance-signature.js');
  try {
    const packets = await readSignaturePackets(decoded.signature);
    if (needsKey) signer = await verifyDetached(decoded.signed, packets, input.keyring!, input.now ?? new Date());
  } catch (e) {
    if (e instanceof SignatureCheckError) fail(e.message, e);
    throw e;
  }

  let block: ReturnType<typeof parseMessageBlock>;
  try {
    block = parseMessageBlock(decoded.plaintext);
  } catch (e) {
    if (e instanceof MessageBlockError) fail(`malformed message block: ${e.message}`, e);
    throw e;
  }

  const name = input.archiveFileName;
  const want = `sha256:${input.archiveSha256}`;
  const got = block.files.get(name);
  if (got === undefined) {
    const listed = [...block.files.keys()];
    fail(`no files entry for ${name} (the .prov lists ${listed.length ? listed.join(', ') : 'no files'})`);
  }
  if (got !== want) fail(`archive hash mismatch: the .prov has ${got} for ${name}, the archive is ${want}`);

  if (block.metadataProblem) fail(`chart metadata mismatch: ${block.metadataProblem}`);
  if (block.chartName !== input.chartName || block.chartVersion !== input.chartVersion) {
    fail(
      `chart metadata mismatch: the .prov names ${show(block.chartName)} ${show(block.chartVersion)}, ` +
        `the archive's Chart.yaml ${show(input.chartName)} ${show(input.chartVersion)}`,
    );
  }

  const warnings: string[] = [];
  // `helm pull --verify` from OCI saves the chart as <name>-<version>.tgz and looks that name up.
  const ociName = `${input.chartName}-${input.chartVersion}.tgz`;
  if (name !== ociName && block.files.get(ociName) !== want) {
    warnings.push(
      `provenance: the .prov covers ${name}, not ${ociName}; \`helm pull --verify\` from OCI will fail for this chart ` +
        `(it verifies the file as ${ociName})${signer ? ' although the signature is good' : ''}`,
    );
  }

  return signer ? { status: 'verified', signer, warnings } : { status: 'checked', warnings };
}

function show(v: string | undefined): string {
  return v === undefined ? '(missing)' : JSON.stringify(v);
}
