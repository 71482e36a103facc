import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadChartArchive } from '../../src/chart/archive.js';
import { ChartMirrorError } from '../../src/errors.js';
import { haveTestdata, HELM_TESTDATA as TESTDATA } from '../support/testdata.js';
import { buildArchive, type TarPart } from './tar-craft.js';

const CY = (name = 'c', version = '0.1.0') => `apiVersion: v2\nname: ${name}\nversion: ${version}\n`;
const chartYaml: TarPart = { file: 'c/Chart.yaml', data: CY() };

async function failure(tgz: Uint8Array): Promise<string> {
  try {
    await loadChartArchive(tgz);
  } catch (e) {
    expect(e).toBeInstanceOf(ChartMirrorError);
    expect((e as ChartMirrorError).code).toBe('CHART');
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected the archive to be refused');
}

describe('loadChartArchive', () => {
  it('loads metadata, file names (first component stripped) and the Chart.yaml mtime', async () => {
    const tgz = buildArchive({
      id: 'ok',
      parts: [
        { file: 'c/Chart.yaml', data: CY() + 'description: hi\n', mtime: 1_234_567_890 },
        { file: 'c/values.yaml', data: 'a: 1\n' },
        { file: 'c/templates/x.yaml', data: 'x' },
      ],
    });
    const c = await loadChartArchive(tgz);
    expect(c.metadata).toEqual({ apiVersion: 'v2', name: 'c', version: '0.1.0', description: 'hi' });
    expect(c.fileNames).toEqual(['Chart.yaml', 'values.yaml', 'templates/x.yaml']);
    expect(c.chartYamlMtime?.toISOString()).toBe('2009-02-13T23:31:30.000Z');
  });

  it('defaults apiVersion to v1 and merges requirements.yaml into the same metadata', async () => {
    const tgz = buildArchive({
      id: 'req',
      parts: [
        { file: 'c/Chart.yaml', data: 'name: c\nversion: 1.0.0\n' },
        { file: 'c/requirements.yaml', data: 'dependencies:\n  - {name: d, version: ">=1", repository: r}\n' },
      ],
    });
    expect((await loadChartArchive(tgz)).metadata).toEqual({ name: 'c', version: '1.0.0', apiVersion: 'v1', dependencies: [{ name: 'd', version: '>=1', repository: 'r' }] });
  });

  it('decodes several Chart.yaml entries into one metadata (later ones win per field)', async () => {
    const tgz = buildArchive({ id: 'two', parts: [{ file: 'a/Chart.yaml', data: CY() + 'description: first\n' }, { file: 'b/Chart.yaml', data: 'version: 0.2.0\n' }] });
    expect((await loadChartArchive(tgz)).metadata).toMatchObject({ name: 'c', version: '0.2.0', description: 'first' });
  });

  it('loads subcharts and wraps their errors like Helm', async () => {
    const ok = buildArchive({ id: 's', parts: [chartYaml, { file: 'c/charts/s-0.1.0.tgz', tgz: [{ file: 's/Chart.yaml', data: CY('s') }] }, { file: 'c/charts/d/Chart.yaml', data: CY('d') }] });
    expect((await loadChartArchive(ok)).metadata.name).toBe('c');
    const bad = buildArchive({ id: 'b', parts: [chartYaml, { file: 'c/charts/d/Chart.yaml', data: CY('d') }, { file: 'c/charts/d/charts/e/Chart.yaml', data: CY('e', 'x') }] });
    expect(await failure(bad)).toBe('error unpacking subchart d in c: error unpacking subchart e in d: Chart.yaml: validation: chart.metadata.version "x" is invalid');
    const skipped = buildArchive({ id: 'k', parts: [chartYaml, { file: 'c/charts/_x/Chart.yaml', data: 'bad: [' }, { file: 'c/charts/.y/z', data: 'x' }] });
    expect((await loadChartArchive(skipped)).metadata.name).toBe('c');
  });

  it('ignores damage after the end of the tar, as Helm does', async () => {
    for (const gzip of ['trailing-garbage', 'bad-crc', 'reserved-flags', 'two-members'] as const) {
      expect((await loadChartArchive(buildArchive({ id: gzip, parts: [chartYaml, { file: 'c/values.yaml', data: 'a: 1\n' }], gzip }))).metadata.name).toBe('c');
    }
  });

  it('refuses each kind of bad archive with a distinct, recognisable message', async () => {
    const msgs = {
      notGzip: await failure(buildArchive({ id: 'ng', parts: [chartYaml], gzip: 'none' })),
      corruptGzip: await failure(buildArchive({ id: 'cg', parts: [chartYaml, { file: 'c/x', data: 'hello world '.repeat(500) }], gzip: 'corrupt-deflate' })),
      truncated: await failure(buildArchive({ id: 'tr', parts: [chartYaml, { file: 'c/x', zeros: 100000 }], gzip: 'truncate-half' })),
      corruptTar: await failure(buildArchive({ id: 'ct', parts: [chartYaml, { file: 'c/x', data: 'y', badChecksum: true }] })),
      traversal: await failure(buildArchive({ id: 'tv', parts: [chartYaml, { file: 'c/../x', data: 'x' }] })),
      absolute: await failure(buildArchive({ id: 'ab', parts: [chartYaml, { file: 'c//etc/passwd', data: 'x' }] })),
      outside: await failure(buildArchive({ id: 'out', parts: [chartYaml, { file: 'README', data: 'x' }] })),
      topChartYaml: await failure(gzipSync(Buffer.concat([buildArchive({ id: 't', parts: [{ file: 'Chart.yaml', data: CY() }], gzip: 'none' })]))),
      fileTooLarge: await failure(buildArchive({ id: 'big', parts: [chartYaml, { file: 'c/big', zeros: 5 * 1024 * 1024 + 1 }] })),
      noChartYaml: await failure(buildArchive({ id: 'nc', parts: [{ file: 'c/values.yaml', data: 'a: 1\n' }] })),
      noFiles: await failure(buildArchive({ id: 'nf', parts: [{ file: 'c/', type: '5' }] })),
      badVersion: await failure(buildArchive({ id: 'bv', parts: [{ file: 'c/Chart.yaml', data: CY('c', 'one') }] })),
      badYaml: await failure(buildArchive({ id: 'by', parts: [{ file: 'c/Chart.yaml', data: 'name: [' }] })),
      badValues: await failure(buildArchive({ id: 'bva', parts: [chartYaml, { file: 'c/values.yaml', data: '- a\n' }] })),
    };
    expect(msgs.notGzip).toBe("chart archive does not appear to be a gzipped archive; got 'application/octet-stream'");
    expect(await failure(new Uint8Array())).toBe(msgs.notGzip);
    expect(msgs.corruptGzip).toMatch(/^chart archive is not valid gzip: /);
    expect(msgs.truncated).toBe('chart archive is truncated: unexpected EOF');
    expect(msgs.corruptTar).toBe('archive/tar: invalid tar header');
    expect(msgs.traversal).toBe('chart illegally references parent directory');
    expect(msgs.absolute).toBe('chart illegally contains absolute paths');
    expect(msgs.outside).toBe('chart illegally contains content outside the base directory: "README"');
    expect(msgs.topChartYaml).toBe('chart illegally contains content outside the base directory: "Chart.yaml"');
    expect(msgs.fileTooLarge).toBe('decompressed chart file "c/big" is larger than the maximum file size 5242880');
    expect(msgs.noChartYaml).toBe('Chart.yaml file is missing');
    expect(msgs.noFiles).toBe('no files in chart archive');
    expect(msgs.badVersion).toBe('Chart.yaml: validation: chart.metadata.version "one" is invalid');
    expect(msgs.badYaml).toMatch(/^cannot load Chart\.yaml: error converting YAML to JSON: yaml: /);
    expect(msgs.badValues).toMatch(/^cannot load values\.yaml: .*cannot unmarshal array/);
    expect(new Set(Object.values(msgs)).size).toBe(Object.keys(msgs).length);
  });

  it('refuses a total over 100 MiB with Helm’s message', async () => {
    const parts: TarPart[] = [chartYaml, ...Array.from({ length: 20 }, (_, i) => ({ file: `c/b${i}`, zeros: 5 * 1024 * 1024 }))];
    expect(await failure(buildArchive({ id: 'total', parts }))).toBe('decompressed chart is larger than the maximum size 104857600');
  });
});

describe.skipIf(!haveTestdata())('Helm test charts', () => {
  const charts: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.tgz')) charts.push(p);
    }
  };
  if (haveTestdata()) walk(TESTDATA);

  it.each(charts.map((p) => [p.slice(TESTDATA.length + 1), p]))('%s loads', async (_rel, p) => {
    const c = await loadChartArchive(readFileSync(p));
    expect(c.metadata.name).toBeTruthy();
    expect(c.metadata.version).toBeTruthy();
    expect(c.metadata.apiVersion).toMatch(/^v[12]$/);
    expect(c.fileNames).toContain('Chart.yaml');
  });

  it('finds the charts', () => {
    expect(charts.length).toBeGreaterThanOrEqual(12);
  });
});
