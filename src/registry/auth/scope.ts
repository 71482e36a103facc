/**
 * Token scopes (distribution docs spec/auth/scope.md):
 *   scope         = resourcetype [ "(" resourceclass ")" ] ":" resourcename ":" action *( "," action )
 *   resourcename  = [ hostname "/" ] component *( "/" component )   ; hostname may carry ":port"
 * The type is everything before the first colon and the actions everything after the last one,
 * so a name like `reg:5000/team/app` survives. Anything that doesn't fit (public.ecr.aws sends
 * scope="aws") is kept verbatim.
 */

export interface ParsedScope {
  /** `repository`, or `repository(plugin)` with its class. */
  type: string;
  name: string;
  actions: string[];
}

/** `repository:<name>:pull,push`; actions deduplicated and sorted. */
export function repositoryScope(name: string, actions: string[]): string {
  return formatScope({ type: 'repository', name, actions: normaliseActions(actions) });
}

/** Scopes for pushing to `name`, plus pull on `mountFrom` when a cross-repository mount is tried. */
export function pushScopes(name: string, mountFrom?: string): string[] {
  const scopes = [repositoryScope(name, ['pull', 'push'])];
  if (mountFrom !== undefined && mountFrom !== name) scopes.push(repositoryScope(mountFrom, ['pull']));
  return cleanScopes(scopes);
}

export function parseScope(scope: string): ParsedScope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first || last === scope.length - 1) return undefined;
  const name = scope.slice(first + 1, last);
  if (name === '') return undefined;
  return { type: scope.slice(0, first), name, actions: scope.slice(last + 1).split(',') };
}

/** Splits a challenge's `scope` parameter, which may hold several space-separated scopes. */
export function splitScopeParam(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(/[ \t]+/).filter((s) => s !== '');
}

/**
 * The union of scopes as a canonical list: one entry per resource with merged, sorted actions
 * (`*` absorbs the others), sorted, duplicates dropped. Used as the token cache key and sent in
 * this order.
 */
export function cleanScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, ParsedScope>();
  const opaque = new Set<string>();
  for (const raw of scopes) {
    const s = raw.trim();
    if (s === '') continue;
    const parsed = parseScope(s);
    if (!parsed) {
      opaque.add(s);
      continue;
    }
    const key = `${parsed.type}:${parsed.name}`;
    const existing = byResource.get(key);
    if (existing) existing.actions.push(...parsed.actions);
    else byResource.set(key, { ...parsed, actions: [...parsed.actions] });
  }
  const out = [...opaque];
  for (const p of byResource.values()) {
    const actions = normaliseActions(p.actions);
    if (actions.length === 0) continue;
    out.push(formatScope({ ...p, actions }));
  }
  return out.sort();
}

function normaliseActions(actions: string[]): string[] {
  const set = new Set(actions.map((a) => a.trim()).filter((a) => a !== ''));
  if (set.has('*')) return ['*'];
  return [...set].sort();
}

function formatScope(p: ParsedScope): string {
  return `${p.type}:${p.name}:${p.actions.join(',')}`;
}
