/**
 * Go `path.Clean`, `path.Base` and `filepath.Ext` (path/path.go, path/filepath/path.go; on
 * Linux filepath.Base is path.Base), which Helm's loader and Metadata.Validate() judge chart
 * paths and names with. node:path differs in the corners: normalize keeps a trailing slash,
 * basename of '' and '/' is '', extname of '.tgz' is ''.
 */

/** Go path.Clean. */
export function pathClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? (rooted ? '/' : '.') : s;
}

/** Go path.Base (filepath.Base on Linux). */
export function pathBase(p: string): string {
  if (p === '') return '.';
  let end = p.length;
  while (end > 0 && p.charCodeAt(end - 1) === 0x2f) end--; // trailing slashes, in linear time
  let s = p.slice(0, end);
  if (s === '') return '/';
  const i = s.lastIndexOf('/');
  if (i >= 0) s = s.slice(i + 1);
  return s;
}

/** Go filepath.Ext. */
export function filepathExt(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== '/'; i--) if (p[i] === '.') return p.slice(i);
  return '';
}
