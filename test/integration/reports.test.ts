import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { indexRepo, packageChart } from '../support/charts.js';
import { chartmirror, CLI, writeConfig, type ReportItem } from '../support/cli.js';
import { run } from '../support/exec.js';
import { REPO_ROOT } from '../support/helm.js';
import { simpleRequest } from '../support/http.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startStaticServer, type StaticServer } from '../support/static-server.js';
import { tmpDir } from '../support/tmp.js';
import { reportJsonSchema } from '../../src/report/report-schema.js';

type IndexDoc = { apiVersion: string; entries: Record<string, Array<Record<string, unknown>>> };
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: unknown };

/**
 * The part of JSON Schema (2020-12) that schema/report.schema.json uses: type, const, enum,
 * pattern, minimum/maximum, properties/required/additionalProperties, items, anyOf. Returns
 * the problems found, each with its JSON path.
 */
function validate(schema: Schema, value: Json, path = '$'): string[] {
  const problems: string[] = [];
  const typeOf = (v: Json) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
  const known = new Set(['$schema', '$id', 'title', 'description', 'type', 'const', 'enum', 'pattern', 'minimum', 'maximum', 'properties', 'required', 'additionalProperties', 'items', 'anyOf']);
  for (const k of Object.keys(schema)) if (!known.has(k)) problems.push(`${path}: the validator does not know "${k}"`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const t = typeOf(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) return [...problems, `${path}: ${t}, not ${types.join('|')}`];
  }
  if ('const' in schema && value !== schema.const) problems.push(`${path}: not ${JSON.stringify(schema.const)}`);
  if (schema.enum && !(schema.enum as Json[]).includes(value)) problems.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern as string, 'u').test(value)) problems.push(`${path}: does not match ${schema.pattern}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < (schema.minimum as number)) problems.push(`${path}: below minimum`);
    if (schema.maximum !== undefined && value > (schema.maximum as number)) problems.push(`${path}: above maximum`);
  }
  if (schema.anyOf && (schema.anyOf as Schema[]).every((s) => validate(s, value, path).length > 0)) problems.push(`${path}: matches no anyOf branch`);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!(r in value)) problems.push(`${path}.${r}: required`);
    for (const [k, v] of Object.entries(value)) {
      if (props[k]) problems.push(...validate(props[k], v, `${path}.${k}`));
      else if (schema.additionalProperties === false) problems.push(`${path}.${k}: not in the schema`);
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => problems.push(...validate(schema.items as Schema, v, `${path}[${i}]`)));
  return problems;
}

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** A small XML reader for the JUnit file: elements, attributes, text; throws on anything malformed. */
function parseXml(xml: string): XmlNode {
  const unescape = (s: string) =>
    s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const root: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack = [root];
  const token = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < body.length && (m = token.exec(body))) {
    at = token.lastIndex;
    const [, close, name, attrText, selfClose, text] = m;
    const top = stack[stack.length - 1]!;
    if (text !== undefined) {
      if (text.includes('&') && /&(?!(lt|gt|quot|apos|amp);)/.test(text)) throw new Error(`bad entity in ${JSON.stringify(text)}`);
      top.text += unescape(text);
    } else if (close) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText!.matchAll(/([\w.-]+)="([^"]*)"/g)) attrs[a[1]!] = unescape(a[2]!);
      const node: XmlNode = { name: name!, attrs, children: [], text: '' };
      top.children.push(node);
      if (!selfClose) stack.push(node);
    }
  }
  if (at !== body.length) throw new Error(`cannot read XML at ${JSON.stringify(body.slice(at, at + 40))}`);
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]!.name}> is not closed`);
  if (root.children.length !== 1) throw new Error('not one root element');
  return root.children[0]!;
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field.replace(/\r$/, '')), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  return rows;
}

/**
 * Reports and progress output of real runs: a source behind basic auth (nginx), a registry
 * with htpasswd, a layout, one archive missing (a failure) and one chart excluded.
 */
