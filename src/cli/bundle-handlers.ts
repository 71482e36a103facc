/** The export, import and inspect commands: flags in, library calls, exit codes out. */
import { escapeControl } from '../report/text.js';
import { basename } from 'node:path';
import { loadConfig } from '../config/load.js';
import { parseSize } from '../config/units.js';
import { ChartMirrorError } from '../errors.js';
import { runExport, type ExportOutcome } from '../bundle/export.js';
import { runImport } from '../bundle/import.js';
import { formatInspection, inspectBundle } from '../bundle/inspect.js';
import { checkSelections } from '../pipeline/selection.js';
import { formatBytes } from '../report/summary.js';
import { redact, registerSecret } from '../util/secrets.js';
import { metricsLabels } from '../metrics/output.js';
import type { ExportArgs, ImportArgs, InspectArgs } from './bundle-commands.js';
import { EXIT } from './exit-codes.js';
import { checkConcurrency, finishRun, runExitCode, runWithProgress, startMetrics } from './run-support.js';

/** Parts smaller than this are a typo (`--split 1` for 1 byte), not removable media. */
const MIN_SPLIT = 1024;

/** One closing line of our own after the summary: text, or a JSON object with --log-format json. */
function note(format: 'text' | 'json', line: string, obj: Record<string, unknown>): void {
  process.stderr.write(redact(format === 'json' ? JSON.stringify({ time: new Date().toISOString(), ...obj }) : escapeControl(line)) + '\n');
}

export async function exportHandler(args: ExportArgs): Promise<number> {
  checkConcurrency(args.concurrency);
  if (args['verify-remote']) throw new ChartMirrorError('USAGE', '--verify-remote: export has no remote target to re-check');
  let split: number | undefined;
  if (args.split !== undefined) {
    try {
      split = parseSize(args.split);
    } catch {
      throw new ChartMirrorError('USAGE', `--split ${args.split}: not a size (use e.g. 4G, 700M, 64MiB)`);
    }
    if (!Number.isSafeInteger(split) || split < MIN_SPLIT) throw new ChartMirrorError('USAGE', `--split must be at least ${MIN_SPLIT} bytes`);
  }
  const cfg = await loadConfig(args.config);
  // As sync does: a bad selection is a config error before any network.
  checkSelections(cfg);
  if (args.state?.startsWith('oci://')) throw new ChartMirrorError('USAGE', `--state ${args.state}: export keeps no journal, only an index cache, in a directory; give a directory`);
  let outcome: ExportOutcome | undefined;
  const { result, progress, signals } = await runWithProgress(args, async ({ onEvent, signals }) => {
    outcome = await runExport(cfg, {
      to: args.to,
      split,
      since: args.since,
      stateDir: args.state,
      concurrency: args.concurrency,
      images: args.images,
      onEvent,
      stopSignal: signals.stop,
      signal: signals.abort,
    });
    return outcome.result;
  });
  await finishRun(args, 'export', result, progress);
  const b = outcome!.bundle;
  const format = args['log-format'];
  if (!b) {
    note(format, `export interrupted: no bundle written; ${outcome!.staging} is kept, run the same command again to resume`, {
      event: 'bundle',
      interrupted: true,
      staging: outcome!.staging,
    });
  } else {
    const files = b.files.map((f) => (typeof f === 'string' ? f : f.path));
    const where = files.length > 1 ? `${files.length} parts ${basename(files[0]!)} … ${basename(files[files.length - 1]!)} (+ SHA256SUMS)` : files[0]!;
    const left = b.leftOut ? `; ${b.leftOut} left out as already on the far side` : '';
    note(format, `bundle: ${where}: ${b.charts} chart version${b.charts === 1 ? '' : 's'}, ${b.blobs} blobs, ${formatBytes(b.bytes)}${left}`, {
      event: 'bundle',
      files,
      charts: b.charts,
      blobs: b.blobs,
      bytes: b.bytes,
      leftOut: b.leftOut,
    });
  }
  return runExitCode(result, signals);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function importHandler(args: ImportArgs): Promise<number> {
  checkConcurrency(args.concurrency);
  let credentials: { username: string; password: string } | undefined;
  if (args['password-stdin']) {
    if (!args.username) throw new ChartMirrorError('USAGE', '--password-stdin needs --username');
    const password = await readStdin();
    registerSecret(password);
    if (!password) throw new ChartMirrorError('USAGE', '--password-stdin: stdin was empty');
    credentials = { username: args.username, password };
  } else if (args.username) {
    throw new ChartMirrorError('USAGE', '--username needs --password-stdin (passwords never go on the command line)');
  }
  // No config file: an import's series are told apart by the job alone.
  const metrics = startMetrics(args, metricsLabels(undefined));
  // Checking a large bundle takes a while and prints nothing else until it is done.
  if (!args.quiet) note(args['log-format'], `import: checking every blob of ${args.from} before sending anything`, { event: 'checking', from: args.from });
  let stateFiles: string[] = [];
  let stateCharts = 0;
  const { result, progress, signals } = await runWithProgress(args, async ({ onEvent, signals, httpObserver }) => {
    const outcome = await runImport({
      from: args.from,
      to: args.to,
      plainHttp: args['plain-http'],
      tlsCa: args['tls-ca'],
      credentials,
      stateDir: args.state,
      stateOut: args['state-out'],
      concurrency: args.concurrency,
      verifyRemote: args['verify-remote'],
      onConflict: args['on-conflict'],
      onEvent,
      httpObserver,
      stopSignal: signals.stop,
      signal: signals.abort,
    });
    stateFiles = outcome.stateFiles;
    stateCharts = outcome.stateCharts;
    return outcome.result;
  }, metrics);
  await finishRun(args, 'import', result, progress, metrics);
  const carry = stateFiles[stateFiles.length - 1];
  if (carry) note(args['log-format'], `far-side state: ${carry} (${stateCharts} chart version${stateCharts === 1 ? '' : 's'}); carry it back for export --since`, {
    event: 'state',
    files: stateFiles,
    charts: stateCharts,
  });
  return runExitCode(result, signals);
}

export async function inspectHandler(args: InspectArgs): Promise<number> {
  const i = await inspectBundle(args.bundle, { verify: args.verify });
  process.stdout.write(args.json ? JSON.stringify(i, null, 2) + '\n' : formatInspection(i));
  return i.problems.length || i.refused.length ? EXIT.FAILED : EXIT.OK;
}
