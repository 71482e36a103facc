/**
 * Discovery: read each source's index (conditionally, from the index cache on a 304). Any
 * failure here is fatal before work starts: a plan is only made from indexes that were read.
 */
import { ConfigError, errorMessage } from '../errors.js';
import type { SourceConfig } from '../config/load.js';
import { parseIndex, type IndexEntry } from '../source/index-file.js';
import type { ChartRepository } from '../source/repository.js';
import type { IndexCache } from './index-cache.js';

export interface LoadedIndex {
  source: SourceConfig;
  repo: ChartRepository;
  entries: IndexEntry[];
  problems: { chart: string; version: string; reason: string }[];
  warnings: string[];
  notModified: boolean;
  /** Keep this index and its validators for the next run's conditional fetch (not in dry runs). */
  remember?: () => Promise<void>;
}

export async function loadIndex(source: SourceConfig, repo: ChartRepository, cache: IndexCache, signal?: AbortSignal): Promise<LoadedIndex> {
  const cached = repo.isLocal ? undefined : await cache.get(repo.indexUrl());
  let bytes: Buffer;
  let notModified = false;
  let remember: LoadedIndex['remember'];
  try {
    const fetched = await repo.fetchIndex(cached, signal);
    if (fetched.bytes) {
      const body = fetched.bytes;
      bytes = body;
      if (!repo.isLocal) remember = () => cache.put(fetched.url, fetched, body).catch(() => undefined);
    } else {
      bytes = cached!.bytes;
      notModified = true;
    }
  } catch (e) {
    throw new ConfigError(`sources.${source.name}: cannot read the index: ${errorMessage(e)}`, { cause: e });
  }
  let parsed;
  try {
    parsed = parseIndex(bytes, `source ${source.name}`);
  } catch (e) {
    throw new ConfigError(`sources.${source.name}: ${errorMessage(e)}`, { cause: e });
  }
  return {
    source,
    repo,
    entries: parsed.entries,
    problems: parsed.problems,
    warnings: parsed.warnings.map((w) => `source ${source.name}: ${w}`),
    notModified,
    remember,
  };
}
