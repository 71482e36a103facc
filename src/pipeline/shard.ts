/**
 * Sharding: one run does one part of the work, so that a Kubernetes Indexed Job (or any set of
 * processes) can share a big mirror without a scheduler or a work queue. The work is split by a
 * stable hash of (source, chart): every version of a chart stays in one shard, and a chart
 * stays in its shard when others are added or removed (only changing the shard count moves
 * charts). Images found in a chart follow that chart; `images.extra` are split by reference.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';

export interface Shard {
  /** 0-based. */
  index: number;
  count: number;
}

/** The environment variable Kubernetes sets in each pod of an Indexed Job. */
export const COMPLETION_INDEX_ENV = 'JOB_COMPLETION_INDEX';
export const SHARD_ENV = 'CHARTMIRROR_SHARD';
const MAX_SHARDS = 10_000;

/**
 * `i/n` (0 <= i < n) or `auto/n` (i from JOB_COMPLETION_INDEX). `where` names the option or
 * variable in messages.
 */
export function parseShard(text: string, where: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^(auto|\d{1,5})\/(\d{1,5})$/.exec(text.trim());
  if (!m) throw new ConfigError(`${where}: "${text}" is not a shard; write i/n (0-based, e.g. 0/3) or auto/n (the index from ${COMPLETION_INDEX_ENV})`);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw new ConfigError(`${where}: the shard count must be between 1 and ${MAX_SHARDS}, not ${count}`);
  let index: number;
  if (m[1] === 'auto') {
    const raw = env[COMPLETION_INDEX_ENV];
    if (raw === undefined || !/^\d{1,5}$/.test(raw.trim())) {
      throw new ConfigError(
        `${where}: auto/${count} takes the shard index from ${COMPLETION_INDEX_ENV}, which is ${raw === undefined ? 'not set' : `"${raw}"`}; Kubernetes sets it in Indexed Jobs (completionMode: Indexed), elsewhere give i/${count}`,
      );
    }
    index = Number(raw.trim());
  } else {
    index = Number(m[1]);
  }
  if (index >= count) throw new ConfigError(`${where}: shard index ${index} is not below the shard count ${count} (indexes are 0-based)`);
  return { index, count };
}

/** The shard from `--shard` (when given), else CHARTMIRROR_SHARD, else none (the whole plan). */
export function shardFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  if (option !== undefined) return parseShard(option, '--shard', env);
  const fromEnv = env[SHARD_ENV];
  if (fromEnv) return parseShard(fromEnv, SHARD_ENV, env);
  return undefined;
}

/** The shard a key belongs to: the first 48 bits of its sha256, modulo the count. */
export function shardOf(key: string, count: number): number {
  const h = createHash('sha256').update(key).digest();
  return h.readUIntBE(0, 6) % count;
}

/** The key of a chart: its source and name (a NUL cannot occur in either). */
export function chartShardKey(source: string, chart: string): string {
  return `${source}\u0000${chart}`;
}

/** Whether this shard owns the chart (always, when the run is not sharded). */
export function ownsChart(shard: Shard | undefined, source: string, chart: string): boolean {
  return !shard || shard.count === 1 || shardOf(chartShardKey(source, chart), shard.count) === shard.index;
}

/** Whether this shard copies an `images.extra` entry. */
export function ownsExtraImage(shard: Shard | undefined, reference: string): boolean {
  return !shard || shard.count === 1 || shardOf(`images\u0000${reference}`, shard.count) === shard.index;
}

/** `0-of-3`: in state paths, tags and metric labels (a slash fits none of them). */
export function shardLabel(shard: Shard): string {
  return `${shard.index}-of-${shard.count}`;
}

/** `0/3`: for people. */
export function shardText(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}
