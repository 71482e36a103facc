/**
 * Every default and every size cap, defined once. The config schema's descriptions, the config
 * loader, the HTTP layer, the content engine and the CLI read them from here (oras states each
 * option's default where it is defined; we state it in one place instead of several).
 */
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DEFAULTS = {
  /** Chart versions (jobs) in flight. */
  concurrency: 16,
  /** Connections per source host and per registry host. */
  connections: { sources: 8, registries: 16 },
  timeouts: {
    /** TCP + TLS connect. */
    connectMs: 15_000,
    /** From sending a request to its response headers. */
    headersMs: 120_000,
    /** Longest silence while reading a body. */
    bodyIdleMs: 60_000,
    /** A whole request, body included: a server that drips bytes cannot hold a run forever. */
    totalMs: 600_000,
  },
  retry: {
    /** Attempts per operation, the first included. */
    attempts: 5,
    /** First backoff step; doubled per attempt, with full jitter. */
    baseDelayMs: 250,
    /** Longest backoff step. */
    maxDelayMs: 30_000,
    /** Longest Retry-After honoured before giving up. */
    maxRetryAfterMs: 600_000,
  },
  /** Blobs larger than this go up in PATCH chunks. */
  chunkSize: 64 * MiB,
  /** Blobs copied at once within one graph copy (oras-go uses 3; a chart has 2 or 3). */
  copyConcurrency: 4,
  /** State directory name beside the config file. */
  stateDirName: '.chartmirror',
  state: {
    /** A lock not renewed for this long belongs to a run that is gone; the next run takes it over. */
    lockLeaseMs: 2 * 60_000,
    /** How often a running sync renews its lock. */
    lockRenewMs: 30_000,
    /** After writing a registry lock, wait this long and read it back: the last writer wins. */
    lockSettleMs: 2_000,
    /** How often a long run pushes its journal to a registry-backed state (and at the end). */
    pushIntervalMs: 3 * 60_000,
  },
  metrics: {
    /** Longest silence from the Pushgateway before a push is given up (a warning, never a failed run). */
    pushTimeoutMs: 10_000,
  },
  images: {
    /** Where images land under each target. */
    repository: 'images/{registry}/{repository}',
    /** How images are found, in this order. */
    discover: ['annotations', 'lock', 'values'] as const,
  },
} as const;

/** Caps on what a source, registry or bundle may make us hold or read. */
export const LIMITS = {
  /** A chart archive, by default (limits.archive; Helm's own limit is 100 MiB unpacked). */
  archiveBytes: 256 * MiB,
  /** A .prov file. */
  provenanceBytes: 1 * MiB,
  /** An index.yaml, by default (limits.index). */
  indexBytes: 256 * MiB,
  /** The most limits.index may be: V8 cannot hold a string much longer (2^29 - 24 characters). */
  maxIndexBytes: 500 * MiB,
  /** Archive bytes held in memory by all chart versions in flight together, by default (limits.inFlight). */
  inFlightBytes: 1 * GiB,
  /** URLs of one index entry tried before giving up (Helm tries only the first). */
  archiveUrls: 3,
  /** A manifest or image index (distribution-spec: registries support at least 4 MiB). */
  manifestBytes: 4 * MiB,
  /** One page of a tag listing. */
  tagPageBytes: 16 * MiB,
  /** Tag listing pages followed. */
  tagPages: 1000,
  /** oci-layout, index.json and the bundle listing, read whole. */
  layoutMetaBytes: 64 * MiB,
  /** A token service or credential helper answer. */
  authResponseBytes: 1 * MiB,
  /** An error body read for its message. */
  errorBodyBytes: 8 * KiB,
  /** Below this size a registry blob is uploaded without asking first whether it exists. */
  registryExistsCheckMinBytes: 1 * MiB,
  /** A journal pulled from a registry-backed state. */
  stateJournalBytes: 1 * GiB,
  /** Files in a registry-backed state artifact (the journal and two per cached index). */
  stateFiles: 10_000,
  /** A lock file read from a state directory. */
  lockFileBytes: 64 * KiB,
} as const;
