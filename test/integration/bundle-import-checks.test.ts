/**
 * Import against hostile or odd bundles (issue 14, items 8 and 10), into a real registry:
 * a 1 GiB layer streams through in bounded memory (peak RSS of the CLI measured in its own
 * process); a chart Helm cannot load is refused before anything is sent, by one line naming
 * it; one damaged listing entry among ten is reported as that entry and no other.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBinaries } from '../support/bins.js';
import { craftBundle, type CraftedBundle, type CraftedListing } from '../support/bundle-craft.js';
import { CLI, chartmirror } from '../support/cli.js';
import { chartYaml, craftTgz } from '../support/craft.js';
import { runMeasured } from '../support/measure.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tmpDir } from '../support/tmp.js';
import { buildArchive } from '../chart/tar-craft.js';

const MiB = 1024 * 1024;
/** Just over 1 GiB, not a whole number of upload chunks. */
const BIG = 1024 * MiB + 12_345;
const MAX_RSS_MB = 300;
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

describe.skipIf(!haveBinaries('docker-registry'))('import: bounded memory, Helm checks, exact diagnostics', () => {
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

  it('streams a 1 GiB layer: the CLI stays under 300 MB', async () => {
    const bundle = await craftBundle(join(work, 'big'), [good('alpha'), good('bravo')], { zeroLayers: [BIG] });
    const m = await runMeasured(process.execPath, [CLI, 'import', '--from', bundle.dir, '--to', registry.oci('big'), '--plain-http', '--state', join(work, 'state-big')], {
      cwd: work,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(m.code, m.stderr).toBe(0);
    process.stderr.write(`[import] bundle with a ${(BIG / MiB).toFixed(0)} MiB layer: ${Math.round(m.ms)} ms, peak RSS ${m.peakRssMb} MB\n`);
    expect(m.stderr).toMatch(/done: 3 pushed/);
    expect(m.peakRssMb, `peak RSS ${m.peakRssMb} MB`).toBeLessThan(MAX_RSS_MB);
    const layer = bundle.listing.images![0]!;
    const manifest = await fetch(`${registry.baseUrl}/v2/big/images/big0/manifests/1.0`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(manifest.headers.get('docker-content-digest')).toBe(layer.digest);
    const { layers } = (await manifest.json()) as { layers: Array<{ digest: string }> };
    const head = await fetch(`${registry.baseUrl}/v2/big/images/big0/blobs/${layers[0]!.digest}`, { method: 'HEAD' });
    expect(Number(head.headers.get('content-length'))).toBe(BIG);
  }, 180_000);

  it('refuses a bundle holding a chart Helm cannot load, naming it, and sends nothing', async () => {
    const evil = {
      name: 'evil',
      version: '6.6.6',
      archive: buildArchive({ id: 'traversal', parts: [{ file: 'evil/Chart.yaml', data: chartYaml('evil', '6.6.6') }, { file: 'evil/../../etc/cron.d/x', data: 'x' }] }),
    };
    const bundle = await craftBundle(join(work, 'evil'), [good('alpha'), evil, good('bravo')]);
    await registry.clearRequests();
    const r = await importInto(bundle.dir, 'evil');
    expect(r.code, r.stderr).toBe(1);
    const line = fatalLine(r.stderr);
    expect(line).toBe(
      `chartmirror: ${bundle.dir} holds a chart version sync would refuse; nothing was imported: evil 6.6.6: chart archive ${bundle.listing.charts[1]!.archiveDigest}: Helm cannot load it: chart illegally references parent directory`,
    );
    expect((await registry.requests()).filter((q) => !['GET', 'HEAD'].includes(q.method))).toEqual([]);

    // inspect --verify says the same, and fails.
    const inspect = await chartmirror(['inspect', bundle.dir, '--verify']);
    expect(inspect.code).toBe(1);
    expect(inspect.stdout).toMatch(/verified: every blob matches its digest\nREFUSED: 1 chart version import would not push:\n {2}evil 6\.6\.6: chart archive sha256:[0-9a-f]{64}: Helm cannot load it: chart illegally references parent directory\n/);

    // A Chart.yaml that names another chart than the listing says is refused too.
    const liar = await craftBundle(join(work, 'liar'), [good('alpha'), { ...good('bravo'), name: 'charlie' }]);
    const l = await importInto(liar.dir, 'liar');
    expect(l.code, l.stderr).toBe(1);
    expect(fatalLine(l.stderr)).toMatch(/nothing was imported: charlie 1\.0\.0: Chart\.yaml name "bravo" does not match the listing's chart "charlie"$/);
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
