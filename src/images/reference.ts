/**
 * Container image references as Docker reads them (distribution/reference ParseNormalizedNamed,
 * normalize.go): a first component with a `.` or `:`, or `localhost`, or an upper-case letter,
 * is the registry; otherwise the image is on Docker Hub, `docker.io`, and a one-component
 * name is under `library/`. No tag and no digest means `latest`. A digest pins the content:
 * an image named with one is copied by that digest (its tag, if any, only names it).
 */
import { DIGEST, NAME_COMPONENT, TAG } from '../oci/reference.js';

export interface ImageReference {
  /** `docker.io`, `ghcr.io`, `registry.internal:5000` (lower case). */
  registry: string;
  /** `library/nginx`, `bitnami/redis`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export type ParsedImage = { ok: true; ref: ImageReference } | { ok: false; problem: string };

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const MAX_NAME = 255;

export function parseImageReference(input: string): ParsedImage {
  const text = input.trim();
  if (!text) return { ok: false, problem: 'an empty image reference' };
  if (text.length > 1024) return { ok: false, problem: 'an image reference longer than 1,024 characters' };
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return { ok: false, problem: `"${input}": "${digest}" is not a sha256 digest` };
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return { ok: false, problem: `"${input}": "${tag}" is not a valid tag` };
  }
  let registry = 'docker.io';
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      registry = first.toLowerCase();
      repository = rest.slice(slash + 1);
    }
  }
  if (!HOST.test(registry)) return { ok: false, problem: `"${input}": "${registry}" is not a registry host` };
  if (registry === 'index.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  if (!repository || repository.split('/').some((c) => !NAME_COMPONENT.test(c))) {
    return { ok: false, problem: `"${input}": "${repository}" is not a valid repository name (lowercase letters, digits, . _ - and /)` };
  }
  if (`${registry}/${repository}`.length > MAX_NAME) return { ok: false, problem: `"${input}": the name is longer than ${MAX_NAME} characters` };
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { ok: true, ref: { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) } };
}

/** `docker.io/library/nginx:1.25`, `ghcr.io/x/y@sha256:…`, `reg:5000/a:1@sha256:…`. */
export function formatImage(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** What names the content to copy: the digest when given, else the tag. */
export function imageSelector(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** A registry host as a repository path component: lower case, `:` (a port) made `-`. */
export function pathSafeRegistry(registry: string): string {
  return registry.toLowerCase().replace(/[[\]]/g, '').replace(/:/g, '-');
}
