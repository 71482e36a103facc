/**
 * Charts in an OCI registry: the repositories `<path>/<chart>` under a source's oci:// URL,
 * their versions the tags (Helm writes `+` as `_`). Chart names come from `charts.include`
 * when it names them exactly, else from the registry's catalog.
 */
import { ConfigError, errorMessage } from '../errors.js';
import type { SourceConfig } from '../config/load.js';
import { RegistryRepository } from '../content/registry.js';
import type { RetryContext, RetryPolicy } from '../http/retry.js';
import { formatReference, joinRepository } from '../oci/reference.js';
import type { RegistryClient } from '../registry/client.js';

export class OciChartSource {
  private readonly stores = new Map<string, RegistryRepository>();
  private readonly tagLists = new Map<string, Promise<string[]>>();

  constructor(
    readonly config: SourceConfig,
    readonly client: RegistryClient,
    private readonly opts: { retry: RetryPolicy; onRetry?: RetryContext['onRetry'] },
  ) {}

  get registry(): string {
    return this.config.registry!;
  }

  /** The repository path of a chart in the registry. */
  repositoryOf(chart: string): string {
    return joinRepository(this.config.basePath ?? '', chart);
  }

  /** `oci://registry/path/chart[:tag|@digest]`. */
  reference(chart: string, ref: { tag?: string; digest?: string } = {}): string {
    return formatReference({ registry: this.registry, repository: this.repositoryOf(chart), ...ref });
  }

  /** The chart's repository as a store (cached). */
  store(chart: string): RegistryRepository {
    let s = this.stores.get(chart);
    if (!s) {
      s = new RegistryRepository(this.client, this.repositoryOf(chart), { retry: this.opts.retry, onRetry: this.opts.onRetry, mount: false });
      this.stores.set(chart, s);
    }
    return s;
  }

  /** Every tag of a chart's repository: listed once per run, shared by planning and copying. */
  tags(chart: string, signal?: AbortSignal): Promise<string[]> {
    let p = this.tagLists.get(chart);
    if (!p) {
      p = this.store(chart).tags(signal);
      this.tagLists.set(chart, p);
      p.catch(() => this.tagLists.delete(chart));
    }
    return p;
  }

  /**
   * Chart names under the source path, from the catalog: direct children only (a chart is
   * `<path>/<name>`). A registry that does not list its repositories is a config error that
   * says what to do.
   */
  async charts(signal?: AbortSignal): Promise<string[]> {
    let all: string[] | undefined;
    try {
      all = await this.client.catalog(signal);
    } catch (e) {
      throw new ConfigError(`sources.${this.config.name}: cannot list the repositories of ${this.registry}: ${errorMessage(e)}`, { cause: e });
    }
    if (!all) {
      throw new ConfigError(
        `sources.${this.config.name}: ${this.registry} does not list its repositories (no catalog); name the charts in charts.include (exact names, no globs)`,
      );
    }
    const prefix = this.config.basePath ? `${this.config.basePath}/` : '';
    return [...new Set(all.filter((r) => r.startsWith(prefix)).map((r) => r.slice(prefix.length)).filter((n) => n && !n.includes('/')))].sort();
  }
}
