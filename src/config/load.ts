import { readFile } from 'node:fs/promises';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import yaml from 'js-yaml';
import semver from 'semver';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { expandEnv } from './env.js';
import { formatPath } from './paths.js';
import { closest } from './suggest.js';
import {
  ConfigSchema,
  type RawCharts,
  type RawConfig,
  type RawSource,
  type RawTarget,
  type RawTls,
  type RawVerify,
  type RawImages,
} from './schema.js';
import { parseDuration, parseSize } from './units.js';
import type { ProvenanceMode } from '../chart/provenance-types.js';
import type { RegistryAuth } from '../registry/connect.js';
import { DEFAULTS, LIMITS } from '../defaults.js';
import { formatReference, invalidComponent, tryParseReference } from '../oci/reference.js';
import { formatImage, parseImageReference } from '../images/reference.js';
import type { TlsSettings } from '../http/client.js';
import { parseProxyUrl, registerProxySecrets, type EndpointProxy, type ProxyConfig } from '../http/proxy.js';
import type { RetryPolicy } from '../http/retry.js';


export interface VersionSelection {
  versions?: string;
  latest?: number;
  since?: Date;
  until?: Date;
  prereleases: boolean;
  deprecated: 'include' | 'skip';
}

export interface Selection extends VersionSelection {
  include?: string[];
  exclude?: string[];
  overrides: Record<string, VersionSelection>;
}

export interface SourceConfig {
  name: string;
  /** classic: an index.yaml repository; oci: the repositories under a path of a registry. */
  kind: 'classic' | 'oci';
  /** Normalised: http(s):// or file:// (plain paths become file:// URLs), or oci://host/path. */
  url: string;
  /** oci: `host[:port]` as written, and the path the charts are under (empty: the registry root). */
  registry?: string;
  basePath?: string;
  /** classic: username and password (HTTP basic); oci: as for targets. */
  auth?: RegistryAuth;
  passCredentials: boolean;
  /** oci: talk HTTP. */
  plainHttp: boolean;
  /** oci: carry referrers (signatures, SBOMs, attestations) with each chart. */
  referrers: boolean;
  tls?: TlsSettings;
  /** The source's own proxy (or false: direct) for all of its requests. */
  proxy?: EndpointProxy;
  provenance: { mode: ProvenanceMode; keyring: string[] };
  selection: Selection;
  targets: string[];
  connections: number;
}

/** Where content goes and how to talk to it: what a run needs to open a destination. */
export interface TargetSpec {
  name: string;
  kind: 'registry' | 'layout';
  /** Registry `host[:port]`. */
  host?: string;
  layoutDir?: string;
  plainHttp: boolean;
  auth?: RegistryAuth;
  tls?: TlsSettings;
  /** The target's own proxy (or false: direct) for all of its requests. */
  proxy?: EndpointProxy;
  onConflict: 'fail' | 'overwrite';
  manifestMediaType: boolean;
  mount: boolean;
  chunkSize: number;
  connections: number;
  requestsPerSecond?: number;
}

/** A configured target: a destination plus where each chart lands in it. */
export interface TargetConfig extends TargetSpec {
  /** Path under the registry (`mirror` in oci://host/mirror); empty for none. */
  basePath: string;
  /** Repository template with {source} and {chart}. */
  repository: string;
}

export type ImageDiscovery = 'annotations' | 'lock' | 'values' | 'render';

export interface ImagesConfig {
  enabled: boolean;
  discover: ImageDiscovery[];
  /** 'all', or `os/arch[/variant]` entries. */
  platforms: 'all' | string[];
  /** Template with {registry} and {repository}, under each target's path. */
  repository: string;
  /** Normalized references, copied whatever the charts say. */
  extra: string[];
  include?: string[];
  exclude?: string[];
  /** discover: render. */
  render: { helm: string; values: string[] };
}

/** How an image registry (neither source nor target) is reached. */
export interface RegistrySettings {
  plainHttp: boolean;
  auth?: RegistryAuth;
  tls?: TlsSettings;
  proxy?: EndpointProxy;
  connections: number;
  requestsPerSecond?: number;
}

