import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ChartMirrorError, ConfigError, errorMessage } from '../errors.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import { FarSideStateSchema, STATE_SCHEMA_VERSION, zodProblems, type FarSideState, type StateChart } from './format.js';
import { describeBundle, openBundle } from './read.js';
import { parseImageReference } from '../images/reference.js';
import { IMAGES_SOURCE } from '../pipeline/image-jobs.js';

/** Where import keeps the far side's cumulative state inside its state directory. */
export function defaultStatePath(stateDir: string): string {
  return join(stateDir, 'chartmirror-state.json');
}

export async function readStateFile(file: string): Promise<FarSideState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ChartMirrorError('CONFIG', `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not JSON (${errorMessage(e)})`);
  }
  const parsed = FarSideStateSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${file}: not a chartmirror state file: ${zodProblems(parsed.error)}`);
  return parsed.data;
}

const key = (c: Pick<StateChart, 'repository' | 'version'>) => `${c.repository}\u0000${c.version}`;

/** `prev` (when it describes the same destination) plus `confirmed`; a newer entry replaces an older one. */
export function mergeState(prev: FarSideState | undefined, destination: string, confirmed: StateChart[], now = new Date()): FarSideState {
  const byKey = new Map<string, StateChart>();
  if (prev && prev.destination === destination) for (const c of prev.charts) byKey.set(key(c), c);
  for (const c of confirmed) byKey.set(key(c), c);
  const charts = [...byKey.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return { schemaVersion: STATE_SCHEMA_VERSION, kind: 'chartmirror-state', destination, updatedAt: now.toISOString(), charts };
}

export async function writeStateFile(file: string, state: FarSideState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n');
}

/**
 * What the far side already has, for `export --since`: a state file written by import (`*.json`),
 * or a bundle sent earlier (a tar, its first part, or a directory), whose listing is then taken
 * as imported: the way to go incremental across a one-way gap.
 */
export async function loadSince(paths: string[]): Promise<StateChart[]> {
  const out: StateChart[] = [];
  for (const p of paths) {
    if (p.endsWith('.json')) {
      const state = await readStateFile(p);
      if (!state) throw new ConfigError(`--since ${p}: no such file`);
      out.push(...state.charts);
      continue;
    }
    let layout;
    try {
      layout = await openBundle(p);
    } catch (e) {
      throw new ConfigError(`--since ${p}: ${errorMessage(e)}`);
    }
    try {
      const d = await describeBundle(layout);
      if (d.problems.length) throw new ConfigError(`--since ${p}: not a readable bundle: ${d.problems[0]}`);
      out.push(...d.listing.charts.map((c) => ({ chart: c.chart, version: c.version, tag: c.tag, repository: c.repository, digest: c.digest, archiveDigest: c.archiveDigest, source: c.source })));
      for (const img of d.listing.images ?? []) {
        const p = parseImageReference(img.image);
        if (!p.ok) continue;
        out.push({ chart: `${p.ref.registry}/${p.ref.repository}`, version: p.ref.tag ?? p.ref.digest!, tag: img.tag, repository: img.repository, digest: img.digest, source: IMAGES_SOURCE });
      }
    } finally {
      await layout.close();
    }
  }
  return out;
}
