/**
 * Air-gapped seeding: `export` (sources -> a bundle), `import` (a bundle -> a registry) and
 * `inspect` (what a bundle holds). Thin shells over src/bundle/: flags in, exit codes out.
 */
import { basename } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { parseSize } from '../config/units.js';
import { ChartMirrorError } from '../errors.js';
import { runExport, type ExportOutcome } from '../bundle/export.js';
import { runImport } from '../bundle/import.js';
import { formatInspection, inspectBundle } from '../bundle/inspect.js';
import { Selector } from '../pipeline/selection.js';
import { formatBytes } from '../report/summary.js';
import { redact, registerSecret } from '../util/secrets.js';
import { EXIT } from './exit-codes.js';
import { logOptions, reportOptions, runOptions } from './options.js';
import { checkConcurrency, finishRun, runExitCode, runWithProgress } from './run-support.js';

/** Parts smaller than this are a typo (`--split 1` for 1 byte), not removable media. */
const MIN_SPLIT = 1024;

type SetExitCode = (code: number) => void;

function exportOptions<T>(y: Argv<T>) {
  return runOptions(y)
    .option('to', { type: 'string', demandOption: true, requiresArg: true, describe: 'The bundle: FILE.tar (one tar, or parts with --split) or DIR (an OCI layout)' })
    .option('split', { type: 'string', requiresArg: true, describe: 'Cut the tar into parts of SIZE (e.g. 4G, 700M) for removable media, with SHA256SUMS' })
    .option('since', {
      type: 'string',
      array: true,
      requiresArg: true,
      describe: 'Leave out what the far side has: a state file written by import (*.json), or an earlier bundle; repeatable',
    });
}

function importOptions<T>(y: Argv<T>) {
  return reportOptions(logOptions(y))
    .option('from', { type: 'string', demandOption: true, requiresArg: true, describe: 'The bundle: FILE.tar, its first part (FILE.tar.part-001) or DIR' })
    .option('to', { type: 'string', demandOption: true, requiresArg: true, describe: 'Registry and path: oci://host[:port]/path; charts land at <path>/<chart>:<tag>' })
    .option('plain-http', { type: 'boolean', default: false, describe: 'Talk HTTP, not HTTPS, to the registry' })
    .option('tls-ca', { type: 'string', array: true, requiresArg: true, describe: 'CA certificate file(s) for the registry (replace the system roots)' })
    .option('username', { alias: 'u', type: 'string', requiresArg: true, describe: 'Registry user (with --password-stdin); default: Helm and Docker credentials' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'Read the registry password from stdin' })
    .option('state', { type: 'string', default: '.chartmirror', requiresArg: true, describe: 'State directory: the journal and the far-side state file' })
    .option('state-out', { type: 'string', requiresArg: true, describe: 'Also write the far-side state to FILE, to carry back for export --since' })
    .option('concurrency', { type: 'number', default: 16, requiresArg: true, describe: 'Chart versions in flight' })
    .option('verify-remote', { type: 'boolean', default: false, describe: 'Re-check journal-confirmed items with one HEAD each' })
    .option('on-conflict', { choices: ['fail', 'overwrite'] as const, default: 'fail' as const, describe: 'A tag that holds a different manifest: fail that version, or replace it' });
}

function inspectOptions<T>(y: Argv<T>) {
  return y
    .positional('bundle', { type: 'string', demandOption: true, describe: 'FILE.tar, its first part, or DIR' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the listing as JSON' })
    .option('verify', { type: 'boolean', default: false, describe: 'Also check every blob against its digest (reads the whole bundle)' })
    .option('debug', { type: 'boolean', default: false, describe: 'Show stack traces' });
}

type ExportArgs = ReturnType<typeof exportOptions>['argv'] extends infer A ? Awaited<A> : never;
type ImportArgs = ReturnType<typeof importOptions>['argv'] extends infer A ? Awaited<A> : never;
type InspectArgs = ReturnType<typeof inspectOptions>['argv'] extends infer A ? Awaited<A> : never;

export function exportCommand(setExitCode: SetExitCode): CommandModule<object, ExportArgs> {
  return {
    command: 'export',
    describe: 'Fetch and verify as sync does, into one bundle (an OCI layout, as a tar or a directory) to carry across an air gap',
    builder: (y) => exportOptions(y) as unknown as Argv<ExportArgs>,
    handler: async (args) => setExitCode(await exportHandler(args)),
  };
}

export function importCommand(setExitCode: SetExitCode): CommandModule<object, ImportArgs> {
  return {
    command: 'import',
    describe: 'Push every chart version of a bundle into a registry (no config file, no access to the sources)',
    builder: (y) => importOptions(y) as unknown as Argv<ImportArgs>,
    handler: async (args) => setExitCode(await importHandler(args)),
  };
}

export function inspectCommand(setExitCode: SetExitCode): CommandModule<object, InspectArgs> {
  return {
    command: 'inspect <bundle>',
    describe: "Print a bundle's listing: chart, version, tag, digest, provenance, source URL",
    builder: (y) => inspectOptions(y) as unknown as Argv<InspectArgs>,
    handler: async (args) => setExitCode(await inspectHandler(args)),
  };
}

/** One closing line of our own after the summary: text, or a JSON object with --log-format json. */
function note(format: 'text' | 'json', line: string, obj: Record<string, unknown>): void {
  process.stderr.write(redact(format === 'json' ? JSON.stringify({ time: new Date().toISOString(), ...obj }) : line) + '\n');
}

async function exportHandler(args: ExportArgs): Promise<number> {
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
  // As sync does (commands.ts checkSelections): a bad selection is a config error before any network.
  cfg.sources.forEach((s, i) => new Selector(s.selection, `sources[${i}]`));
  let outcome: ExportOutcome | undefined;
  const { result, progress, signals } = await runWithProgress(args, async ({ onEvent, signals }) => {
    outcome = await runExport(cfg, {
      to: args.to,
      split,
      since: args.since,
      stateDir: args.state,
      concurrency: args.concurrency,
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

async function importHandler(args: ImportArgs): Promise<number> {
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
  // Checking a large bundle takes a while and prints nothing else until it is done.
  if (!args.quiet) note(args['log-format'], `import: checking every blob of ${args.from} before sending anything`, { event: 'checking', from: args.from });
  let stateFiles: string[] = [];
  let stateCharts = 0;
  const { result, progress, signals } = await runWithProgress(args, async ({ onEvent, signals }) => {
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
      stopSignal: signals.stop,
      signal: signals.abort,
    });
    stateFiles = outcome.stateFiles;
    stateCharts = outcome.stateCharts;
    return outcome.result;
  });
  await finishRun(args, 'import', result, progress);
  const carry = stateFiles[stateFiles.length - 1];
  if (carry) note(args['log-format'], `far-side state: ${carry} (${stateCharts} chart version${stateCharts === 1 ? '' : 's'}); carry it back for export --since`, {
    event: 'state',
    files: stateFiles,
    charts: stateCharts,
  });
  return runExitCode(result, signals);
}

async function inspectHandler(args: InspectArgs): Promise<number> {
  const i = await inspectBundle(args.bundle, { verify: args.verify });
  process.stdout.write(args.json ? JSON.stringify(i, null, 2) + '\n' : formatInspection(i));
  return i.problems.length ? EXIT.FAILED : EXIT.OK;
}