export interface MirrorConfig {
  file: string;
  dir: string;
  sources: SourceConfig[];
  targets: TargetConfig[];
  concurrency: number;
  /** The state directory (the default, or `state:` when it names a directory). */
  stateDir: string;
  /** `state: {store: oci://…}` (or `state: oci://…`): the state lives in this registry repository. */
  stateStore?: string;
  /** How often a run pushes a registry-backed state. */
  statePushIntervalMs: number;
  timeouts: { connectMs: number; headersMs: number; bodyIdleMs: number; totalMs: number };
  /** `http.proxy`: each key replaces its environment variable (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). */
  proxy: ProxyConfig;
  /** Caps on what sources may make us read and hold. */
  limits: RunLimits;
  retry: RetryPolicy;
  images: ImagesConfig;
  /** By host[:port] as written. */
  registries: Map<string, RegistrySettings>;
}

/**
 * Read, expand and validate a config file, or a config given as an object (paths in it are
 * relative to the working directory). Every problem is a ConfigError naming its key path.
 */
export async function loadConfig(file: string | Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<MirrorConfig> {
  if (typeof file !== 'string') return parseConfigObject(file, resolve('(config object)'), env);
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `${file}: config file not found (create one or pass --config FILE)`
        : `${file}: cannot read config file (${code ?? (e as Error).message})`,
    );
  }
  return parseConfig(text, abs, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): MirrorConfig {
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (e) {
    const err = e as { reason?: string; mark?: { line: number; column: number } };
    const where = err.mark ? `:${err.mark.line + 1}:${err.mark.column + 1}` : '';
    throw new ConfigError(`${file}${where}: invalid YAML: ${err.reason ?? (e as Error).message}`);
  }
  if (doc === null || doc === undefined) throw new ConfigError(`${file}: the config file is empty`);
  return parseConfigObject(doc, file, env);
}

/** A parsed document (YAML or an object a program built) as a config; `file` anchors relative paths. */
export function parseConfigObject(doc: unknown, file: string, env: NodeJS.ProcessEnv = process.env): MirrorConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError(`${file}: the config must be a YAML mapping`);
  const expanded = expandEnv(doc, env);
  const parsed = ConfigSchema.safeParse(expanded);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, expanded));
  return resolveConfig(parsed.data, file);
}

