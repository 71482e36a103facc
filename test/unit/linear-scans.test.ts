/**
 * Text from a registry or a bundle is scanned in time linear in its length: these inputs made
 * the regexes they replaced (/\/+$/, /(\d+)$/) backtrack quadratically (seconds at this size).
 */
import { describe, expect, it } from 'vitest';
import { normalise } from '../../src/content/tar-index.js';
import { lastNumber } from '../../src/registry/client.js';

describe('linear scans of untrusted text', () => {
  it('bundle paths: ./ and slashes trimmed, a long run of slashes in the middle costs nothing', () => {
    expect(normalise('./././blobs/sha256/x//')).toBe('blobs/sha256/x');
    expect(normalise('//a/b/')).toBe('a/b');
    const hostile = `a${'/'.repeat(200_000)}b`;
    const t = performance.now();
    expect(normalise(hostile)).toBe(hostile);
    expect(performance.now() - t).toBeLessThan(1000);
  });

  it('the Range header of an upload: its last number, in one pass', () => {
    expect(lastNumber('0-1023')).toBe(1023);
    expect(lastNumber('bytes=0-')).toBeNaN();
    const hostile = `${'9'.repeat(200_000)}x`;
    const t = performance.now();
    expect(lastNumber(hostile)).toBeNaN();
    expect(performance.now() - t).toBeLessThan(1000);
  });
});
