/**
 * Helm's ResolveReferenceURL (pkg/repo/chartrepo.go): an absolute chart URL is used as it
 * is; a relative one resolves against the repository URL with a trailing slash added, and the
 * repository URL's query string replaces the reference's (ChartMuseum and signed-URL hosts).
 */
export function resolveChartUrl(repoUrl: string, ref: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) return ref;
  const base = new URL(repoUrl);
  const query = base.search;
  base.search = '';
  base.hash = '';
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const resolved = new URL(ref, base);
  resolved.search = query;
  resolved.hash = '';
  return resolved.toString();
}

/** The .prov beside an archive: `.prov` appended to the path; the query string is kept. */
export function provenanceUrl(chartUrl: string): string {
  const u = new URL(chartUrl);
  u.pathname += '.prov';
  return u.toString();
}

/** The archive's file name as the source serves it (last path segment, decoded). */
export function archiveFileName(chartUrl: string): string {
  const u = new URL(chartUrl);
  const last = u.pathname.split('/').filter(Boolean).pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** Same scheme, host and port: where a source's credentials may go (Helm's rule). */
export function sameOrigin(a: string, b: string): boolean {
  const x = new URL(a);
  const y = new URL(b);
  return x.protocol === y.protocol && x.host === y.host;
}
