/**
 * A URL fit for a message: no userinfo, no query (upload locations carry signed state, S3 and
 * GCS URLs carry signatures), no fragment.
 */
export function displayUrl(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    const query = u.search ? '?…' : '';
    return `${u.protocol}//${u.host}${u.pathname}${query}`;
  } catch {
    return String(url).replace(/\/\/[^/@]*@/, '//***@').replace(/\?.*$/, '?…');
  }
}

/** A source URL fit for a report: no userinfo, no query (signed URLs carry secrets there). */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** `host[:port]` of a URL (never its credentials), for metrics and errors; undefined when it is not a URL. */
export function urlHost(url: string | URL): string | undefined {
  try {
    return (typeof url === 'string' ? new URL(url) : url).host || undefined;
  } catch {
    return undefined;
  }
}
