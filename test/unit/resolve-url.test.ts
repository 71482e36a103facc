import { describe, expect, it } from 'vitest';
import { archiveFileName, provenanceUrl, resolveChartUrl, sameOrigin } from '../../src/source/resolve-url.js';

// Vectors from Helm's TestResolveChartRef (pkg/downloader/chart_downloader_test.go@v3.17.3)
// and pkg/repo/chartrepo_test.go.
describe('resolveChartUrl (Helm ResolveReferenceURL)', () => {
  it.each([
    ['http://example.com', 'alpine-1.2.3.tgz', 'http://example.com/alpine-1.2.3.tgz'],
    ['http://example.com?key=value', 'alpine-1.2.3.tgz', 'http://example.com/alpine-1.2.3.tgz?key=value'],
    ['http://example.com/helm', 'charts/foo-1.2.3.tgz', 'http://example.com/helm/charts/foo-1.2.3.tgz'],
    ['http://example.com/helm', 'bar-1.2.3.tgz', 'http://example.com/helm/bar-1.2.3.tgz'],
    ['http://example.com/helm/', 'charts/foo-1.2.3.tgz', 'http://example.com/helm/charts/foo-1.2.3.tgz'],
    ['http://example.com/with%2Fslash', 'charts/foobar-4.2.1.tgz', 'http://example.com/with%2Fslash/charts/foobar-4.2.1.tgz'],
    ['http://h/charts?with=queryparameter', 'nginx-0.2.0.tgz', 'http://h/charts/nginx-0.2.0.tgz?with=queryparameter'],
    ['http://example.com/helm', 'https://cdn.example.org/x/foo-1.0.0.tgz', 'https://cdn.example.org/x/foo-1.0.0.tgz'],
    ['http://example.com/a/b', '../c/foo-1.0.0.tgz', 'http://example.com/a/c/foo-1.0.0.tgz'],
    ['http://example.com/a/b', '/root/foo-1.0.0.tgz', 'http://example.com/root/foo-1.0.0.tgz'],
    ['file:///srv/repo', 'foo-1.0.0.tgz', 'file:///srv/repo/foo-1.0.0.tgz'],
  ])('%s + %s', (base, ref, expected) => {
    expect(resolveChartUrl(base, ref)).toBe(expected);
  });

  it('finds index.yaml the same way', () => {
    expect(resolveChartUrl('https://charts.example.com/sub', 'index.yaml')).toBe('https://charts.example.com/sub/index.yaml');
    expect(resolveChartUrl('https://h/s3?X-Sig=abc', 'index.yaml')).toBe('https://h/s3/index.yaml?X-Sig=abc');
  });
});

describe('provenance and file names', () => {
  it('appends .prov to the path and keeps the query', () => {
    expect(provenanceUrl('http://h/charts/a-1.0.0.tgz?x=1')).toBe('http://h/charts/a-1.0.0.tgz.prov?x=1');
  });
  it('takes the decoded last path segment as the archive name', () => {
    expect(archiveFileName('http://h/c/my%20chart-1.0.0.tgz?x=1')).toBe('my chart-1.0.0.tgz');
  });
  it('compares scheme, host and port for credentials', () => {
    expect(sameOrigin('http://h:80/a', 'http://h/b')).toBe(true);
    expect(sameOrigin('https://h/a', 'http://h/a')).toBe(false);
    expect(sameOrigin('http://h:8080/a', 'http://h/a')).toBe(false);
    expect(sameOrigin('http://cdn.h/a', 'http://h/a')).toBe(false);
  });
});
