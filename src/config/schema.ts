import { z } from 'zod';
import { DEFAULTS, LIMITS } from '../defaults.js';

/** A default duration as the descriptions write it: 250ms, 15s, 120s, 10m. */
function duration(ms: number): string {
  if (ms >= 600_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * The schema of mirror.config.yaml. Every option states its default here, where it is defined
 * (oras option doc comments); `chartmirror schema` prints this as JSON Schema for editors.
 */

const nonEmpty = z.string().min(1, 'must not be empty');

/** `30s`, `500ms`, `2m`, `1h`, or a number of seconds. */
export const Duration = z
  .union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h)$/, 'must be a duration such as 500ms, 30s, 2m')])
  .describe('A duration: a number of seconds, or a string such as 500ms, 30s, 2m, 1h.');

/** `64MiB`, `1G`, `512k`, or a number of bytes. */
export const Size = z
  .union([
    z.number().int().positive(),
    z.string().regex(/^\d+(\.\d+)?\s*([kmgt]i?b?|b)?$/i, 'must be a size such as 512KiB, 64MiB, 1G'),
  ])
  .describe('A size: a number of bytes, or a string such as 512KiB, 64MiB, 1G.');

export const TlsSchema = z
  .strictObject({
    ca: z
      .union([nonEmpty, z.array(nonEmpty).min(1)])
      .optional()
      .describe(
        "CA bundle file(s) trusted for this server in addition to the default ones (Node's roots, NODE_EXTRA_CA_CERTS and the system CA bundle, from SSL_CERT_FILE and SSL_CERT_DIR when set).",
      ),
    cert: nonEmpty.optional().describe('Client certificate (PEM) for mutual TLS; needs key.'),
    key: nonEmpty.optional().describe('Client private key (PEM) for mutual TLS; needs cert.'),
    insecureSkipVerify: z.boolean().optional().describe('Do not verify the server certificate. Default false.'),
  })
  .describe('TLS settings for one server.');

/** A proxy URL, or false for none. */
const proxyUrl = z.union([nonEmpty, z.literal(false)]);

/** `proxy` on a source, target or registry. */
const endpointProxy = proxyUrl
  .optional()
  .describe(
    'Proxy for every request of this one (index, archives, registry API, token service): an http:// or https:// URL, http://user:password@host:port for a proxy that wants credentials; NO_PROXY and the loopback rule do not apply to it. false: direct. Default: http.proxy, then HTTPS_PROXY, HTTP_PROXY and NO_PROXY from the environment.',
  );

export const ProvenanceMode = z.enum(['ignore', 'copy', 'verify', 'require']);

export const VerifySchema = z
  .strictObject({
    provenance: ProvenanceMode.optional().describe(
      'ignore: no .prov; copy: carry .prov and check it without a key; verify: copy + signature must verify against the keyring; require: verify + every chart must have a .prov. Default: verify with a keyring, else copy.',
    ),
    keyring: z
      .union([nonEmpty, z.array(nonEmpty).min(1)])
      .optional()
      .describe('OpenPGP public keys: binary keyring (gpg --export) or ASCII-armored files.'),
  })
  .describe('How .prov provenance files are handled.');

const semverRange = z.string().min(1).describe('A semver range, e.g. ">=1.0.0 <3.0.0".');
const dateLike = z
  .union([z.date(), z.string().min(1)])
  .describe('A date or RFC 3339 time compared with the index `created` field, e.g. 2024-01-01.');

/** Version selection; on a source, at the top level (default for every source), or per chart. */
const versionSelection = {
  versions: semverRange.optional().describe('Mirror only versions in this semver range. Default: all.'),
  latest: z.number().int().positive().optional().describe('Only the newest N versions per chart, after the range, in semver order.'),
  since: dateLike.optional().describe('Only versions created on or after this date (index `created`).'),
  until: dateLike.optional().describe('Only versions created before this date (index `created`).'),
  prereleases: z.boolean().optional().describe('Include prerelease versions. Default true: a migration takes everything.'),
  deprecated: z.enum(['include', 'skip']).optional().describe('Whether deprecated chart versions are mirrored. Default include.'),
};

export const ChartOverrideSchema = z.strictObject(versionSelection);

export const ChartsSchema = z
  .strictObject({
    include: z.array(nonEmpty).optional().describe('Chart name globs to mirror. Default: all.'),
    exclude: z.array(nonEmpty).optional().describe('Chart name globs to leave out (wins over include).'),
    overrides: z
      .record(z.string(), ChartOverrideSchema)
      .optional()
      .describe('Per-chart version selection, by chart name.'),
  })
  .describe('Which charts of a source to mirror.');

