import type { Argv } from 'yargs';

/** Progress and log options of every command that runs something. */
export function logOptions<T>(y: Argv<T>) {
  return y
    .option('debug', { type: 'boolean', default: false, describe: 'Show stack traces and every retry' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output; only failures and the final summary' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'List every item, including journal hits and exclusions' })
    .option('log-format', {
      choices: ['text', 'json'] as const,
      default: 'text' as const,
      describe: 'Progress as text (a task list in a terminal, lines otherwise) or one JSON object per line',
    });
}

/** The report files a run can write. */
export function reportOptions<T>(y: Argv<T>) {
  return y
    .option('report', { type: 'string', describe: 'Write a JSON report to FILE (schema/report.schema.json)', requiresArg: true })
    .option('report-md', { type: 'string', describe: 'Write a Markdown summary to FILE: per source and target, failures, totals', requiresArg: true })
    .option('junit', { type: 'string', describe: 'Write JUnit XML to FILE: one test case per chart version and target', requiresArg: true })
    .option('map', { type: 'string', describe: 'Write old chart URL -> oci://…@sha256 for every mirrored version to FILE (JSON, or CSV for *.csv)', requiresArg: true });
}

/** Prometheus metrics of a run (sync, import): docs/metrics.md. */
export function metricsOptions<T>(y: Argv<T>) {
  return y
    .option('metrics-file', {
      type: 'string',
      requiresArg: true,
      describe: "Write the run's Prometheus metrics to FILE when it ends (for node_exporter's textfile collector)",
    })
    .option('pushgateway', {
      type: 'string',
      requiresArg: true,
      describe: "Push the run's Prometheus metrics to this Pushgateway when it ends: http(s)://[user:password@]host:port",
    });
}

/** Options every config-reading command takes. */
export function commonOptions<T>(y: Argv<T>) {
  return logOptions(y.option('config', { alias: 'c', type: 'string', default: 'mirror.config.yaml', describe: 'Config file', requiresArg: true }));
}

/** Options of commands that run the pipeline (sync, plan, export). */
export function runOptions<T>(y: Argv<T>) {
  return reportOptions(commonOptions(y))
    .option('concurrency', { type: 'number', describe: 'Chart versions in flight (default: config, else 16)', requiresArg: true })
    .option('state', { type: 'string', describe: 'Where the journal and index cache live: a directory, or oci://host/path for a registry (default: the config\'s state, else .chartmirror/ beside the config)', requiresArg: true })
    .option('verify-remote', { type: 'boolean', default: false, describe: 'Re-check journal-confirmed items with one HEAD each' })
    .option('images', { type: 'boolean', describe: 'Mirror the charts\' images too when images.enabled; --no-images leaves them out this time' });
}

export interface GlobalArgs {
  config: string;
  debug: boolean;
  quiet: boolean;
  verbose: boolean;
  'log-format': 'text' | 'json';
}

/** Sharding (sync, plan): one part of the work, for Kubernetes Indexed Jobs. */
export function shardOption<T>(y: Argv<T>) {
  return y.option('shard', {
    type: 'string',
    requiresArg: true,
    describe: 'Do only shard i of n (0-based, e.g. 0/3), split by chart; auto/n takes i from JOB_COMPLETION_INDEX (default: CHARTMIRROR_SHARD, else all)',
  });
}