function formatIssues(issues: z.core.$ZodIssue[], input: unknown): string {
  const lines = issues.slice(0, 5).map((issue) => formatIssue(issue, input));
  if (issues.length > 5) lines.push(`(${issues.length - 5} more problems)`);
  return lines.join('\n');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur = input;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

function formatIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(ConfigSchema, issue.path);
      return issue.keys
        .map((k) => {
          const guess = closest(k, known);
          const p = formatPath([...issue.path, k]);
          return `${p}: unknown key${guess ? ` (did you mean "${guess}"?)` : known.length ? ` (expected one of: ${known.join(', ')})` : ''}`;
        })
        .join('\n');
    }
    case 'invalid_type': {
      const got = valueAt(input, issue.path);
      if (got === undefined) return `${where}: is required`;
      return `${where}: must be ${article(issue.expected)}, not ${describeType(got)}`;
    }
    case 'invalid_value':
      return `${where}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union': {
      const got = valueAt(input, issue.path);
      return `${where}: ${got === undefined ? 'is required' : `has an invalid value (${describeType(got)})`}`;
    }
    default:
      return `${where}: ${lowerFirst(issue.message)}`;
  }
}

function article(t: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
    array: 'a list',
    object: 'a mapping',
    int: 'an integer',
    date: 'a date',
  };
  return names[t] ?? t;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Known keys of the object schema at `path`, for "did you mean". */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let cur: unknown = schema;
  const unwrap = (s: unknown): unknown => {
    for (let i = 0; i < 10; i++) {
      const def = (s as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
      if (!def) return s;
      if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') s = def.innerType;
      else if (def.type === 'union') {
        const opts = def.options as unknown[];
        const obj = opts.find((o) => (o as { _zod?: { def?: { type?: string } } })._zod?.def?.type === 'object');
        if (!obj) return s;
        s = obj;
      } else return s;
    }
    return s;
  };
  for (const p of path) {
    cur = unwrap(cur);
    const def = (cur as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'array' && typeof p === 'number') cur = def.element;
    else if (def.type === 'object') cur = (def.shape as Record<string, unknown>)[String(p)];
    else if (def.type === 'record') cur = def.valueType;
    else return [];
    if (!cur) return [];
  }
  cur = unwrap(cur);
  const def = (cur as { _zod: { def: Record<string, unknown> } })._zod.def;
  return def.type === 'object' ? Object.keys(def.shape as object).filter((k) => k !== '$schema') : [];
}

function resolveConfig(raw: RawConfig, file: string): MirrorConfig {
  const dir = dirname(file);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const fail = (path: (string | number)[], msg: string): never => {
    throw new ConfigError(`${formatPath(path)}: ${msg}`);
  };

  const targetNames = new Set<string>();
  raw.targets.forEach((t, i) => {
    if (targetNames.has(t.name)) fail(['targets', i, 'name'], `duplicate target name "${t.name}"`);
    targetNames.add(t.name);
  });
  const sourceNames = new Set<string>();
  raw.sources.forEach((s, i) => {
    if (sourceNames.has(s.name)) fail(['sources', i, 'name'], `duplicate source name "${s.name}"`);
    sourceNames.add(s.name);
  });

  const connections = raw.http?.connections;
  const targets = raw.targets.map((t, i) => resolveTarget(t, ['targets', i], abs, fail, connections?.registries));
  const sources = raw.sources.map((s, i) =>
    resolveSource(s, ['sources', i], raw, abs, fail, targetNames, connections?.sources),
  );

  const images = resolveImages(raw.images, abs, fail);
  if (sources.length === 0 && !(images.enabled && images.extra.length)) {
    fail(['sources'], 'at least one source is required (or images.extra with images.enabled)');
  }
  const registries = new Map<string, RegistrySettings>();
  for (const [host, r] of Object.entries(raw.registries ?? {})) {
    const parsed = tryParseReference(`oci://${host}`, { allowTag: false });
    if (!parsed.ok || parsed.ref.repository) fail(['registries', host], 'must be a registry host[:port]');
    if (r.auth) checkRegistryAuth(r.auth, ['registries', host, 'auth'], fail);
    registries.set(host.toLowerCase(), {
      plainHttp: r.plainHttp ?? false,
      ...(r.auth ? { auth: r.auth } : {}),
      ...(r.tls ? { tls: resolveTls(r.tls, ['registries', host, 'tls'], abs, fail) } : {}),
      ...resolveEndpointProxy(r.proxy, ['registries', host, 'proxy'], `registries.${host}.proxy`, fail),
      connections: r.connections ?? connections?.registries ?? DEFAULTS.connections.registries,
      ...(r.requestsPerSecond !== undefined ? { requestsPerSecond: r.requestsPerSecond } : {}),
    });
  }

  const timeouts = raw.http?.timeouts;
  const retries = raw.http?.retries;
  return {
    file,
    dir,
    sources,
    targets,
    images,
    registries,
    concurrency: raw.concurrency ?? DEFAULTS.concurrency,
    ...resolveState(raw.state, abs, resolve(dir, DEFAULTS.stateDirName), fail),
    limits: resolveLimits(raw.limits, fail),
    proxy: resolveProxyConfig(raw.http?.proxy, fail),
    timeouts: {
      connectMs: timeouts?.connect !== undefined ? parseDuration(timeouts.connect) : DEFAULTS.timeouts.connectMs,
      headersMs: timeouts?.headers !== undefined ? parseDuration(timeouts.headers) : DEFAULTS.timeouts.headersMs,
      bodyIdleMs: timeouts?.body !== undefined ? parseDuration(timeouts.body) : DEFAULTS.timeouts.bodyIdleMs,
      totalMs: timeouts?.total !== undefined ? parseDuration(timeouts.total) : DEFAULTS.timeouts.totalMs,
    },
    retry: {
      attempts: retries?.attempts ?? DEFAULTS.retry.attempts,
      baseDelayMs: retries?.backoff !== undefined ? parseDuration(retries.backoff) : DEFAULTS.retry.baseDelayMs,
      maxDelayMs: retries?.maxBackoff !== undefined ? parseDuration(retries.maxBackoff) : DEFAULTS.retry.maxDelayMs,
      maxRetryAfterMs: retries?.maxRetryAfter !== undefined ? parseDuration(retries.maxRetryAfter) : DEFAULTS.retry.maxRetryAfterMs,
    },
  };
}