const selection = {
  charts: ChartsSchema.optional(),
  ...versionSelection,
};

/** Registry credentials: targets, and oci:// sources. */
export const TargetAuthSchema = z
  .strictObject({
    username: z.string().optional().describe('Registry username; give it with password.'),
    password: z.string().optional().describe('Registry password; use ${VAR} to read it from the environment.'),
    token: z.string().optional().describe('A ready bearer token, sent as is.'),
    identityToken: z.string().optional().describe('An OAuth2 refresh token (identity token) exchanged for access tokens.'),
    trustedRealmHosts: z
      .array(nonEmpty)
      .optional()
      .describe('Token-service hosts other than the registry that may receive these credentials.'),
  })
  .describe('Registry credentials. Default: Helm registry config, then Docker config.json.');

/**
 * A source's credentials: HTTP basic (username and password) for a classic repository; for an
 * oci:// source the same choices as a registry target.
 */
export const SourceAuthSchema = z.strictObject({
  username: z.string().optional().describe('Username: HTTP basic for a classic repository, registry username for oci://; give it with password.'),
  password: z.string().optional().describe('Password; use ${VAR} to read it from the environment.'),
  token: z.string().optional().describe('oci:// sources: a ready bearer token, sent as is.'),
  identityToken: z.string().optional().describe('oci:// sources: an OAuth2 refresh token (identity token) exchanged for access tokens.'),
  trustedRealmHosts: z
    .array(nonEmpty)
    .optional()
    .describe('oci:// sources: token-service hosts other than the registry that may receive these credentials.'),
});

export const SourceSchema = z.strictObject({
  name: nonEmpty.describe('Unique name of the source; used in reports and in repository templates.'),
  url: nonEmpty.describe(
    'A classic repository (index at <url>/index.yaml: http(s)://, file:// or a plain path), or oci://host[:port]/path: charts are the repositories <path>/<chart> of a registry.',
  ),
  auth: SourceAuthSchema.optional().describe(
    'Credentials. Classic: HTTP basic (username and password), sent only to the repository host unless passCredentials is true. oci://: as for targets; default Helm registry config, then Docker config.json, else anonymous.',
  ),
  plainHttp: z.boolean().optional().describe('oci:// sources: talk HTTP instead of HTTPS. Default false.'),
  referrers: z
    .boolean()
    .optional()
    .describe('oci:// sources: carry each chart\'s referrers (signatures, SBOMs, attestations) along with it. Default true.'),
  passCredentials: z
    .boolean()
    .optional()
    .describe('Send credentials to chart URLs on other hosts too. Default false (only the repository host).'),
  tls: TlsSchema.optional(),
  proxy: endpointProxy,
  verify: VerifySchema.optional(),
  targets: z.array(nonEmpty).min(1).optional().describe('Names of the targets this source goes to. Default: every target.'),
  connections: z.number().int().positive().optional().describe('Connections to this source host. Default http.connections.sources.'),
  ...selection,
});

export const TargetSchema = z.strictObject({
  name: nonEmpty.describe('Unique name of the target.'),
  url: nonEmpty.optional().describe('oci://host[:port]/path: charts land at <path>/<chart>:<tag>.'),
  layout: nonEmpty.optional().describe('An OCI image-layout directory instead of a registry.'),
  repository: nonEmpty
    .optional()
    .describe('Template for the repository path with {source} and {chart}. Default: <url path>/{chart} ({chart} for a layout).'),
  plainHttp: z.boolean().optional().describe('Talk HTTP instead of HTTPS. Default false.'),
  auth: TargetAuthSchema.optional(),
  tls: TlsSchema.optional(),
  proxy: endpointProxy,
  onConflict: z
    .enum(['fail', 'overwrite'])
    .optional()
    .describe('When a tag already holds a different manifest: fail the item (default) or overwrite it.'),
  manifestMediaType: z
    .boolean()
    .optional()
    .describe('Add mediaType to manifests for registries that demand it. The digest then differs from helm push. Default false.'),
  mount: z.boolean().optional().describe('Mount blobs already pushed to another repository of this registry. Default true.'),
  chunkSize: Size.optional().describe(`Blobs above this size are uploaded in chunks. Default ${DEFAULTS.chunkSize / 1024 / 1024}MiB.`),
  connections: z.number().int().positive().optional().describe('Connections to this registry host. Default http.connections.registries.'),
  requestsPerSecond: z.number().positive().optional().describe('Cap on requests per second to this registry. Default none.'),
});

