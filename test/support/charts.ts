import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import yaml from 'js-yaml';
import type { GpgKey } from './gpg.js';
import { runHelm, type HelmMajor } from './helm.js';
import { tmpDir } from './tmp.js';

export interface ChartSpec {
  name: string;
  version: string;
  /** Merged over helm create's Chart.yaml (a key set to undefined is removed), or a full raw Chart.yaml text
   *  (written as is: name and version are then whatever the text says). */
  chartYaml?: Record<string, unknown> | string;
  /** Files written into the chart directory (paths relative to it), overwriting helm create's. */
  files?: Record<string, string | Buffer>;
}

export interface PackageOptions {
  /** Sign with `helm package --sign --key <name> --keyring <secretKeyringFile>` (+ --passphrase-file). */
  sign?: GpgKey;
  /** Set the .tgz (and .prov) modification time: helm push uses it as the `created` annotation. */
  mtime?: Date;
  /** Which helm packages the chart (default 3). Helm 3 cannot sign with ed25519 keys; Helm 4 can. */
  helm?: HelmMajor;
}

/**
 * helm create + edits + helm package (real Helm). Returns the .tgz path inside outDir
 * (the .prov, when signed, is next to it as <tgz>.prov).
 */
export async function packageChart(outDir: string, spec: ChartSpec, opts: PackageOptions = {}): Promise<string> {
  const major = opts.helm ?? 3;
  const work = await tmpDir('chart-src-');
  const home = join(work, '.helm-home');
  // helm create validates the name; Chart.yaml decides the archive's name anyway.
  const created = await runHelm(major, ['create', 'chart'], { cwd: work, home });
  if (created.code !== 0) throw new Error(`helm create failed: ${created.stderr.trim()}`);
  const chartDir = join(work, 'chart');
  await writeChartYaml(join(chartDir, 'Chart.yaml'), spec);
  for (const [rel, content] of Object.entries(spec.files ?? {})) {
    const file = join(chartDir, rel);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  await mkdir(outDir, { recursive: true });
  const args = ['package', chartDir, '--destination', outDir];
  if (opts.sign) {
    args.push('--sign', '--key', opts.sign.name, '--keyring', opts.sign.secretKeyringFile);
    if (opts.sign.passphraseFile) args.push('--passphrase-file', opts.sign.passphraseFile);
  }
  const packaged = await runHelm(major, args, { cwd: work, home });
  if (packaged.code !== 0) throw new Error(`helm package failed: ${(packaged.stderr || packaged.stdout).trim()}`);
  // "Successfully packaged chart and saved it to: /path/x-1.0.0.tgz"
  const m = /saved it to: (.+\.tgz)\s*$/m.exec(packaged.stdout);
  if (!m) throw new Error(`cannot find the package path in helm output: ${packaged.stdout.trim()}`);
  const tgz = join(outDir, basename(m[1]!.trim()));
  if (opts.mtime) {
    await utimes(tgz, opts.mtime, opts.mtime);
    if (opts.sign) await utimes(`${tgz}.prov`, opts.mtime, opts.mtime);
  }
  return tgz;
}

async function writeChartYaml(file: string, spec: ChartSpec): Promise<void> {
  if (typeof spec.chartYaml === 'string') {
    await writeFile(file, spec.chartYaml);
    return;
  }
  const original = await readFile(file, 'utf8');
  if (!spec.chartYaml) {
    // Keep helm create's text (and comments); change only the name and version lines.
    const text = original
      .replace(/^name: .*$/m, () => `name: ${yamlScalar(spec.name)}`)
      .replace(/^version: .*$/m, () => `version: ${yamlScalar(spec.version)}`);
    await writeFile(file, text);
    return;
  }
  const doc: Record<string, unknown> = { ...(yaml.load(original) as Record<string, unknown>), name: spec.name, version: spec.version };
  for (const [k, v] of Object.entries(spec.chartYaml)) {
    if (v === undefined) delete doc[k];
    else doc[k] = v;
  }
  await writeFile(file, yaml.dump(doc, { lineWidth: -1 }));
}

/** Plain when YAML reads it back as the same string (1.2.3, foo), quoted otherwise (1.0, true, 010). */
function yamlScalar(value: string): string {
  try {
    if (/^[A-Za-z0-9][\w.+-]*$/.test(value) && yaml.load(value) === value) return value;
  } catch {
    // fall through to quoting
  }
  return JSON.stringify(value);
}

/** Writes index.yaml for the .tgz files in repoDir with `helm repo index` (optionally --url). Returns its path. */
export async function indexRepo(repoDir: string, opts: { url?: string; merge?: string; helm?: HelmMajor } = {}): Promise<string> {
  const args = ['repo', 'index', repoDir];
  if (opts.url) args.push('--url', opts.url);
  if (opts.merge) args.push('--merge', opts.merge);
  const result = await runHelm(opts.helm ?? 3, args);
  if (result.code !== 0) throw new Error(`helm repo index failed: ${result.stderr.trim()}`);
  return join(repoDir, 'index.yaml');
}
