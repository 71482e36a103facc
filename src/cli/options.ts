import type { Argv } from 'yargs';

/** Options every config-reading command takes. */
export function commonOptions<T>(y: Argv<T>) {
  return y
    .option('config', { alias: 'c', type: 'string', default: 'mirror.config.yaml', describe: 'Config file', requiresArg: true })
    .option('debug', { type: 'boolean', default: false, describe: 'Show stack traces and every retry' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output; only failures and the final summary' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'List every item, including journal hits and exclusions' })
    .option('log-format', {
      choices: ['text', 'json'] as const,
      default: 'text' as const,
      describe: 'Progress lines as text or JSON objects',
    });
}

/** Options of commands that run the pipeline (sync, plan, export). */
export function runOptions<T>(y: Argv<T>) {
  return commonOptions(y)
    .option('report', { type: 'string', describe: 'Write a JSON report to FILE', requiresArg: true })
    .option('concurrency', { type: 'number', describe: 'Chart versions in flight (default: config, else 16)', requiresArg: true })
    .option('state', { type: 'string', describe: 'State directory (default: .chartmirror/ beside the config)', requiresArg: true })
    .option('verify-remote', { type: 'boolean', default: false, describe: 'Re-check journal-confirmed items with one HEAD each' });
}

export interface GlobalArgs {
  config: string;
  debug: boolean;
  quiet: boolean;
  verbose: boolean;
  'log-format': 'text' | 'json';
}
