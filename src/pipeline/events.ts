/** Final state of one chart version at one target. */
export type ItemStatus = 'pushed' | 'present' | 'failed' | 'planned' | 'excluded';

export interface ItemResult {
  source: string;
  chart: string;
  version: string;
  target: string;
  status: ItemStatus;
  /** Manifest digest (pushed, present, planned-when-known). */
  digest?: string;
  /** Why it failed or was excluded, one human line. */
  reason?: string;
  /** Error code of a failure (ErrorCode in errors.ts). */
  code?: string;
  repository?: string;
  tag?: string;
  /** Where it lives now: oci://host/repo@sha256:… or the layout equivalent. */
  reference?: string;
  /** The archive URL in the source. */
  url?: string;
  provenance?: 'ignored' | 'absent' | 'checked' | 'verified';
  warnings?: string[];
  /** Bytes this run sent to the target for this item. */
  bytesUploaded?: number;
  /** Size of the source archive. */
  archiveSize?: number;
  /** How `present` was known: the journal (no request) or the target itself. */
  via?: 'journal' | 'target';
  /** Referrers (signatures, SBOMs, attestations) copied with the chart. */
  referrers?: ReferrerResult[];
  /** `image` for a container image (source `images`, chart = its repository, version = its tag or digest). */
  kind?: 'image';
  /** Images: the chart versions that use it (`source/chart@version`), and the methods that found it. */
  usedBy?: string[];
  methods?: string[];
  /** Images: the digest at the source, when what was copied differs (a platform subset). */
  sourceDigest?: string;
  /** Charts: the images it uses, and what became of each at this target. */
  images?: ChartImage[];
}

export interface ChartImage {
  image: string;
  methods: string[];
  status?: ItemStatus;
  reason?: string;
}

export interface ReferrerResult {
  digest: string;
  artifactType?: string;
  /** cosign-style referrers keep their tag (`sha256-<hex>.sig`). */
  tag?: string;
  /** Where it is now: oci://host/repo@sha256:… */
  reference?: string;
}

export type PipelineEvent =
  | {
      type: 'source-indexed';
      source: string;
      versions: number;
      selected: number;
      excluded: number;
      notModified: boolean;
      /** Where the versions were listed: a classic source's index (default), or an OCI registry. */
      listedIn?: 'index' | 'registry';
      /** How long reading the listing took (the index, or the registry's tag lists), when it was read by this run. */
      seconds?: number;
    }
  | {
      type: 'plan';
      total: number;
      pending: number;
      present: number;
      failed: number;
      excluded: number;
      targets: string[];
      /** The same counts per source and target, in config order (renderers show one line each). */
      groups: PlanGroup[];
      /** The part of the work this run does, when sharded. */
      shard?: { index: number; count: number };
    }
  | { type: 'item-start'; source: string; chart: string; version: string }
  | { type: 'item'; result: ItemResult }
  | {
      type: 'retry';
      what: string;
      attempt: number;
      delayMs: number;
      error: string;
      /** The host (`host[:port]`) whose failure is retried, when known. */
      host?: string;
    }
  | {
      /** The first request to an origin: whether it goes through a proxy (which, and why) or direct. */
      type: 'route';
      /** `scheme://host[:port]`. */
      origin: string;
      /** The proxy URL without credentials; absent: direct. */
      proxy?: string;
      /** The setting that decided: HTTPS_PROXY, NO_PROXY, loopback, sources.web.proxy, … */
      reason: string;
    }
  | { type: 'warning'; message: string }
  | { type: 'stopping'; signal: string };

/** What the plan decided for one source and one target; `pending` items still get an `item` event. */
export interface PlanGroup {
  source: string;
  target: string;
  pending: number;
  present: number;
  failed: number;
  excluded: number;
}

export type EventSink = (event: PipelineEvent) => void;
