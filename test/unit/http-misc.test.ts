import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, withRetry, DEFAULT_RETRY } from '../../src/http/retry.js';
import { ChartMirrorError } from '../../src/errors.js';
import { describeErrorBody } from '../../src/registry/errors.js';
import { nextLink } from '../../src/registry/client.js';
import { displayUrl } from '../../src/http/redact-url.js';
import { redact, registerSecret } from '../../src/util/secrets.js';

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('never backs off less than Retry-After, and caps the exponential part', () => {
    expect(backoffDelay(DEFAULT_RETRY, 1, 5000)).toBeGreaterThanOrEqual(5000);
    for (let a = 1; a < 20; a++) expect(backoffDelay(DEFAULT_RETRY, a)).toBeLessThanOrEqual(DEFAULT_RETRY.maxDelayMs);
  });
});

describe('withRetry', () => {
  const fast = { ...DEFAULT_RETRY, baseDelayMs: 1, maxDelayMs: 2 };
  it('retries retryable errors up to the attempt limit, reporting each', async () => {
    let calls = 0;
    const seen: number[] = [];
    await expect(
      withRetry(async () => {
        calls++;
        throw new ChartMirrorError('NETWORK', 'reset', { retryable: true });
      }, fast, { onRetry: (i) => seen.push(i.attempt) }),
    ).rejects.toThrow('reset');
    expect(calls).toBe(5);
    expect(seen).toEqual([1, 2, 3, 4]);
  });
  it('does not retry what cannot succeed', async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw new ChartMirrorError('AUTH', 'denied'); }, fast)).rejects.toThrow('denied');
    expect(calls).toBe(1);
  });
  it('gives up at once on a Retry-After longer than allowed', async () => {
    let calls = 0;
    const err = new ChartMirrorError('REGISTRY', '429', { retryable: true, retryAfterMs: 3_600_000 });
    await expect(withRetry(async () => { calls++; throw err; }, fast)).rejects.toBe(err);
    expect(calls).toBe(1);
  });
});

describe('registry error bodies', () => {
  it('reads OCI error JSON, HTML and plain text as one phrase', () => {
    expect(describeErrorBody('{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}')).toEqual({
      codes: ['NAME_UNKNOWN'],
      text: 'NAME_UNKNOWN: repository name not known to registry',
    });
    expect(describeErrorBody('<html><head><title>405 Not Allowed</title></head><body>x</body></html>').text).toBe('HTML page "405 Not Allowed"');
    expect(describeErrorBody('').text).toBe('');
    expect(describeErrorBody('  upstream\n  timeout ').text).toBe('upstream timeout');
  });

  it('follows Link pagination relative to the current URL', () => {
    expect(nextLink('</v2/a/tags/list?last=x&n=2>; rel="next"', 'http://r:5000/v2/a/tags/list?n=2')).toBe(
      'http://r:5000/v2/a/tags/list?last=x&n=2',
    );
    expect(nextLink(undefined, 'http://r/')).toBeUndefined();
  });
});

describe('secrets stay out of messages', () => {
  it('drops userinfo and queries from URLs', () => {
    expect(displayUrl('https://u:p@h/a/b?X-Amz-Signature=abc')).toBe('https://h/a/b?…');
  });
  it('scrubs registered secrets, Authorization values and URL credentials', () => {
    registerSecret('s3cr3t-token-value');
    expect(redact('token s3cr3t-token-value leaked')).toBe('token *** leaked');
    expect(redact('Authorization: Bearer abcdefghijklmnop')).toBe('Authorization: ***');
    expect(redact('sent Bearer abcdefghijklmnop1234')).toBe('sent Bearer ***');
    expect(redact('see https://user:pw@example.com/x')).toBe('see https://***@example.com/x');
  });
});

describe('throttle delays', () => {
  it('take Retry-After first, then RateLimit-Reset (seconds), else nothing', async () => {
    const { throttleDelay } = await import('../../src/http/retry.js');
    const h = (m: Record<string, string>) => (n: string) => m[n];
    expect(throttleDelay(h({ 'retry-after': '3', 'ratelimit-reset': '60' }))).toBe(3000);
    expect(throttleDelay(h({ 'ratelimit-reset': '60' }))).toBe(60_000);
    expect(throttleDelay(h({ 'ratelimit-reset': 'soon' }))).toBeUndefined();
    expect(throttleDelay(h({ 'ratelimit-remaining': '0;w=21600' }))).toBeUndefined();
  });
});
