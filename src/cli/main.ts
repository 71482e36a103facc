#!/usr/bin/env node
import { escapeControl } from '../report/text.js';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ChartMirrorError, errorMessage, InterruptedError } from '../errors.js';
import { redact } from '../util/secrets.js';
import { EXIT } from './exit-codes.js';
import { exportCommand, importCommand, inspectCommand } from './bundle-commands.js';
import { commonOptions, metricsOptions, runOptions, shardOption } from './options.js';
import { reportCommand } from './report-commands.js';
import { VERSION } from '../version.js';

// Each command's modules are loaded by its handler: `--version`, `validate` and `schema` never
// load undici, openpgp or listr2 (start-up is most of a small run).

/** Options that take several values; every other option keeps its last one. */
const LIST_OPTIONS = new Set(['_', 'tls-ca', 'tlsCa', 'since', 'reports']);

/** Commands set this; yargs handlers cannot return a value. */
let exitCode: number = EXIT.OK;
export function setExitCode(code: number): void {
  exitCode = code;
}

async function main(argv: string[]): Promise<number> {
  const parser = yargs(argv)
    .scriptName('chartmirror')
    .version(VERSION)
    .strict()
    // A repeated single-value option takes its last value, as in most CLIs (not an array that
    // crashes later); options that are lists (--tls-ca, --since) keep every value.
    .middleware((argv) => {
      for (const [k, v] of Object.entries(argv)) {
        if (Array.isArray(v) && !LIST_OPTIONS.has(k)) (argv as Record<string, unknown>)[k] = v[v.length - 1];
      }
    }, true)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .command(
      'sync',
      'Mirror every selected chart version into every target',
      (y) =>
        metricsOptions(shardOption(runOptions(y)))
          .option('dry-run', { type: 'boolean', default: false, describe: 'Plan only: write nothing anywhere' })
          .option('plan', { type: 'string', requiresArg: true, describe: 'Execute exactly this plan (written by plan --output from the same config)' }),
      async (args) => setExitCode(await (await import('./commands.js')).syncCommand({ ...args, dryRun: args['dry-run'], planFile: args.plan }, 'sync')),
    )
    .command(
      'plan',
      'Show what sync would do (the same as sync --dry-run); writes nothing but --output',
      (y) => shardOption(runOptions(y)).option('output', { alias: 'o', type: 'string', requiresArg: true, describe: 'Also write the plan to FILE (JSON), for sync --plan FILE' }),
      async (args) => setExitCode(await (await import('./commands.js')).syncCommand({ ...args, dryRun: true, output: args.output }, 'plan')),
    )
    .command('validate', 'Check the config file only', (y) => commonOptions(y), async (args) => setExitCode(await (await import('./config-commands.js')).validateCommand(args)))
    .command('schema', 'Print the JSON Schema of the config file', (y) => y, async () => setExitCode((await import('./config-commands.js')).schemaCommand()))
    .command(exportCommand(setExitCode))
    .command(importCommand(setExitCode))
    .command(inspectCommand(setExitCode))
    .command(reportCommand(setExitCode))
    .demandCommand(1, 'Name a command: sync, plan, validate, schema, export, import, inspect or report')
    .fail((msg, err) => {
      throw err ?? new ChartMirrorError('USAGE', msg);
    })
    .help()
    .alias('help', 'h');
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (e) {
    return reportFatal(e, argv.includes('--debug') || process.env.CHARTMIRROR_DEBUG === '1');
  }
}

/** One line on stderr (a stack trace only with --debug) and the exit code for the error. */
function reportFatal(e: unknown, debug: boolean): number {
  const usage = e instanceof ChartMirrorError && e.code === 'USAGE';
  const config = e instanceof ChartMirrorError && (e.code === 'CONFIG' || e.code === 'LOCKED');
  // Config messages may hold several lines, one per problem; others are one line.
  const text = config ? (e as Error).message : errorMessage(e);
  // A config error lists one problem per line; any other message is one line, whatever it quotes.
  const shown = config ? text.split('\n').map(escapeControl).join('\n') : escapeControl(text);
  process.stderr.write(`chartmirror: ${redact(shown)}${usage ? ' (see chartmirror --help)' : ''}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(redact(e.stack) + '\n');
  if (e instanceof InterruptedError) return e.signal === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM;
  return usage || config ? EXIT.CONFIG : EXIT.FAILED;
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`chartmirror: internal error: ${escapeControl(redact(errorMessage(e)))}\n`);
    process.exitCode = EXIT.FAILED;
  },
);
