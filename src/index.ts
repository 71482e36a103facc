/**
 * chartmirror as a library (docs/api.md).
 *
 * ```ts
 * import { loadConfig, plan, mirror, copy, openStore } from 'chartmirror';
 * const cfg = await loadConfig('mirror.config.yaml');
 * const p = await plan(cfg);
 * const result = await mirror(cfg, { plan: p });
 * ```
 *
 * Every function rejects with a `ChartMirrorError` (check its `code`), never exits the process.
 */

// Configuration
export { loadConfig } from './config/load.js';
export type { MirrorConfig, SourceConfig, TargetConfig, TargetSpec, Selection, VersionSelection } from './config/load.js';

// Commands
export { plan, mirror, exportBundle, importBundle, inspectBundle } from './api.js';
export type {
  PlanOptions,
  MirrorOptions,
  MirrorResult,
  ExportBundleOptions,
  ExportBundleResult,
  ImportBundleOptions,
  ImportBundleResult,
} from './api.js';
export type { Inspection } from './bundle/inspect.js';
export type { BundleListing, BundleChart } from './bundle/format.js';
export type { Plan, PlanJob, PlanDestination, PlanSource, IndexOrigin, BundleOrigin } from './pipeline/plan.js';
export type { PipelineEvent, ItemResult, ItemStatus, PlanGroup, EventSink } from './pipeline/events.js';
export type { Report, ReportItem } from './report/report-schema.js';
export { parseShard } from './pipeline/shard.js';
export type { Shard } from './pipeline/shard.js';

// Content engine
export { copy } from './content/copy.js';
export type { CopyOptions, CopyResult } from './content/copy.js';
export { openStore } from './content/open.js';
export type { OpenStoreOptions } from './content/open.js';
export { MemoryStore } from './content/memory.js';
export { OciLayout, LayoutStore } from './content/layout.js';
export { RegistryRepository } from './content/registry.js';
export { canMount, canPushReference, canListReferrers, canDeleteTags, isStore } from './content/store.js';
export type {
  ReadOnlyStore,
  Store,
  OpenedStore,
  StoreKind,
  ContentStream,
  ContentOpener,
  PushResult,
  ReferencePusher,
  Mounter,
  ReferrerLister,
  TagDeleter,
} from './content/store.js';
export type { Descriptor } from './oci/descriptor.js';
export { parseReference, formatReference } from './oci/reference.js';
export type { Reference } from './oci/reference.js';

// Errors
export { ChartMirrorError, ConfigError, isChartMirrorError } from './errors.js';
export type { ErrorCode } from './errors.js';

export { VERSION } from './version.js';