export const HttpSchema = z.strictObject({
  timeouts: z
    .strictObject({
      connect: Duration.optional().describe(`TCP and TLS connect timeout. Default ${duration(DEFAULTS.timeouts.connectMs)}.`),
      headers: Duration.optional().describe(`Wait for response headers. Default ${duration(DEFAULTS.timeouts.headersMs)}.`),
      body: Duration.optional().describe(`Longest silence while reading a body. Default ${duration(DEFAULTS.timeouts.bodyIdleMs)}.`),
      total: Duration.optional().describe(
        `A whole request, body included (index, archive, .prov, registry). Default ${duration(DEFAULTS.timeouts.totalMs)}; raise it for very large image layers on slow links.`,
      ),
    })
    .optional()
    .describe('How long to wait for the network.'),
  retries: z
    .strictObject({
      attempts: z.number().int().min(1).max(100).optional().describe(`Attempts per operation, the first included. Default ${DEFAULTS.retry.attempts}.`),
      backoff: Duration.optional().describe(`First backoff step, doubled per attempt, with jitter. Default ${duration(DEFAULTS.retry.baseDelayMs)}.`),
      maxBackoff: Duration.optional().describe(`Longest backoff step. Default ${duration(DEFAULTS.retry.maxDelayMs)}.`),
      maxRetryAfter: Duration.optional().describe(`Longest Retry-After honoured before giving up. Default ${duration(DEFAULTS.retry.maxRetryAfterMs)}.`),
    })
    .optional()
    .describe('How failed operations are retried: whole operations, with exponential backoff and jitter.'),
  connections: z
    .strictObject({
      sources: z.number().int().positive().optional().describe(`Connections per source host. Default ${DEFAULTS.connections.sources}.`),
      registries: z.number().int().positive().optional().describe(`Connections per registry host. Default ${DEFAULTS.connections.registries}.`),
    })
    .optional()
    .describe('Connections per host; `connections` on a source or target overrides them for its host.'),
  proxy: z
    .strictObject({
      https: proxyUrl
        .optional()
        .describe('Proxy for https:// URLs (a CONNECT tunnel; TLS stays end to end), e.g. http://proxy.corp:3128 or http://user:password@proxy.corp:3128; false: none. Default: HTTPS_PROXY, else https_proxy.'),
      http: proxyUrl
        .optional()
        .describe('Proxy for http:// URLs (absolute-form requests); false: none. Default: HTTP_PROXY, else http_proxy.'),
      noProxy: z
        .union([z.string(), z.array(nonEmpty)])
        .optional()
        .describe(
          'Hosts reached directly, as NO_PROXY lists them: example.com (and its subdomains), .example.com (subdomains only), *, IPs, CIDRs, host:port. A list, or one comma-separated string. Default: NO_PROXY, else no_proxy.',
        ),
    })
    .optional()
    .describe(
      'Proxies for every source, registry, token service and the Pushgateway, each key replacing its environment variable. localhost and loopback IPs are never proxied. Default: the environment, as Helm and Docker read it.',
    ),
});

/** How one registry is reached: what `registries.<host>` says for image registries. */
export const RegistrySettingsSchema = z.strictObject({
  plainHttp: z.boolean().optional().describe('Talk HTTP instead of HTTPS. Default false.'),
  auth: TargetAuthSchema.optional().describe('Credentials; default Helm registry config, then Docker config.json, else anonymous.'),
  tls: TlsSchema.optional(),
  proxy: endpointProxy,
  connections: z.number().int().positive().optional().describe('Connections to this registry. Default http.connections.registries.'),
  requestsPerSecond: z.number().positive().optional().describe('Cap on requests per second to this registry. Default none.'),
});

export const ImageDiscovery = z.enum(['annotations', 'lock', 'values', 'render']);

