/**
 * OCI references and the distribution-spec name grammar, defined once: every oci:// URL in a
 * config, on the command line or in the library API is read here.
 *
 * Parsing follows Helm's pkg/registry/reference.go (drop `oci://`; `@digest` after the last
 * `@`; a last `:`-segment without `/` is the tag; every `+` in a tag becomes `_`), and Docker
 * Hub's API host follows oras-go v2 registry.Reference.Host (`docker.io` is served by
 * `registry-1.docker.io`), which is what Helm 3.17 and 4 connect to.
 */
import { ChartMirrorError } from '../errors.js';

/** One path component of a repository name (distribution-spec). */
export const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** A tag (distribution-spec). */
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** The only digest algorithm chartmirror reads and writes. */
export const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** `host`, `host:port`, `[v6]:port`. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** Many clients cap `host/name` at 255 characters (distribution-spec "Pulling manifests"). */
const MAX_NAME = 255;

export interface Reference {
  /** `host[:port]` as written (`docker.io` stays `docker.io`; see registryHost). */
  registry: string;
  /** `path/to/repo`; may be empty for a registry root or a target base path. */
  repository: string;
  tag?: string;
  digest?: string;
}

export function isValidRepository(repository: string): boolean {
  return repository.length > 0 && repository.length <= MAX_NAME && repository.split('/').every((c) => NAME_COMPONENT.test(c));
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** The first repository path component that breaks the grammar, if any. */
export function invalidComponent(repository: string): string | undefined {
  return repository.split('/').find((c) => !NAME_COMPONENT.test(c));
}

/** The host that serves a registry's API: Docker Hub's is not the name references carry. */
export function registryHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

/** The version as an OCI tag: every '+' becomes '_' (Helm's convention). */
export function tagForVersion(version: string): string {
  return version.split('+').join('_');
}

export type ParsedReference = { ok: true; ref: Reference } | { ok: false; problem: string };

/**
 * Read `oci://host[:port]/path[:tag|@digest]` (the `oci://` is optional). `problem` is a phrase
 * for the caller's message, which names where the reference came from.
 */
export function tryParseReference(input: string, opts: { allowTag?: boolean } = {}): ParsedReference {
  const allowTag = opts.allowTag ?? true;
  let rest = input.startsWith('oci://') ? input.slice('oci://'.length) : input;
  rest = rest.replace(/\/+$/, '');
  let digest: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  const slash = rest.indexOf('/');
  if (colon > slash && slash >= 0 && !rest.slice(colon + 1).includes('/')) {
    tag = rest.slice(colon + 1).split('+').join('_');
    rest = rest.slice(0, colon);
  }
  const registry = slash < 0 ? rest : rest.slice(0, slash);
  const repository = slash < 0 ? '' : rest.slice(slash + 1);
  if (!registry || !HOST.test(registry)) return { ok: false, problem: 'no valid registry host' };
  if (!allowTag && (tag !== undefined || digest !== undefined)) return { ok: false, problem: 'must not contain a tag or digest' };
  if (repository) {
    const bad = invalidComponent(repository);
    if (bad !== undefined) return { ok: false, problem: `path component "${bad}" is not a valid repository name (lowercase letters, digits, . _ -)` };
    if (`${registry}/${repository}`.length > MAX_NAME) return { ok: false, problem: `the name is longer than ${MAX_NAME} characters` };
  }
  if (tag !== undefined && !TAG.test(tag)) return { ok: false, problem: `"${tag}" is not a valid tag` };
  if (digest !== undefined && !DIGEST.test(digest)) return { ok: false, problem: `"${digest}" is not a sha256 digest` };
  return { ok: true, ref: { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) } };
}

/** As tryParseReference; a USAGE error naming the input when it is not a reference. */
export function parseReference(input: string, opts: { allowTag?: boolean } = {}): Reference {
  const r = tryParseReference(input, opts);
  if (!r.ok) throw new ChartMirrorError('USAGE', `${input}: ${r.problem} (expected oci://host[:port]/path[:tag|@digest])`);
  return r.ref;
}

/** `oci://host/repo`, with `@digest` (preferred) or `:tag` when given. */
export function formatReference(ref: Reference): string {
  const name = ref.repository ? `${ref.registry}/${ref.repository}` : ref.registry;
  return `oci://${name}${ref.digest ? `@${ref.digest}` : ref.tag ? `:${ref.tag}` : ''}`;
}

/** `base/child`, or `child` when base is empty. */
export function joinRepository(base: string, child: string): string {
  return base ? `${base}/${child}` : child;
}