describe.skipIf(!haveBinaries('docker-registry', 'nginx'))('reports, map and progress output', () => {
  const SRC_PASSWORD = 'src-secret-pw-4711';
  let work: string;
  let server: StaticServer;
  let registry: RunningRegistry;
  let config: string;
  let env: Record<string, string>;
  let first: { code: number; stdout: string; stderr: string };
  let report: { items: ReportItem[]; summary: Record<string, number> } & Record<string, Json>;
  const out = (f: string) => join(work, 'reports', 'run1', f);

  beforeAll(async () => {
    work = await tmpDir('reports-it-');
    const repoDir = join(work, 'repo');
    for (const [name, version] of [['alpha', '1.0.0'], ['alpha', '1.1.0'], ['beta', '0.1.0+build.1'], ['missing', '1.0.0'], ['skipme', '1.0.0']]) {
      await packageChart(repoDir, { name: name!, version: version! });
    }
    await indexRepo(repoDir);
    await rm(join(repoDir, 'missing-1.0.0.tgz'));
    server = await startStaticServer({ root: repoDir, basicAuth: { username: 'reader', password: SRC_PASSWORD } });
    // The index gives the missing archive as an absolute URL with credentials in it: they
    // must not reach any report.
    const index = yaml.load(await readFile(join(repoDir, 'index.yaml'), 'utf8')) as IndexDoc;
    index.entries.missing![0]!.urls = [`http://reader:${SRC_PASSWORD}@${server.host}/missing-1.0.0.tgz?sig=abc`];
    await writeFile(join(repoDir, 'index.yaml'), yaml.dump(index));
    registry = await startRegistry({ auth: 'htpasswd' });
    env = { REG_PASSWORD: registry.password!, SRC_PASSWORD };
    config = await writeConfig(work, {
      sources: [{ name: 'classic', url: server.url, auth: { username: 'reader', password: '${SRC_PASSWORD}' }, charts: { exclude: ['skip*'] } }],
      targets: [
        { name: 'registry', url: registry.oci('mirror'), plainHttp: true, auth: { username: registry.username, password: '${REG_PASSWORD}' } },
        { name: 'disk', layout: './out/oci' },
      ],
    });
    first = await chartmirror(
      ['sync', '--config', config, '--report', out('report.json'), '--report-md', out('report.md'), '--junit', out('junit.xml'), '--map', out('map.json')],
      { env },
    );
    report = JSON.parse(await readFile(out('report.json'), 'utf8'));
  });

  afterAll(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it('the run mirrors what it can and fails the missing archive (exit 1)', () => {
    expect(first.code, first.stderr).toBe(1);
    expect(report.summary).toMatchObject({ pushed: 6, present: 0, failed: 2, excluded: 2 });
  });

  it('the committed report schema is the one the code documents', async () => {
    const committed = JSON.parse(await readFile(join(REPO_ROOT, 'schema', 'report.schema.json'), 'utf8'));
    // Regenerate: npm run docs
    expect(committed).toEqual(reportJsonSchema());
  });

  it('the JSON report validates against schema/report.schema.json', async () => {
    const schema = JSON.parse(await readFile(join(REPO_ROOT, 'schema', 'report.schema.json'), 'utf8')) as Schema;
    expect(validate(schema, report as unknown as Json)).toEqual([]);
    expect(report.groups).toEqual([
      { source: 'classic', target: 'disk', pushed: 3, present: 0, failed: 1, excluded: 1, planned: 0, bytesUploaded: expect.any(Number), bytesPlanned: 0 },
      { source: 'classic', target: 'registry', pushed: 3, present: 0, failed: 1, excluded: 1, planned: 0, bytesUploaded: expect.any(Number), bytesPlanned: 0 },
    ]);
    // The validator can say no: a wrong status, a missing field, an undocumented field.
    const broken = structuredClone(report) as unknown as { items: Record<string, Json>[] };
    broken.items[0]!.status = 'done';
    delete broken.items[1]!.target;
    broken.items[2]!.extra = 1;
    expect(validate(schema, broken as unknown as Json)).toEqual([
      '$.items[0].status: "done" not in enum',
      '$.items[1].target: required',
      '$.items[2].extra: not in the schema',
    ]);
  });

  it('a dry-run report validates too', async () => {
    const schema = JSON.parse(await readFile(join(REPO_ROOT, 'schema', 'report.schema.json'), 'utf8')) as Schema;
    const file = join(work, 'reports', 'plan.json');
    const plan = await chartmirror(['plan', '--config', config, '--state', await tmpDir('plan-state-'), '--report', file], { env });
    expect(plan.code, plan.stderr).toBe(0); // the missing archive is planned, with a warning
    const dry = JSON.parse(await readFile(file, 'utf8')) as Json & { dryRun: boolean; items: ReportItem[] };
    expect(dry.dryRun).toBe(true);
    expect(validate(schema, dry)).toEqual([]);
    const missing = dry.items.find((i) => i.chart === 'missing' && i.target === 'disk')!;
    expect(missing.status).toBe('planned');
    expect((missing.warnings as string[]).join()).toMatch(/the archive is not there \(HEAD 404\)/);
  });

  it('the JUnit file parses back: one test case per chart version and target, failures as failures', async () => {
    const suites = parseXml(await readFile(out('junit.xml'), 'utf8'));
    expect(suites.name).toBe('testsuites');
    expect(suites.attrs).toMatchObject({ tests: '10', failures: '2', errors: '0', skipped: '2' });
    expect(suites.children.map((s) => [s.name, s.attrs.name, s.attrs.tests, s.attrs.failures])).toEqual([
      ['testsuite', 'classic -> disk', '5', '1'],
      ['testsuite', 'classic -> registry', '5', '1'],
    ]);
    const cases = suites.children.flatMap((s) => s.children);
    expect(cases).toHaveLength(report.items.length);
    for (const i of report.items) {
      const c = cases.find((x) => x.attrs.classname === `classic.${i.target}` && x.attrs.name === `${i.chart}@${i.version}`);
      expect(c, `${i.chart}@${i.version} ${i.target}`).toBeDefined();
      const kinds = c!.children.map((x) => x.name);
      if (i.status === 'failed') {
        expect(kinds).toEqual(['failure']);
        expect(c!.children[0]!.attrs).toEqual({ message: i.reason, type: 'DOWNLOAD' });
        expect(c!.children[0]!.text).toBe(i.reason);
      } else if (i.status === 'excluded') {
        expect(kinds).toEqual(['skipped']);
        expect(c!.children[0]!.attrs.message).toBe(`excluded: ${i.reason}`);
      } else {
        expect(kinds).toEqual(['system-out']);
        expect(c!.children[0]!.text).toBe(`pushed ${i.reference}`);
      }
    }
    // The reader refuses what is not XML.
    expect(() => parseXml('<a><b></a>')).toThrow();
    expect(() => parseXml('<a>x & y</a>')).toThrow();
  });

  it('the Markdown report has a summary per source and target, totals and every failure with its reason', async () => {
    const md = await readFile(out('report.md'), 'utf8');
    expect(md).toMatch(/^# chartmirror sync$/m);
    expect(md).toMatch(/^\| classic \| disk \| 3 \| 0 \| 1 \| 1 \| [\d.]+ KiB \|$/m);
    expect(md).toMatch(/^\| classic \| registry \| 3 \| 0 \| 1 \| 1 \| [\d.]+ KiB \|$/m);
    expect(md).toMatch(/^\| \*\*total\*\* \| {2}\| \*\*6\*\* \| \*\*0\*\* \| \*\*2\*\* \| \*\*2\*\* \| \*\*[\d.]+ KiB\*\* \|$/m);
    expect(md).toMatch(/^## Failures \(2\)$/m);
    const reason = report.items.find((i) => i.status === 'failed')!.reason!;
    expect(reason).toMatch(/404 not found/);
    expect(md).toContain(`| classic | registry | missing | 1.0.0 | DOWNLOAD | ${reason} |`);
  });

  it('the map lists every mirrored version: old chart URL -> oci://…@sha256, and the registry serves it', async () => {
    const map = JSON.parse(await readFile(out('map.json'), 'utf8')) as { schemaVersion: number; entries: Record<string, string>[] };
    expect(map.schemaVersion).toBe(1);
    const pushed = report.items.filter((i) => i.status === 'pushed');
    expect(map.entries).toHaveLength(pushed.length);
    const basic = { username: registry.username!, password: registry.password! };
    for (const e of map.entries.filter((x) => x.target === 'registry')) {
      const i = pushed.find((x) => x.chart === e.chart && x.version === e.version && x.target === 'registry')!;
      expect(e.url).toBe(`${server.url}/${e.chart}-${e.version}.tgz`);
      expect(e.reference).toBe(`oci://${registry.host}/mirror/${e.chart}@${i.digest}`);
      expect(e.tagReference).toBe(`oci://${registry.host}/mirror/${e.chart}:${e.version.replace('+', '_')}`);
      const res = await simpleRequest(`${registry.baseUrl}/v2/mirror/${e.chart}/manifests/${i.digest}`, {
        method: 'HEAD',
        basic,
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      expect(res.status).toBe(200);
    }
    expect(map.entries.filter((x) => x.target === 'disk').every((x) => x.reference.startsWith('oci-layout://'))).toBe(true);
  });

  it('a rerun maps what is present too, as CSV when the file ends in .csv', async () => {
    const csvFile = join(work, 'reports', 'run2', 'map.csv');
    const again = await chartmirror(['sync', '--config', config, '--map', csvFile, '--quiet'], { env });
    expect(again.code).toBe(1);
    const rows = parseCsv(await readFile(csvFile, 'utf8'));
    expect(rows[0]).toEqual(['source', 'chart', 'version', 'target', 'url', 'reference', 'tagReference', 'digest', 'referrers']);
    const json = JSON.parse(await readFile(out('map.json'), 'utf8')) as { entries: Record<string, string | string[]>[] };
    // referrers: the references, space-separated (none here: a classic source has none).
    const asRows = json.entries.map((e) => rows[0]!.map((c) => (c === 'referrers' ? ((e[c] as string[] | undefined) ?? []).join(' ') : (e[c] as string))));
    expect(rows.slice(1)).toEqual(asRows);
    // --quiet: only the failures and the summary.
    const lines = again.stderr.trim().split('\n');
    expect(lines.slice(0, -1).every((l) => l.startsWith('failed '))).toBe(true);
    expect(lines).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/^done: 0 pushed, 6 present, 2 failed, 2 excluded; 0 B uploaded in /);
  });

  it('no report holds a secret, and no temporary file is left behind', async () => {
    const files: string[] = [];
    for (const dir of ['run1', 'run2']) {
      for (const f of await readdir(join(work, 'reports', dir))) files.push(join(work, 'reports', dir, f));
    }
    expect(files.map((f) => f.split('/').pop()).sort()).toEqual(['junit.xml', 'map.csv', 'map.json', 'report.json', 'report.md']);
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      expect(text, f).not.toContain(SRC_PASSWORD);
      expect(text, f).not.toContain(registry.password!);
      expect(text, f).not.toContain('sig=abc');
    }
  });

  it('without a terminal: one line per finished item, no escape codes, a closing summary', () => {
    expect(first.stderr).not.toMatch(/\x1b|\r/);
    const lines = first.stderr.trim().split('\n');
    const finished = lines.filter((l) => /^(pushed|failed|present) /.test(l));
    expect(finished).toHaveLength(8);
    expect(finished).toContainEqual(expect.stringMatching(/^pushed {3}classic\/alpha 1\.0\.0 -> registry oci:\/\/\S+\/mirror\/alpha@sha256:[a-f0-9]{64}$/));
    expect(finished).toContainEqual(expect.stringMatching(/^failed {3}classic\/missing 1\.0\.0 -> disk: download failed: .*404 not found$/));
    expect(lines.at(-1)).toMatch(/^done: 6 pushed, 0 present, 2 failed, 2 excluded; [\d.]+ KiB uploaded in [\d.]+m?s$/);
  });

  it('--log-format json: every line is one JSON object, the summary included', async () => {
    const run = await chartmirror(['sync', '--config', config, '--state', await tmpDir('json-state-'), '--log-format', 'json'], { env });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.every((e) => typeof e.time === 'string' && typeof e.event === 'string')).toBe(true);
    const items = events.filter((e) => e.event === 'item');
    expect(items).toHaveLength(8);
    // A fresh state directory: the registry and the layout are asked, and already hold them.
    expect(items.filter((e) => e.status === 'present' && e.via === 'target')).toHaveLength(6);
    expect(events.filter((e) => e.event === 'plan-group').map((e) => [e.target, e.pending])).toEqual([['registry', 4], ['disk', 4]]);
    expect(events.at(-1)).toMatchObject({ event: 'summary', pushed: 0, present: 6, failed: 2, excluded: 2, dryRun: false });
    expect(run.stderr).not.toContain(SRC_PASSWORD);
  });

  it.skipIf(!haveBinaries('script'))('in a terminal: a task list per source and target, failures under their task, then the summary', async () => {
    const cmd = `stty cols 120 rows 40; exec ${process.execPath} ${CLI} sync --config ${config} --state ${await tmpDir('tty-state-')}`;
    const res = await run('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...env }, timeoutMs: 60_000 });
    expect(res.code, res.stdout).toBe(1);
    const text = res.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(res.stdout).toMatch(/\x1b\[/); // the listr2 renderer, not the plain lines
    expect(text).toMatch(/classic → registry: 3 present, 1 failed, 1 excluded/);
    expect(text).toMatch(/classic → disk: 3 present, 1 failed, 1 excluded/);
    expect(text).toMatch(/classic → disk {2}\d\/4 {2}0 B/); // done/total and bytes while it runs
    expect(text).toMatch(/› missing 1\.0\.0: download failed: .*404 not found/);
    expect(text).not.toMatch(/^pushed {3}classic/m);
    expect(text).toMatch(/done: 0 pushed, 6 present, 2 failed, 2 excluded; 0 B uploaded in/);
  });
});