type Fail = (path: (string | number)[], msg: string) => never;

/** A proxy URL from the config, checked (http:// or https://) and its password registered as a secret. */
function checkProxyUrl(value: string, path: (string | number)[], fail: Fail): void {
  const p = parseProxyUrl(value);
  if ('problem' in p) fail(path, p.problem);
  else registerProxySecrets(p.url);
}

function resolveProxyConfig(raw: NonNullable<RawConfig['http']>['proxy'], fail: Fail): ProxyConfig {
  if (!raw) return {};
  const out: ProxyConfig = {};
  for (const key of ['https', 'http'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    if (v !== false) checkProxyUrl(v, ['http', 'proxy', key], fail);
    out[key] = v;
  }
  if (raw.noProxy !== undefined) out.noProxy = Array.isArray(raw.noProxy) ? raw.noProxy : [raw.noProxy];
  return out;
}

function resolveEndpointProxy(v: string | false | undefined, path: (string | number)[], from: string, fail: Fail): { proxy?: EndpointProxy } {
  if (v === undefined) return {};
  if (v !== false) checkProxyUrl(v, path, fail);
  return { proxy: { url: v, from } };
}

function resolveImages(raw: RawImages | undefined, abs: (p: string) => string, fail: Fail): ImagesConfig {
  const path = ['images'];
  const repository = raw?.repository ?? DEFAULTS.images.repository;
  const unknown = [...repository.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).filter((n) => n !== 'registry' && n !== 'repository');
  if (unknown.length) fail([...path, 'repository'], `unknown placeholder {${unknown[0]}} (use {registry} and {repository})`);
  if (!repository.includes('{repository}')) fail([...path, 'repository'], 'must contain {repository}');
  const sample = repository.replaceAll('{registry}', 'docker.io').replaceAll('{repository}', 'library/nginx');
  if (invalidComponent(sample) !== undefined) fail([...path, 'repository'], `"${repository}" is not a valid repository path (lowercase letters, digits, . _ - and /)`);
  const extra = (raw?.extra ?? []).map((e, i) => {
    const p = parseImageReference(e);
    if (!p.ok) return fail([...path, 'extra', i], `not an image reference: ${p.problem}`);
    return formatImage(p.ref);
  });
  const discover = [...new Set(raw?.discover ?? DEFAULTS.images.discover)];
  const helm = raw?.render?.helm ?? 'helm';
  const enabled = raw?.enabled ?? false;
  if (enabled && discover.includes('render') && !findExecutable(helm, abs)) {
    fail([...path, 'render', 'helm'], `${helm}: no such executable (discover: render runs helm template; install Helm or set images.render.helm)`);
  }
  return {
    enabled,
    discover,
    platforms: raw?.platforms ?? 'all',
    repository,
    extra,
    ...(raw?.include ? { include: raw.include } : {}),
    ...(raw?.exclude ? { exclude: raw.exclude } : {}),
    render: { helm: helm.includes('/') ? abs(helm) : helm, values: (raw?.render?.values ?? []).map(abs) },
  };
}

/** A command on PATH, or a path to an executable file. */
function findExecutable(name: string, abs: (p: string) => string): string | undefined {
  const candidates = name.includes('/') ? [abs(name)] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

function resolveTls(tls: RawTls | undefined, path: (string | number)[], abs: (p: string) => string, fail: Fail): TlsSettings | undefined {
  if (!tls) return undefined;
  if (Boolean(tls.cert) !== Boolean(tls.key)) fail([...path, tls.cert ? 'key' : 'cert'], 'cert and key must be given together');
  return {
    ca: tls.ca === undefined ? undefined : (Array.isArray(tls.ca) ? tls.ca : [tls.ca]).map(abs),
    cert: tls.cert ? abs(tls.cert) : undefined,
    key: tls.key ? abs(tls.key) : undefined,
    insecureSkipVerify: tls.insecureSkipVerify ?? false,
  };
}

function resolveTarget(
  t: RawTarget,
  path: (string | number)[],
  abs: (p: string) => string,
  fail: Fail,
  defaultConnections: number | undefined,
): TargetConfig {
  if (t.url && t.layout) fail(path, 'give either url (a registry) or layout (a directory), not both');
  if (!t.url && !t.layout) fail(path, 'needs url: oci://host/path (a registry) or layout: DIR (an OCI layout directory)');
  let host: string | undefined;
  let basePath = '';
  if (t.url) {
    if (!t.url.startsWith('oci://')) fail([...path, 'url'], 'must start with oci://');
    const parsed = tryParseReference(t.url, { allowTag: false });
    if (!parsed.ok) {
      fail([...path, 'url'], parsed.problem === 'no valid registry host' ? `"${t.url}" has no valid registry host` : parsed.problem);
    } else {
      host = parsed.ref.registry;
      basePath = parsed.ref.repository;
    }
  }
  const repository = t.repository ?? (basePath ? `${basePath}/{chart}` : '{chart}');
  validateTemplate(repository, [...path, 'repository'], fail);
  if (t.auth) checkRegistryAuth(t.auth, [...path, 'auth'], fail);
  return {
    name: t.name,
    kind: t.url ? 'registry' : 'layout',
    host,
    basePath,
    layoutDir: t.layout ? abs(t.layout) : undefined,
    repository,
    plainHttp: t.plainHttp ?? false,
    auth: t.auth,
    tls: resolveTls(t.tls, [...path, 'tls'], abs, fail),
    ...resolveEndpointProxy(t.proxy, [...path, 'proxy'], `targets.${t.name}.proxy`, fail),
    onConflict: t.onConflict ?? 'fail',
    manifestMediaType: t.manifestMediaType ?? false,
    mount: t.mount ?? true,
    chunkSize: t.chunkSize !== undefined ? parseSize(t.chunkSize) : DEFAULTS.chunkSize,
    connections: t.connections ?? defaultConnections ?? DEFAULTS.connections.registries,
    requestsPerSecond: t.requestsPerSecond,
  };
}

/** Registry credentials: one kind of secret, and a username only with a password. */
function checkRegistryAuth(a: RegistryAuth, path: (string | number)[], fail: Fail): void {
  const kinds = [a.password, a.token, a.identityToken].filter((x) => x !== undefined).length;
  if (kinds > 1) fail(path, 'give one of username/password, token or identityToken');
  if (a.password !== undefined && a.username === undefined) fail([...path, 'username'], 'is required with password');
  if (a.username !== undefined && kinds === 0) fail([...path, 'password'], 'is required with username');
}

function validateTemplate(template: string, path: (string | number)[], fail: Fail): void {
  const unknown = [...template.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).filter((n) => n !== 'source' && n !== 'chart');
  if (unknown.length) fail(path, `unknown placeholder {${unknown[0]}} (use {source} and {chart})`);
  if (!template.includes('{chart}')) fail(path, 'must contain {chart}');
  const sample = template.replaceAll('{source}', 'src').replaceAll('{chart}', 'chart');
  if (invalidComponent(sample) !== undefined) fail(path, `"${template}" is not a valid repository path (lowercase letters, digits, . _ - and /)`);
}

function resolveSource(
  s: RawSource,
  path: (string | number)[],
  raw: RawConfig,
  abs: (p: string) => string,
  fail: Fail,
  targetNames: Set<string>,
  defaultConnections: number | undefined,
): SourceConfig {
  let url: string;
  let registry: string | undefined;
  let basePath: string | undefined;
  const kind: SourceConfig['kind'] = s.url.startsWith('oci://') ? 'oci' : 'classic';
  if (kind === 'oci') {
    const parsed = tryParseReference(s.url, { allowTag: false });
    if (!parsed.ok) return fail([...path, 'url'], parsed.problem === 'no valid registry host' ? `"${s.url}" has no valid registry host` : parsed.problem);
    registry = parsed.ref.registry;
    basePath = parsed.ref.repository;
    url = formatReference({ registry, repository: basePath });
    if (s.passCredentials !== undefined) fail([...path, 'passCredentials'], 'applies to classic repositories only (an oci:// source sends credentials to its registry)');
    if (s.auth) checkRegistryAuth(s.auth, [...path, 'auth'], fail);
  } else if (/^https?:\/\//i.test(s.url)) {
    try {
      const u = new URL(s.url);
      if (u.username || u.password) fail([...path, 'url'], 'put credentials in auth, not in the URL');
      url = u.toString();
    } catch {
      return fail([...path, 'url'], `"${s.url}" is not a valid URL`);
    }
  } else if (/^file:\/\//i.test(s.url)) {
    url = new URL(s.url).toString();
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s.url)) {
    return fail([...path, 'url'], `unsupported scheme in "${s.url}" (use http://, https://, file:// or a path)`);
  } else {
    url = pathToFileURL(abs(s.url)).toString();
  }
  if (kind === 'classic') {
    if (s.plainHttp !== undefined) fail([...path, 'plainHttp'], 'applies to oci:// sources only (a classic repository says http:// in its url)');
    if (s.referrers !== undefined) fail([...path, 'referrers'], 'applies to oci:// sources only');
    const a = s.auth;
    if (a) {
      const extra = (['token', 'identityToken', 'trustedRealmHosts'] as const).find((k) => a[k] !== undefined);
      if (extra) fail([...path, 'auth', extra], 'a classic repository takes HTTP basic credentials (username and password) only');
      if (a.username === undefined) fail([...path, 'auth', 'username'], 'is required');
      if (a.password === undefined) fail([...path, 'auth', 'password'], 'is required');
    }
  }
  for (const [i, t] of (s.targets ?? []).entries()) {
    if (!targetNames.has(t)) {
      const guess = closest(t, [...targetNames]);
      fail([...path, 'targets', i], `no target named "${t}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
    }
  }
  const verify: RawVerify = { ...raw.verify, ...s.verify };
  const keyring = verify.keyring === undefined ? [] : (Array.isArray(verify.keyring) ? verify.keyring : [verify.keyring]).map(abs);
  const mode: ProvenanceMode = verify.provenance ?? (keyring.length ? 'verify' : 'copy');
  if ((mode === 'verify' || mode === 'require') && keyring.length === 0) {
    fail([...path, 'verify', 'keyring'], `provenance: ${mode} needs a keyring`);
  }
  return {
    name: s.name,
    kind,
    url,
    ...(registry !== undefined ? { registry, basePath } : {}),
    auth: s.auth,
    passCredentials: s.passCredentials ?? false,
    plainHttp: s.plainHttp ?? false,
    referrers: s.referrers ?? true,
    tls: resolveTls(s.tls, [...path, 'tls'], abs, fail),
    ...resolveEndpointProxy(s.proxy, [...path, 'proxy'], `sources.${s.name}.proxy`, fail),
    provenance: { mode, keyring },
    selection: resolveSelection(raw, s, path, fail),
    targets: s.targets ?? [...targetNames],
    connections: s.connections ?? defaultConnections ?? DEFAULTS.connections.sources,
  };
}

type SelectionInput = Pick<RawConfig, 'versions' | 'latest' | 'since' | 'until' | 'prereleases' | 'deprecated'> & {
  charts?: RawCharts;
};

function resolveSelection(raw: SelectionInput, s: SelectionInput, path: (string | number)[], fail: Fail): Selection {
  const pick = <K extends keyof SelectionInput>(k: K) => (s[k] !== undefined ? s[k] : raw[k]);
  const base = resolveVersionSelection(
    {
      versions: pick('versions'),
      latest: pick('latest'),
      since: pick('since'),
      until: pick('until'),
      prereleases: pick('prereleases'),
      deprecated: pick('deprecated'),
    },
    path,
    fail,
  );
  const charts = s.charts ?? raw.charts;
  const overrides: Record<string, VersionSelection> = {};
  for (const [name, o] of Object.entries(charts?.overrides ?? {})) {
    overrides[name] = resolveVersionSelection(
      {
        versions: o.versions ?? base.versions,
        latest: o.latest ?? base.latest,
        since: o.since ?? base.since,
        until: o.until ?? base.until,
        prereleases: o.prereleases ?? base.prereleases,
        deprecated: o.deprecated ?? base.deprecated,
      },
      [...path, 'charts', 'overrides', name],
      fail,
    );
  }
  return { ...base, include: charts?.include, exclude: charts?.exclude, overrides };
}

function resolveVersionSelection(
  v: {
    versions?: string;
    latest?: number;
    since?: Date | string;
    until?: Date | string;
    prereleases?: boolean;
    deprecated?: 'include' | 'skip';
  },
  path: (string | number)[],
  fail: Fail,
): VersionSelection {
  if (v.versions !== undefined && semver.validRange(v.versions, { loose: true }) === null) {
    fail([...path, 'versions'], `"${v.versions}" is not a valid semver range`);
  }
  const date = (d: Date | string | undefined, key: string): Date | undefined => {
    if (d === undefined) return undefined;
    const t = d instanceof Date ? d : new Date(d);
    if (Number.isNaN(t.getTime())) fail([...path, key], `"${String(d)}" is not a date (use YYYY-MM-DD or RFC 3339)`);
    return t;
  };
  return {
    versions: v.versions,
    latest: v.latest,
    since: date(v.since, 'since'),
    until: date(v.until, 'until'),
    prereleases: v.prereleases ?? true,
    deprecated: v.deprecated ?? 'include',
  };
}

function resolveState(
  state: RawConfig['state'],
  abs: (p: string) => string,
  defaultDir: string,
  fail: (path: (string | number)[], message: string) => void,
): { stateDir: string; stateStore?: string; statePushIntervalMs: number } {
  const interval = typeof state === 'object' && state.pushInterval !== undefined ? parseDuration(state.pushInterval) : DEFAULTS.state.pushIntervalMs;
  if (interval < 1000) fail(['state', 'pushInterval'], 'must be at least 1s');
  const store = typeof state === 'object' ? state.store : state?.startsWith('oci://') ? state : undefined;
  if (store === undefined) return { stateDir: state ? abs(state as string) : defaultDir, statePushIntervalMs: interval };
  const path = typeof state === 'object' ? ['state', 'store'] : ['state'];
  const problem = stateStoreProblem(store);
  if (problem) fail(path, problem);
  return { stateDir: defaultDir, stateStore: store, statePushIntervalMs: interval };
}

/** Why `oci://…` cannot hold a state, or undefined. */
export function stateStoreProblem(store: string): string | undefined {
  if (!store.startsWith('oci://')) return 'must be oci://host[:port]/path (a registry repository)';
  const parsed = tryParseReference(store, { allowTag: false });
  if (!parsed.ok) return `${parsed.problem} (expected oci://host[:port]/path)`;
  if (!parsed.ref.repository) return 'must name a repository: oci://host[:port]/path';
  return undefined;
}

export interface RunLimits {
  archiveBytes: number;
  indexBytes: number;
  inFlightBytes: number;
}

export const DEFAULT_LIMITS: RunLimits = { archiveBytes: LIMITS.archiveBytes, indexBytes: LIMITS.indexBytes, inFlightBytes: LIMITS.inFlightBytes };

function resolveLimits(raw: RawConfig['limits'], fail: (path: (string | number)[], message: string) => void): RunLimits {
  const size = (v: number | string | undefined, d: number) => (v === undefined ? d : parseSize(v));
  const limits = {
    archiveBytes: size(raw?.archive, LIMITS.archiveBytes),
    indexBytes: size(raw?.index, LIMITS.indexBytes),
    inFlightBytes: size(raw?.inFlight, LIMITS.inFlightBytes),
  };
  if (limits.indexBytes > LIMITS.maxIndexBytes) fail(['limits', 'index'], `must be at most ${LIMITS.maxIndexBytes / 1024 / 1024}MiB (the longest text Node can hold)`);
  for (const [k, v] of Object.entries({ archive: limits.archiveBytes, index: limits.indexBytes, inFlight: limits.inFlightBytes })) {
    if (v < 1024) fail(['limits', k], 'must be at least 1KiB');
  }
  return limits;
}
