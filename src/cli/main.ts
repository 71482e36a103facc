#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ChartMirrorError, ConfigError, errorMessage } from '../errors.js';
import { redact } from '../util/secrets.js';
import { EXIT } from './exit-codes.js';
import { syncCommand, validateCommand, schemaCommand } from './commands.js';
import { VERSION } from '../version.js';

export interface GlobalArgs {
  config: string;
  debug: boolean;
  quiet: boolean;
  verbose: boolean;
  'log-format': 'text' | 'json';
}

function commonOptions<T>(y: Argv<T>) {
  return y
    .option('config', { alias: 'c', type: 'string', default: 'mirror.config.yaml', describe: 'Config file', requiresArg: true })
    .option('debug', { type: 'boolean', default: false, describe: 'Show stack traces and every retry' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output; only the final summary and errors' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'List every item, including journal hits and exclusions' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'Progress lines as text or JSON (when not a terminal)' });
}

function runOptions<T>(y: Argv<T>) {
  return commonOptions(y)
    .option('report', { type: 'string', describe: 'Write a JSON report to FILE', requiresArg: true })
    .option('concurrency', { type: 'number', describe: 'Chart versions in flight (default: config, else 16)', requiresArg: true })
    .option('state', { type: 'string', describe: 'State directory (default: .chartmirror/ beside the config)', requiresArg: true })
    .option('verify-remote', { type: 'boolean', default: false, describe: 'Re-check journal-confirmed items with one HEAD each' });
}

async function main(argv: string[]): Promise<number> {
  let debug = argv.includes('--debug');
  let code: number = EXIT.OK;
  const parser = yargs(argv)
    .scriptName('chartmirror')
    .version(VERSION)
    .strict()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .command(
      'sync',
      'Mirror every selected chart version into every target',
      (y) => runOptions(y).option('dry-run', { type: 'boolean', default: false, describe: 'Plan only: write nothing anywhere' }),
      async (args) => {
        code = await syncCommand({ ...args, dryRun: args['dry-run'] } as never, 'sync');
      },
    )
    .command(
      'plan',
      'Show what sync would do (the same as sync --dry-run); writes nothing',
      (y) => runOptions(y),
      async (args) => {
        code = await syncCommand({ ...args, dryRun: true } as never, 'plan');
      },
    )
    .command(
      'validate',
      'Check the config file only',
      (y) => commonOptions(y),
      async (args) => {
        code = await validateCommand(args as never);
      },
    )
    .command('schema', 'Print the JSON Schema of the config file', (y) => y, () => {
      code = schemaCommand();
    })
    .demandCommand(1, 'Name a command: sync, plan, validate or schema')
    .option('debug', { type: 'boolean', hidden: true })
    .fail((msg, err) => {
      throw err ?? new ChartMirrorError('USAGE', msg);
    })
    .help()
    .alias('help', 'h');
  try {
    await parser.parseAsync();
    return code;
  } catch (e) {
    debug ||= process.env.CHARTMIRROR_DEBUG === '1';
    const usage = e instanceof ChartMirrorError && (e.code === 'USAGE' || e.code === 'CONFIG');
    if (e instanceof ChartMirrorError && e.code === 'USAGE') {
      process.stderr.write(`chartmirror: ${redact(e.message)} (see chartmirror --help)\n`);
    } else {
      process.stderr.write(`chartmirror: ${redact(errorMessage(e).trim() ? (e instanceof ConfigError ? (e as Error).message : errorMessage(e)) : String(e))}\n`);
    }
    if (debug && e instanceof Error && e.stack) process.stderr.write(redact(e.stack) + '\n');
    return usage ? EXIT.CONFIG : EXIT.FAILED;
  }
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`chartmirror: internal error: ${redact(errorMessage(e))}\n`);
    process.exitCode = EXIT.FAILED;
  },
);
