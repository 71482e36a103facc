import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadChartArchive, type LoadedChart } from '../../src/chart/archive.js';
import type { ChartMetadata } from '../../src/chart/metadata.js';
import { buildChartArtifact, chartAnnotations, createdFromIndex, formatCreated, tagForVersion } from '../../src/oci/artifact.js';
import { sha256Digest } from '../../src/util/digest.js';
import { haveTestdata, HELM_TESTDATA as TESTDATA } from '../support/testdata.js';

const AUTHORS = 'org.opencontainers.image.authors';
const CREATED = 'org.opencontainers.image.created';

describe('chartAnnotations (generateChartOCIAnnotations + Chart.yaml annotations)', () => {
  const base: ChartMetadata = { name: 'c', version: '1.0.0+b', apiVersion: 'v2' };

  it('sets title and version, created when given', () => {
    expect(chartAnnotations(base, '2020-01-01T00:00:00Z')).toEqual({
      'org.opencontainers.image.title': 'c',
      'org.opencontainers.image.version': '1.0.0+b',
      [CREATED]: '2020-01-01T00:00:00Z',
    });
    expect(chartAnnotations(base, undefined)).not.toHaveProperty(CREATED);
  });

  it('adds description, url, source (first only) when not blank, untrimmed', () => {
    const a = chartAnnotations({ ...base, description: ' d ', home: '\t', sources: [' s1', 's2'] }, undefined);
    expect(a['org.opencontainers.image.description']).toBe(' d ');
    expect(a).not.toHaveProperty('org.opencontainers.image.url');
    expect(a['org.opencontainers.image.source']).toBe(' s1');
    expect(chartAnnotations({ ...base, sources: ['', 's2'] }, undefined)).not.toHaveProperty('org.opencontainers.image.source');
  });

  it('formats authors as Helm does', () => {
    expect(chartAnnotations({ ...base, maintainers: [{ email: 'a@b' }] }, undefined)[AUTHORS]).toBe(' (a@b)');
    expect(chartAnnotations({ ...base, maintainers: [{}, { name: 'A' }] }, undefined)[AUTHORS]).toBe(', A');
    expect(chartAnnotations({ ...base, maintainers: [{ name: 'A', email: 'a@x', url: 'u' }, { name: 'B' }] }, undefined)[AUTHORS]).toBe('A (a@x), B');
    expect(chartAnnotations({ ...base, maintainers: [{}] }, undefined)).not.toHaveProperty(AUTHORS);
    expect(chartAnnotations({ ...base, maintainers: [{ url: 'only-url' }] }, undefined)).not.toHaveProperty(AUTHORS);
  });

  it('lets Chart.yaml annotations override everything, empty values included, except title and version', () => {
    const a = chartAnnotations(
      {
        ...base,
        description: 'd',
        annotations: {
          [CREATED]: '1999-01-01T00:00:00Z',
          'org.opencontainers.image.description': '',
          'org.opencontainers.image.title': 'nope',
          'org.opencontainers.image.version': 'nope',
          custom: '<&>',
        },
      },
      '2020-01-01T00:00:00Z',
    );
    expect(a[CREATED]).toBe('1999-01-01T00:00:00Z');
    expect(a['org.opencontainers.image.description']).toBe('');
    expect(a['org.opencontainers.image.title']).toBe('c');
    expect(a['org.opencontainers.image.version']).toBe('1.0.0+b');
    expect(a.custom).toBe('<&>');
  });
});

