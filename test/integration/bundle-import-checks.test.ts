/**
 * Import against hostile or odd bundles (issue 14), into a real registry: one damaged listing
 * entry among ten is reported as that entry and no other.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { craftBundle, type CraftedBundle, type CraftedListing } from '../support/bundle-craft.js';
import { chartmirror } from '../support/cli.js';
import { chartYaml, craftTgz } from '../support/craft.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tmpDir } from '../support/tmp.js';

const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];

const good = (name: string, version = '1.0.0') => ({ name, version, archive: craftTgz([{ name: `${name}/Chart.yaml`, data: chartYaml(name, version) }, { name: `${name}/values.yaml`, data: 'a: 1\n' }]) });

/** The `chartmirror: ...` line of a failed command (there must be exactly one). */
function fatalLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.startsWith('chartmirror: '));
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

/** Chart names a message mentions (the bundle's own path left out). */
function named(message: string, path: string): string[] {
  return NAMES.filter((n) => new RegExp(`\\b${n}\\b`).test(message.split(path).join('')));
}

describe.skipIf(!haveBinaries('docker-registry'))('import: exact diagnostics', () => {
  let work: string;
  let registry: RunningRegistry;
  let n = 0;

  const importInto = (from: string, path: string) =>
    chartmirror(['import', '--from', from, '--to', registry.oci(path), '--plain-http', '--state', join(work, `state-${n++}`)], { cwd: work });

  beforeAll(async () => {
    work = await tmpDir('import-checks-');
    registry = await startRegistry();
  });

  afterAll(async () => {
    await registry?.stop();
  });

  describe('one damaged listing entry among ten charts is the only one named', () => {
    let bundle: CraftedBundle;
    beforeAll(async () => {
      bundle = await craftBundle(join(work, 'ten'), NAMES.map((name) => good(name)));
    });

    const damage: Array<[string, (l: CraftedListing) => void, RegExp]> = [
      ['its tag', (l) => (l.charts[2]!.tag = '9.9.9'), /charlie 1\.0\.0: tag "9\.9\.9" does not belong to version 1\.0\.0/],
      ['its repository', (l) => (l.charts[2]!.repository = 'moved/charlie'), /charlie 1\.0\.0: the listing names moved\/charlie:1\.0\.0 but index\.json does not/],
      ['its manifest digest', (l) => (l.charts[2]!.digest = 'sha256:not-a-digest'), /charts\[2\] \(charlie 1\.0\.0\) digest: /],
      ['its archive digest', (l) => (l.charts[2]!.archiveDigest = l.charts[3]!.archiveDigest), /charlie 1\.0\.0: the listing's archive digest is not the manifest's chart layer/],
      ['its size', (l) => (l.charts[2]!.size += 1), /charlie 1\.0\.0: index\.json and the listing disagree about charlie:1\.0\.0/],
    ];

    it.each(damage)('%s', async (_what, change, expected) => {
      const listing = structuredClone(bundle.listing);
      change(listing);
      await bundle.writeListing(listing);
      try {
        const r = await importInto(bundle.dir, 'ten');
        expect(r.code, r.stderr).toBe(1);
        const line = fatalLine(r.stderr);
        expect(line).toMatch(/is damaged or incomplete; nothing was imported: /);
        expect(line).toMatch(expected);
        expect(named(line, bundle.dir), line).toEqual(['charlie']);
        const inspect = await chartmirror(['inspect', bundle.dir, '--verify']);
        expect(inspect.code).toBe(1);
        const problems = inspect.stdout.split('DAMAGED:')[1] ?? inspect.stderr;
        expect(named(problems, bundle.dir), problems).toEqual(['charlie']);
      } finally {
        await bundle.writeListing(bundle.listing);
      }
    });

    it('the intact bundle imports (the control)', async () => {
      const r = await importInto(bundle.dir, 'ten');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/done: 10 pushed/);
    });
  });
});
