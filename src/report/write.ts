import { ChartMirrorError, errorMessage } from '../errors.js';
import type { RunResult } from '../pipeline/run.js';
import { jsonReport, writeReportFile } from './json-report.js';
import { junitReport } from './junit.js';
import { mapFormat, mapReport } from './map.js';
import { markdownReport } from './markdown.js';

export interface ReportFiles {
  /** --report: JSON (schema/report.schema.json). */
  json?: string;
  /** --report-md: Markdown summary. */
  markdown?: string;
  /** --junit: JUnit XML. */
  junit?: string;
  /** --map: old chart URL -> OCI reference, JSON or CSV (by extension). */
  map?: string;
}

/**
 * Write every requested report. Each is redacted and written atomically; all are attempted
 * even when one fails, and the first failure is then thrown.
 */
export async function writeReports(files: ReportFiles, command: string, result: RunResult): Promise<void> {
  const jobs: [string | undefined, () => string][] = [
    [files.json, () => JSON.stringify(jsonReport(command, result), null, 2) + '\n'],
    [files.markdown, () => markdownReport(command, result)],
    [files.junit, () => junitReport(command, result)],
    [files.map, () => mapReport(result, mapFormat(files.map!))],
  ];
  const settled = await Promise.allSettled(
    jobs
      .filter(([file]) => file)
      .map(async ([file, render]) => {
        try {
          await writeReportFile(file!, render());
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new ChartMirrorError('INTERNAL', `cannot write ${file}: ${code ?? errorMessage(e)}`, { cause: e });
        }
      }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}
