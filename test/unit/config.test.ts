import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { redact } from '../../src/util/secrets.js';

const FILE = '/work/cfg/mirror.config.yaml';

function load(text: string, env: Record<string, string> = {}) {
  return parseConfig(text, FILE, env);
}

function problem(text: string, env: Record<string, string> = {}): string {
  try {
    load(text, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a config error');
}

const minimal = `
sources:
  - name: example
    url: https://charts.example.com/sub
targets:
  - name: registry
    url: oci://127.0.0.1:5000/mirror
    plainHttp: true
  - name: disk
    layout: ./out/oci
`;

describe('config', () => {
  it('state: a directory, or a registry repository with a push interval', () => {
    expect(load(minimal)).toMatchObject({ stateDir: '/work/cfg/.chartmirror', statePushIntervalMs: 180_000 });
    expect(load(minimal + 'state: ./st\n')).toMatchObject({ stateDir: '/work/cfg/st' });
    expect(load(minimal).stateStore).toBeUndefined();
    expect(load(minimal + 'state: {store: "oci://reg.example.com/ops/state", pushInterval: 30s}\n')).toMatchObject({ stateStore: 'oci://reg.example.com/ops/state', statePushIntervalMs: 30_000 });
    expect(load(minimal + 'state: oci://reg.example.com/ops/state\n').stateStore).toBe('oci://reg.example.com/ops/state');
    expect(problem(minimal + 'state: {store: "https://reg.example.com/x"}\n')).toMatch(/state\.store: must be oci:\/\/host\[:port\]\/path/);
    expect(problem(minimal + 'state: {store: "oci://reg.example.com"}\n')).toMatch(/state\.store: must name a repository/);
    expect(problem(minimal + 'state: {store: "oci://reg.example.com/x:tag"}\n')).toMatch(/state\.store: must not contain a tag/);
    expect(problem(minimal + 'state: {store: "oci://reg.example.com/x", pushInterval: 100ms}\n')).toMatch(/state\.pushInterval: must be at least 1s/);
    expect(problem(minimal + 'state: {dir: ./x}\n')).toMatch(/state/);
  });

  it('limits: sizes with their defaults; an index cap past what Node can hold is refused', () => {
    expect(load(minimal).limits).toEqual({ archiveBytes: 256 * 1024 ** 2, indexBytes: 256 * 1024 ** 2, inFlightBytes: 1024 ** 3 });
    expect(load(minimal + 'limits: {archive: 8MiB, index: 1GiB}\n'.replace('1GiB', '100MiB')).limits).toMatchObject({ archiveBytes: 8 * 1024 ** 2, indexBytes: 100 * 1024 ** 2 });
    expect(problem(minimal + 'limits: {index: 600MiB}\n')).toMatch(/limits\.index: must be at most 500MiB/);
    expect(problem(minimal + 'limits: {inFlight: 10}\n')).toMatch(/limits\.inFlight: must be at least 1KiB/);
  });

  it('proxies: http.proxy key by key, proxy per source, target and registry, URLs checked, passwords secret', async () => {
    const cfg = load(
      minimal.replace('    url: https://charts.example.com/sub\n', '    url: https://charts.example.com/sub\n    proxy: false\n') +
        'http: {proxy: {https: "http://mirror:${PROXY_PW}@proxy.corp:3128", noProxy: ".corp.example, 10.0.0.0/8"}}\n' +
        'registries: {docker.io: {proxy: "egress:3128"}}\n',
      { PROXY_PW: 'Cfg-Proxy-pw-3318' },
    );
    expect(cfg.proxy).toEqual({ https: 'http://mirror:Cfg-Proxy-pw-3318@proxy.corp:3128', noProxy: ['.corp.example, 10.0.0.0/8'] });
    expect(cfg.sources[0]!.proxy).toEqual({ url: false, from: 'sources.example.proxy' });
    expect(cfg.targets[0]!.proxy).toBeUndefined();
    expect(cfg.registries.get('docker.io')!.proxy).toEqual({ url: 'egress:3128', from: 'registries.docker.io.proxy' });
    expect(redact('proxy http://x:Cfg-Proxy-pw-3318@p')).not.toContain('Cfg-Proxy-pw-3318');
    expect(load(minimal + 'http: {proxy: {http: false, noProxy: [a.example, b.example]}}\n').proxy).toEqual({ http: false, noProxy: ['a.example', 'b.example'] });
    // The hash of a plan does not depend on how hosts are reached.
    const { configHash } = await import('../../src/pipeline/plan.js');
    expect(configHash(cfg)).toBe(configHash(load(minimal)));
    expect(problem(minimal + 'http: {proxy: {https: "socks5://proxy:1080"}}\n')).toBe('http.proxy.https: socks5:// proxies are not supported (use an http:// or https:// proxy)');
    expect(problem(minimal.replace('    plainHttp: true\n', '    plainHttp: true\n    proxy: "ftp://x"\n'))).toBe('targets[0].proxy: ftp:// proxies are not supported (use an http:// or https:// proxy)');
    expect(problem(minimal + 'http: {proxy: {https: true}}\n')).toMatch(/^http\.proxy\.https: /);
  });

  it('normalises the documented example', () => {
    const c = load(minimal);
    expect(c.sources[0]).toMatchObject({ name: 'example', url: 'https://charts.example.com/sub', passCredentials: false, targets: ['registry', 'disk'] });
    expect(c.sources[0]!.provenance).toEqual({ mode: 'copy', keyring: [] });
    expect(c.targets[0]).toMatchObject({ kind: 'registry', host: '127.0.0.1:5000', basePath: 'mirror', repository: 'mirror/{chart}', plainHttp: true, onConflict: 'fail' });
    expect(c.targets[1]).toMatchObject({ kind: 'layout', layoutDir: '/work/cfg/out/oci', repository: '{chart}' });
    expect(c.stateDir).toBe('/work/cfg/.chartmirror');
    expect(c.concurrency).toBe(16);
  });

  it('turns plain paths into file URLs relative to the config file', () => {
    const c = load(minimal.replace('https://charts.example.com/sub', './repo'));
    expect(c.sources[0]!.url).toBe('file:///work/cfg/repo');
  });

  it('expands ${VAR} and registers secrets for redaction', () => {
    const c = load(minimal.replace('    plainHttp: true', '    plainHttp: true\n    auth: {username: pusher, password: "${REG_PASSWORD}"}'), {
      REG_PASSWORD: 'hunter2-very-secret',
    });
    expect(c.targets[0]!.auth).toEqual({ username: 'pusher', password: 'hunter2-very-secret' });
    expect(redact('failed with hunter2-very-secret')).toBe('failed with ***');
  });

  it('names an unset variable and where it is used', () => {
    expect(problem(minimal.replace('sub', '${REPO_PATH}'))).toBe('sources[0].url: environment variable REPO_PATH is not set');
  });

  it('rejects a target URL without oci:// naming the key path', () => {
    expect(problem(minimal.replace('oci://127.0.0.1:5000/mirror', 'https://127.0.0.1:5000/mirror'))).toBe(
      'targets[0].url: must start with oci://',
    );
    expect(problem(minimal.replace('layout: ./out/oci', 'url: 127.0.0.1:5000/x'))).toBe('targets[1].url: must start with oci://');
  });

  it('suggests the key a typo meant', () => {
    expect(problem(minimal.replace('plainHttp', 'plainHTTP'))).toBe('targets[0].plainHTTP: unknown key (did you mean "plainHttp"?)');
    expect(problem(minimal + 'concurency: 4\n')).toBe('concurency: unknown key (did you mean "concurrency"?)');
  });

  it('reports wrong types with the path', () => {
    expect(problem(minimal.replace('plainHttp: true', 'plainHttp: "yes please"'))).toBe(
      'targets[0].plainHttp: must be true or false, not a string',
    );
    expect(problem(minimal.replace('  - name: disk\n    layout: ./out/oci\n', '') + 'concurrency: many\n')).toBe(
      'concurrency: must be a number, not a string',
    );
  });

  it('rejects duplicates, missing and contradictory settings', () => {
    expect(problem(minimal.replace('name: disk', 'name: registry'))).toBe('targets[1].name: duplicate target name "registry"');
    expect(problem(minimal.replace('    layout: ./out/oci', '    layout: ./out/oci\n    url: oci://h/x'))).toMatch(/^targets\[1\]: give either url/);
    expect(problem('sources: []\ntargets: []\n')).toMatch(/^targets: at least one target is required/);
    expect(problem('sources: []\ntargets: [{name: d, layout: ./x}]\n')).toMatch(/^sources: at least one source is required \(or images\.extra with images\.enabled\)/);
    expect(problem(minimal.replace('https://charts.example.com/sub', 'ftp://x/y'))).toMatch(/^sources\[0\]\.url: unsupported scheme/);
    expect(problem(minimal.replace('/mirror', '/Mirror'))).toMatch(/^targets\[0\]\.url: path component "Mirror"/);
    expect(problem(minimal.replace('/mirror', '/mirror:latest'))).toMatch(/^targets\[0\]\.url: must not contain a tag/);
  });

  it('checks target references from sources', () => {
    expect(problem(minimal.replace('    url: https://charts.example.com/sub', '    url: https://charts.example.com/sub\n    targets: [registy]'))).toBe(
      'sources[0].targets[0]: no target named "registy" (did you mean "registry"?)',
    );
  });

  it('reports invalid YAML with a position', () => {
    expect(problem('sources: [\n')).toMatch(/^\/work\/cfg\/mirror\.config\.yaml:\d+:\d+: invalid YAML/);
  });

  it('defaults provenance to verify when a keyring is given, and demands a keyring for verify', () => {
    const c = load(minimal + 'verify: {keyring: keys/pub.gpg}\n');
    expect(c.sources[0]!.provenance).toEqual({ mode: 'verify', keyring: ['/work/cfg/keys/pub.gpg'] });
    expect(problem(minimal + 'verify: {provenance: require}\n')).toBe('sources[0].verify.keyring: provenance: require needs a keyring');
  });

  it('validates repository templates', () => {
    expect(problem(minimal.replace('    plainHttp: true', '    plainHttp: true\n    repository: "mirror/{name}"'))).toMatch(
      /unknown placeholder \{name\}/,
    );
    const c = load(minimal.replace('    plainHttp: true', '    plainHttp: true\n    repository: "{source}/charts/{chart}"'));
    expect(c.targets[0]!.repository).toBe('{source}/charts/{chart}');
  });
});