describe('buildChartArtifact', () => {
  const chart: LoadedChart = {
    metadata: { name: 'c', version: '1.0.0+b', apiVersion: 'v2', description: 'a<b', annotations: { 'x&y': '😀' } },
    chartYamlMtime: new Date(Date.UTC(2001, 1, 3, 4, 5, 6, 789)),
    fileNames: ['Chart.yaml'],
  };
  const archive = Buffer.from('not really a tgz');

  it('builds the four-key manifest with escaped, sorted annotations and no mediaType', () => {
    const a = buildChartArtifact({ chart, archive });
    const body = a.manifest.bytes.toString();
    expect(body).toBe(
      `{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"${a.config.descriptor.digest}","size":${a.config.bytes.length}},` +
        `"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"${sha256Digest(archive)}","size":${archive.length}}],` +
        '"annotations":{"org.opencontainers.image.created":"2001-02-03T04:05:06Z","org.opencontainers.image.description":"a\\u003cb","org.opencontainers.image.title":"c","org.opencontainers.image.version":"1.0.0+b","x\\u0026y":"😀"}}',
    );
    expect(a.manifest.descriptor).toEqual({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(body), size: Buffer.byteLength(body) });
    expect(a.config.bytes.toString()).toBe('{"name":"c","version":"1.0.0+b","description":"a\\u003cb","apiVersion":"v2","annotations":{"x\\u0026y":"😀"}}');
    expect(a.tag).toBe('1.0.0_b');
    expect(a.name).toBe('c');
    expect(a.version).toBe('1.0.0+b');
  });

  it('takes an explicit created, and can put mediaType in the body on request', () => {
    const a = buildChartArtifact({ chart, archive, created: '2020-01-01T00:00:00Z', manifestMediaType: true });
    expect(a.manifest.bytes.toString()).toMatch(/^\{"schemaVersion":2,"mediaType":"application\/vnd\.oci\.image\.manifest\.v1\+json","config":/);
    expect(a.annotations[CREATED]).toBe('2020-01-01T00:00:00Z');
  });

  it('sorts layers by digest string', () => {
    const a = buildChartArtifact({ chart, archive, provenance: Buffer.from('prov') });
    const digests = a.layers.map((l) => l.descriptor.digest);
    expect(digests).toEqual([...digests].sort());
    expect(a.layers).toHaveLength(2);
  });
});

describe('created', () => {
  it('formatCreated: whole seconds (truncated), UTC, Z, pre-1970 included', () => {
    expect(formatCreated(new Date(Date.UTC(1977, 8, 2, 22, 4, 5, 999)))).toBe('1977-09-02T22:04:05Z');
    expect(formatCreated(new Date(-1500))).toBe('1969-12-31T23:59:58Z');
    expect(formatCreated(new Date(0))).toBe('1970-01-01T00:00:00Z');
  });

  it('createdFromIndex: any offset and fraction to UTC whole seconds; undefined if unusable', () => {
    expect(createdFromIndex('2016-10-06T16:23:20.499814565-06:00')).toBe('2016-10-06T22:23:20Z');
    expect(createdFromIndex('2020-01-01T00:00:00Z')).toBe('2020-01-01T00:00:00Z');
    expect(createdFromIndex('2020-01-01t01:30:00+01:30')).toBe('2020-01-01T00:00:00Z');
    expect(createdFromIndex('0001-01-01T00:00:00Z')).toBe('0001-01-01T00:00:00Z');
    expect(createdFromIndex(undefined)).toBeUndefined();
    expect(createdFromIndex('yesterday')).toBeUndefined();
    expect(createdFromIndex('2020-02-30T00:00:00Z')).toBeUndefined();
    expect(createdFromIndex('2020-01-01')).toBeUndefined();
  });

  it('tagForVersion replaces every +', () => {
    expect(tagForVersion('1.0.0+a+b')).toBe('1.0.0_a_b');
    expect(tagForVersion('1.0.0')).toBe('1.0.0');
  });
});

describe.skipIf(!haveTestdata())("Helm's golden push vector", () => {
  it('signtest-0.1.0.tgz + .prov, created 1977-09-02T22:04:05Z', async () => {
    const tgz = readFileSync(resolve(TESTDATA, 'testcharts/signtest-0.1.0.tgz'));
    const prov = readFileSync(resolve(TESTDATA, 'testcharts/signtest-0.1.0.tgz.prov'));
    const a = buildChartArtifact({ chart: await loadChartArchive(tgz), archive: tgz, provenance: prov, created: '1977-09-02T22:04:05Z' });
    expect(a.config.bytes.toString()).toBe('{"name":"signtest","version":"0.1.0","description":"A Helm chart for Kubernetes","apiVersion":"v1"}');
    expect(a.config.descriptor).toMatchObject({ digest: 'sha256:8d17cb6bf6ccd8c29aace9a658495cbd5e2e87fc267876e86117c7db681c9580', size: 99 });
    expect(a.layers.map((l) => [l.descriptor.mediaType, l.descriptor.digest, l.descriptor.size])).toEqual([
      ['application/vnd.cncf.helm.chart.provenance.v1.prov', 'sha256:b0a02b7412f78ae93324d48df8fcc316d8482e5ad7827b5b238657a29a22f256', 695],
      ['application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'sha256:e5ef611620fb97704d8751c16bab17fedb68883bfb0edc76f78a70e9173f9b55', 973],
    ]);
    expect(a.manifest.descriptor).toEqual({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:fbbade96da6050f68f94f122881e3b80051a18f13ab5f4081868dd494538f5c2',
      size: 742,
    });
  });

  it('reqtest-0.1.0.tgz escapes > in a dependency version', async () => {
    const tgz = readFileSync(resolve(TESTDATA, 'testcharts/reqtest-0.1.0.tgz'));
    const a = buildChartArtifact({ chart: await loadChartArchive(tgz), archive: tgz });
    expect(a.config.bytes.toString()).toContain('{"name":"reqsubchart3","version":"\\u003e=0.1.0","repository":"https://example.com/charts"}');
  });
});
