import { escapeControl } from '../report/text.js';
import type { Argv, CommandModule } from 'yargs';
import { EXIT } from './exit-codes.js';
import { reportOptions } from './options.js';

interface MergeArgs {
  reports: string[];
  report?: string;
  'report-md'?: string;
  junit?: string;
  map?: string;
}

/** `chartmirror report merge a.json b.json …`: shard reports joined into one, with totals. */
export function reportCommand(setExitCode: (code: number) => void): CommandModule {
  return {
    command: 'report <action>',
    describe: 'Work with JSON reports: report merge a.json b.json … joins shard reports into one',
    builder: (y: Argv) =>
      y
        .command(
          'merge <reports..>',
          'Merge JSON reports (of the shards of one run) into one report with totals',
          (m: Argv) =>
            reportOptions(m.positional('reports', { type: 'string', array: true, describe: 'Report files written by --report' })).epilogue(
              'Prints the totals; writes the merged report in any of the formats asked for. Exit 1 when an item failed or a shard is missing.',
            ),
          async (args) => setExitCode(await mergeCommand(args as unknown as MergeArgs)),
        )
        .demandCommand(1, 'Name an action: merge'),
    handler: () => undefined,
  };
}

async function mergeCommand(args: MergeArgs): Promise<number> {
  const { readReportFile, mergeReports } = await import('../report/merge.js');
  const { writeReports } = await import('../report/write.js');
  const { runSummary, summaryLine } = await import('../report/summary.js');
  const reports = [];
  for (const file of args.reports) reports.push({ file, report: await readReportFile(file) });
  const merged = mergeReports(reports);
  for (const w of merged.warnings) process.stderr.write(`warning: ${escapeControl(w)}\n`);
  await writeReports({ json: args.report, markdown: args['report-md'], junit: args.junit, map: args.map }, merged.command, merged.result);
  const s = runSummary(merged.result);
  process.stdout.write(`${args.reports.length} reports merged; ${summaryLine(s)}\n`);
  return s.failed > 0 || merged.warnings.length > 0 ? EXIT.FAILED : EXIT.OK;
}