export const ImagesSchema = z
  .strictObject({
    enabled: z.boolean().optional().describe('Find the container images each chart uses and mirror them with it. Default false.'),
    discover: z
      .array(ImageDiscovery)
      .min(1)
      .optional()
      .describe(
        'How images are found, in this order: annotations (helm.sh/images, artifacthub.io/images, Bitnami\'s images), lock (images.lock), values (image-shaped values.yaml entries), render (helm template). Default [annotations, lock, values].',
      ),
    platforms: z
      .union([z.enum(['all']), z.array(z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'must be os/arch or os/arch/variant, e.g. linux/amd64'))])
      .optional()
      .describe('Platforms to copy from multi-platform images: all (the index digest is kept), or a list such as [linux/amd64, linux/arm64]. Default all.'),
    repository: nonEmpty
      .optional()
      .describe('Where images land under each target: a template with {registry} (its port made path-safe) and {repository}. Default images/{registry}/{repository}.'),
    extra: z.array(nonEmpty).optional().describe('Images to copy even if no chart names them, e.g. docker.io/library/busybox:1.36.'),
    include: z.array(nonEmpty).optional().describe('Globs on normalized image references (docker.io/library/nginx:1.25): only these. Default all.'),
    exclude: z.array(nonEmpty).optional().describe('Globs on normalized image references to leave out (wins over include).'),
    render: z
      .strictObject({
        helm: nonEmpty.optional().describe('The helm binary for discover: render. Default helm on PATH.'),
        values: z.array(nonEmpty).optional().describe('Values files passed to helm template, after the chart\'s own.'),
      })
      .optional()
      .describe('Settings for discover: render (helm template).'),
  })
  .describe('Container images of the charts (and extra ones), mirrored into every target.');

export const ConfigSchema = z.strictObject({
  $schema: z
    .string()
    .optional()
    .describe('Ignored by chartmirror; lets editors find the JSON Schema, as the `# yaml-language-server: $schema=…` comment does.'),
  sources: z
    .array(SourceSchema)
    .describe('The chart sources: classic repositories (index.yaml) and oci:// registries. At least one, unless images.extra names images to copy.'),
  targets: z
    .array(TargetSchema)
    .min(1, 'at least one target is required')
    .describe('Where the charts go: OCI registries (`url`) or OCI image-layout directories (`layout`). At least one.'),
  verify: VerifySchema.optional(),
  concurrency: z.number().int().positive().max(256).optional().describe(`Chart versions in flight. Default ${DEFAULTS.concurrency}.`),
  http: HttpSchema.optional().describe('Timeouts, retries and connection limits for every source and registry.'),
  images: ImagesSchema.optional(),
  registries: z
    .record(z.string(), RegistrySettingsSchema)
    .optional()
    .describe('Settings for registries that are neither a source nor a target (image registries), by host[:port].'),
  limits: z
    .strictObject({
      archive: Size.optional().describe(`Largest chart archive (or chart layer) read. Default ${LIMITS.archiveBytes / 1024 / 1024}MiB.`),
      index: Size.optional().describe(`Largest index.yaml read. Default ${LIMITS.indexBytes / 1024 / 1024}MiB; at most ${LIMITS.maxIndexBytes / 1024 / 1024}MiB.`),
      inFlight: Size.optional().describe(
        `Archive bytes held in memory by all chart versions in flight together; a version waits for room before its download. Default ${LIMITS.inFlightBytes / 1024 / 1024 / 1024}GiB.`,
      ),
    })
    .optional()
    .describe('Caps on what sources may make chartmirror read and hold.'),
  state: z
    .union([
      nonEmpty,
      z.strictObject({
        store: nonEmpty.describe(
          'oci://host[:port]/path: keep the journal and index cache as OCI artifacts in this registry repository (one per shard), for runs without a volume. How the registry is reached: registries.<host>, else a target or oci:// source on that host.',
        ),
        pushInterval: Duration.optional().describe(
          `How often a long run pushes its journal (it also does at the end); a crash loses at most the work since. Default ${duration(DEFAULTS.state.pushIntervalMs)}.`,
        ),
      }),
    ])
    .optional()
    .describe('Where the journal and index cache live: a directory, or {store: oci://…} for a registry. Default .chartmirror/ beside the config file.'),
  ...selection,
});

export type RawConfig = z.infer<typeof ConfigSchema>;
export type RawSource = z.infer<typeof SourceSchema>;
export type RawTarget = z.infer<typeof TargetSchema>;
export type RawVerify = z.infer<typeof VerifySchema>;
export type RawTls = z.infer<typeof TlsSchema>;
export type RawImages = z.infer<typeof ImagesSchema>;
export type RawRegistrySettings = z.infer<typeof RegistrySettingsSchema>;
export type RawCharts = z.infer<typeof ChartsSchema>;

export function configJsonSchema(): unknown {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://chartmirror.dev/schema/mirror.config.schema.json',
    title: 'chartmirror configuration (mirror.config.yaml)',
  };
}
