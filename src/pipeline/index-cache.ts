import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../util/digest.js';
import { publicUrl } from '../http/redact-url.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import type { IndexCacheInfo } from '../source/repository.js';

/**
 * The last index.yaml of each source with its validators (ETag / Last-Modified), so scheduled
 * runs can ask "changed since?" and plan from the cached copy on a 304.
 */
export class IndexCache {
  constructor(private readonly dir: string) {}

  private paths(url: string) {
    const id = sha256Hex(url).slice(0, 32);
    return { meta: join(this.dir, 'index-cache', `${id}.json`), body: join(this.dir, 'index-cache', `${id}.index` ) };
  }

  async get(url: string): Promise<(IndexCacheInfo & { bytes: Buffer }) | undefined> {
    const p = this.paths(url);
    try {
      const meta = JSON.parse(await readFile(p.meta, 'utf8')) as IndexCacheInfo & { urlSha256?: string; sha256: string };
      if (meta.urlSha256 !== sha256Hex(url)) return undefined;
      const bytes = await readFile(p.body);
      if (sha256Hex(bytes) !== meta.sha256) return undefined;
      return { etag: meta.etag, lastModified: meta.lastModified, bytes };
    } catch {
      return undefined;
    }
  }

  async put(url: string, info: IndexCacheInfo, bytes: Buffer): Promise<void> {
    if (!info.etag && !info.lastModified) return;
    const p = this.paths(url);
    await mkdir(join(this.dir, 'index-cache'), { recursive: true });
    await writeFileAtomic(p.body, bytes, { fsync: false });
    // The URL may carry a secret (a signed URL's ?sig=, a token): its hash is the key, and only
    // its public part is written, for people reading the directory.
    await writeFileAtomic(
      p.meta,
      JSON.stringify({ url: publicUrl(url), urlSha256: sha256Hex(url), etag: info.etag, lastModified: info.lastModified, sha256: sha256Hex(bytes) }),
    );
  }
}
