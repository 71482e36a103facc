/**
 * A run's state: where its journal and index cache live (a directory, or a registry-backed
 * state pulled into a temporary directory), its lock, and for a registry the pushes that keep
 * the artifact current. A sharded run keeps its own state (`shard-0-of-3/` in a directory, the
 * `state-shard-0-of-3` tag in a registry) and also consults the other shards' journals found
 * in the same directory, so changing the shard count costs no re-verification.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { MirrorConfig } from '../config/load.js';
import { stateStoreProblem } from '../config/load.js';
import { RegistryRepository } from '../content/registry.js';
import { DEFAULTS } from '../defaults.js';
import { ChartMirrorError, ConfigError, errorMessage } from '../errors.js';
import type { RetryContext, RetryPolicy } from '../http/retry.js';
import { parseReference } from '../oci/reference.js';
import type { Journal } from '../pipeline/journal.js';
import { registryConnection } from '../pipeline/registries.js';
import { shardLabel, type Shard } from '../pipeline/shard.js';
import type { RegistryConnection, RegistryConnector } from '../registry/connect.js';
import { lockStateDir, type StateLock } from './dir-lock.js';
import { RegistryState } from './registry-state.js';

export type StateLocation =
  | { kind: 'dir'; dir: string }
  | { kind: 'registry'; store: string; registry: string; repository: string; connection: RegistryConnection; pushIntervalMs: number };

/**
 * Where a run keeps its state: `--state` (a directory, or oci://… for a registry) over the
 * config's `state`, over `.chartmirror/` beside the config.
 */
export function stateLocation(cfg: MirrorConfig, override?: string): StateLocation {
  const store = override !== undefined ? (override.startsWith('oci://') ? override : undefined) : cfg.stateStore;
  if (store === undefined) return { kind: 'dir', dir: override !== undefined ? (isAbsolute(override) ? override : resolve(override)) : cfg.stateDir };
  const problem = stateStoreProblem(store);
  if (problem) throw new ConfigError(`${override !== undefined ? '--state' : 'state.store'} ${store}: ${problem}`);
  const ref = parseReference(store, { allowTag: false });
  return {
    kind: 'registry',
    store,
    registry: ref.registry,
    repository: ref.repository,
    connection: registryConnection(cfg)(ref.registry),
    pushIntervalMs: cfg.statePushIntervalMs,
  };
}

export interface RunState {
  /** The local directory of the journal and index cache for this run. */
  readonly dir: string;
  /** Other journals of the same state to consult (other shards'). */
  readonly inherit: string[];
  /** For messages: the directory, or oci://host/repo:tag. */
  readonly display: string;
  /** Aborted when another run took this run's lock over. */
  readonly lost?: AbortSignal;
  /** From now on, keep the registry copy current: push every few minutes (a no-op for a directory). */
  track(journal: Journal): void;
  /** Push a last time (registry), release the lock, remove temporary files. */
  close(): Promise<void>;
}

export interface OpenStateOptions {
  shard?: Shard;
  /** Take the lock (runs that write); reading runs (plan, dry runs) take none. */
  lock: boolean;
  command?: string;
  connector: RegistryConnector;
  retry: RetryPolicy;
  onRetry?: RetryContext['onRetry'];
  onWarning: (message: string) => void;
  signal?: AbortSignal;
}

export async function openRunState(loc: StateLocation, opts: OpenStateOptions): Promise<RunState> {
  return loc.kind === 'dir' ? openDirState(loc.dir, opts) : openRegistryState(loc, opts);
}

const SHARD_DIR = /^shard-\d+-of-\d+$/;

async function openDirState(base: string, opts: OpenStateOptions): Promise<RunState> {
  const own = opts.shard ? join(base, `shard-${shardLabel(opts.shard)}`) : base;
  const siblings = (await readdir(base).catch(() => [] as string[])).filter((n) => SHARD_DIR.test(n)).map((n) => join(base, n));
  const inherit = [...(opts.shard ? [base] : []), ...siblings].filter((d) => d !== own);
  const lock = opts.lock ? await lockStateDir(own, { command: opts.command, leaseMs: DEFAULTS.state.lockLeaseMs, renewMs: DEFAULTS.state.lockRenewMs, onWarning: opts.onWarning }) : undefined;
  return {
    dir: own,
    inherit,
    display: own,
    lost: lock?.lost,
    track() {},
    async close() {
      await lock?.release();
    },
  };
}

async function openRegistryState(loc: Extract<StateLocation, { kind: 'registry' }>, opts: OpenStateOptions): Promise<RunState> {
  const client = opts.connector.client(loc.connection);
  const store = new RegistryRepository(client, loc.repository, { retry: opts.retry, onRetry: opts.onRetry, mount: false });
  const suffix = opts.shard ? `-shard-${shardLabel(opts.shard)}` : '';
  const state = new RegistryState(store, `state${suffix}`, `lock${suffix}`);
  const where = `state ${state.display}`;
  let lock: StateLock | undefined;
  try {
    if (opts.lock) {
      lock = await state.lock({
        command: opts.command,
        leaseMs: DEFAULTS.state.lockLeaseMs,
        renewMs: DEFAULTS.state.lockRenewMs,
        settleMs: DEFAULTS.state.lockSettleMs,
        onWarning: opts.onWarning,
      });
    }
  } catch (e) {
    throw stateError(where, 'cannot take the lock', e);
  }
  const dir = await mkdtemp(join(tmpdir(), 'chartmirror-state-'));
  try {
    await state.pull(dir, opts.signal);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    await lock?.release().catch(() => undefined);
    throw stateError(where, 'cannot read it', e);
  }

  let journal: Journal | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pushing: Promise<void> | undefined;
  // One push at a time; a periodic push while one is under way is skipped, the final one waits.
  const push = async (final: boolean): Promise<void> => {
    if (pushing) {
      if (!final) return;
      await pushing;
    }
    if (!journal) return;
    const snapshot = journal.serialize();
    pushing = state
      .push(dir, snapshot)
      .catch((e: unknown) => opts.onWarning(`${where}: cannot push the journal (${errorMessage(e)})${final ? '; the next run redoes what it would have skipped' : '; the next push will try again'}`))
      .finally(() => (pushing = undefined));
    await pushing;
  };
  return {
    dir,
    inherit: [],
    display: state.display,
    lost: lock?.lost,
    track(j) {
      journal = j;
      timer = setInterval(() => void push(false), loc.pushIntervalMs);
      timer.unref();
    },
    async close() {
      if (timer) clearInterval(timer);
      try {
        await push(true);
      } finally {
        await lock?.release().catch((e: unknown) => opts.onWarning(`${where}: cannot release the lock (${errorMessage(e)}); the next run takes it over when its lease ends`));
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

function stateError(where: string, what: string, e: unknown): unknown {
  if (e instanceof ChartMirrorError && e.code === 'LOCKED') return e;
  return new ChartMirrorError(e instanceof ChartMirrorError ? e.code : 'REGISTRY', `${where}: ${what}: ${errorMessage(e)}`, { cause: e });
}
