/**
 * Air-gapped seeding: `export` (sources -> a bundle), `import` (a bundle -> a registry) and
 * `inspect` (what a bundle holds). The options are here; the handlers (bundle-handlers.ts) are
 * loaded only when one of these commands runs.
 */
import type { Argv, CommandModule } from 'yargs';
import { DEFAULTS } from '../defaults.js';
import { logOptions, metricsOptions, reportOptions, runOptions } from './options.js';

type SetExitCode = (code: number) => void;
const handlers = () => import('./bundle-handlers.js');

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
  return metricsOptions(reportOptions(logOptions(y)))
    .option('from', { type: 'string', demandOption: true, requiresArg: true, describe: 'The bundle: FILE.tar, its first part (FILE.tar.part-001) or DIR' })
    .option('to', { type: 'string', demandOption: true, requiresArg: true, describe: 'Registry and path: oci://host[:port]/path; charts land at <path>/<chart>:<tag>' })
    .option('plain-http', { type: 'boolean', default: false, describe: 'Talk HTTP, not HTTPS, to the registry' })
    .option('tls-ca', { type: 'string', array: true, requiresArg: true, describe: 'CA certificate file(s) for the registry (in addition to the system ones)' })
    .option('username', { alias: 'u', type: 'string', requiresArg: true, describe: 'Registry user (with --password-stdin); default: Helm and Docker credentials' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'Read the registry password from stdin' })
    .option('state', { type: 'string', default: DEFAULTS.stateDirName, requiresArg: true, describe: 'State directory: the journal and the far-side state file' })
    .option('state-out', { type: 'string', requiresArg: true, describe: 'Also write the far-side state to FILE, to carry back for export --since' })
    .option('concurrency', { type: 'number', default: DEFAULTS.concurrency, requiresArg: true, describe: 'Chart versions in flight' })
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

export type ExportArgs = ReturnType<typeof exportOptions>['argv'] extends infer A ? Awaited<A> : never;
export type ImportArgs = ReturnType<typeof importOptions>['argv'] extends infer A ? Awaited<A> : never;
export type InspectArgs = ReturnType<typeof inspectOptions>['argv'] extends infer A ? Awaited<A> : never;

export function exportCommand(setExitCode: SetExitCode): CommandModule<object, ExportArgs> {
  return {
    command: 'export',
    describe: 'Fetch and verify as sync does, into one bundle (an OCI layout, as a tar or a directory) to carry across an air gap',
    builder: (y) => exportOptions(y) as unknown as Argv<ExportArgs>,
    handler: async (args) => setExitCode(await (await handlers()).exportHandler(args)),
  };
}

export function importCommand(setExitCode: SetExitCode): CommandModule<object, ImportArgs> {
  return {
    command: 'import',
    describe: 'Push every chart version of a bundle into a registry (no config file, no access to the sources)',
    builder: (y) => importOptions(y) as unknown as Argv<ImportArgs>,
    handler: async (args) => setExitCode(await (await handlers()).importHandler(args)),
  };
}

export function inspectCommand(setExitCode: SetExitCode): CommandModule<object, InspectArgs> {
  return {
    command: 'inspect <bundle>',
    describe: "Print a bundle's listing: chart, version, tag, digest, provenance, source URL",
    builder: (y) => inspectOptions(y) as unknown as Argv<InspectArgs>,
    handler: async (args) => setExitCode(await (await handlers()).inspectHandler(args)),
  };
}

