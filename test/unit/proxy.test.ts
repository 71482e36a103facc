/**
 * The proxy decision against Go's own tests (golang.org/x/net/http/httpproxy, proxy_test.go:
 * proxyForURLTests, UseProxyTests, TestFromEnvironment*, TestInvalidNoProxy, TestAllNoProxy),
 * then what chartmirror adds on top (the config's http.proxy, an endpoint's own proxy).
 */
import { describe, expect, it } from 'vitest';
import { NoProxy, ProxyPolicy, parseIP, parseProxyUrl, useProxy } from '../../src/http/proxy.js';
import { knownSecrets } from '../../src/util/secrets.js';

/** Go's Config{HTTPProxy, HTTPSProxy, NoProxy, CGI} as the environment that yields it. */
function policy(cfg: { http?: string; https?: string; noProxy?: string; cgi?: boolean }): ProxyPolicy {
  return ProxyPolicy.fromEnvironment({
    ...(cfg.http ? { HTTP_PROXY: cfg.http } : {}),
    ...(cfg.https ? { HTTPS_PROXY: cfg.https } : {}),
    ...(cfg.noProxy ? { NO_PROXY: cfg.noProxy } : {}),
    ...(cfg.cgi ? { REQUEST_METHOD: 'GET' } : {}),
  });
}

/** What Go's ProxyFunc answers, printed as Go's test prints it: the proxy URL, or <nil>. */
function proxyFor(cfg: Parameters<typeof policy>[0], req = 'http://example.com'): string {
  const route = policy(cfg).route(new URL(req));
  return route.proxy ? route.proxy.url.replace(/\/$/, '') : '<nil>';
}

describe('proxyForURL (Go proxyForURLTests)', () => {
  const cases: Array<[Parameters<typeof policy>[0], string | undefined, string]> = [
    [{ http: '127.0.0.1:8080' }, undefined, 'http://127.0.0.1:8080'],
    [{ http: 'cache.corp.example.com:1234' }, undefined, 'http://cache.corp.example.com:1234'],
    [{ http: 'cache.corp.example.com' }, undefined, 'http://cache.corp.example.com'],
    // A single-label name parses as a scheme; it is a host.
    [{ http: 'localhost' }, undefined, 'http://localhost'],
    [{ http: 'https://cache.corp.example.com' }, undefined, 'https://cache.corp.example.com'],
    [{ http: 'http://127.0.0.1:8080' }, undefined, 'http://127.0.0.1:8080'],
    [{ http: 'https://127.0.0.1:8080' }, undefined, 'https://127.0.0.1:8080'],
    // Don't use the https proxy for http, and the reverse.
    [{ http: 'http.proxy.tld', https: 'secure.proxy.tld' }, 'http://insecure.tld/', 'http://http.proxy.tld'],
    [{ http: 'http.proxy.tld', https: 'secure.proxy.tld' }, 'https://secure.tld/', 'http://secure.proxy.tld'],
    [{ http: 'http.proxy.tld', https: 'https://secure.proxy.tld' }, 'https://secure.tld/', 'https://secure.proxy.tld'],
    [{ http: 'http.proxy.tld' }, 'https://secure.tld/', '<nil>'],
    [{ http: 'http.proxy.tld' }, 'ftp://insecure.tld/', '<nil>'],
    // The HTTPS proxy is still used in a CGI environment.
    [{ https: 'https://secure.proxy.tld', cgi: true }, 'https://secure.tld/', 'https://secure.proxy.tld'],
    [{}, undefined, '<nil>'],
    [{ noProxy: 'example.com', http: 'proxy' }, 'http://example.com/', '<nil>'],
    [{ noProxy: '.example.com', http: 'proxy' }, 'http://example.com/', 'http://proxy'],
    [{ noProxy: 'ample.com', http: 'proxy' }, 'http://example.com/', 'http://proxy'],
    [{ noProxy: 'example.com', http: 'proxy' }, 'http://foo.example.com/', '<nil>'],
    [{ noProxy: '.foo.com', http: 'proxy' }, 'http://example.com/', 'http://proxy'],
    [{ noProxy: '.示例.com', http: 'proxy' }, 'http://www.示例.com', '<nil>'],
    [{ noProxy: 'xn--fsq092h.com', http: 'proxy' }, 'http://www.示例.com', '<nil>'],
    [{ noProxy: '示例.com', http: 'proxy' }, 'http://www.xn--fsq092h.com', '<nil>'],
    // Go's last case (http://[1000::%25.example.com]:123, a zone that looks like a domain) is
    // not a URL a WHATWG parser accepts: no request can carry it.
  ];
  for (const [cfg, req, want] of cases) {
    it(`${JSON.stringify(cfg)} ${req ?? 'http://example.com'} -> ${want}`, () => {
      expect(proxyFor(cfg, req)).toBe(want);
    });
  }

  it('refuses HTTP_PROXY in a CGI environment (httpoxy), as Go does', () => {
    expect(() => proxyFor({ http: 'http://10.1.2.3:8080', cgi: true })).toThrow(/refusing to use HTTP_PROXY in a CGI environment/);
  });

  it('proxies of other schemes (Go keeps socks5:// and foo://) are refused with a clear message', () => {
    expect(() => proxyFor({ http: 'socks5://127.0.0.1' })).toThrow(/^HTTP_PROXY: socks5:\/\/127\.0\.0\.1\/?: socks5:\/\/ proxies are not supported/);
    expect(() => proxyFor({ http: 'foo://host' })).toThrow(/foo:\/\/ proxies are not supported/);
    expect(parseProxyUrl('foo://host')).toEqual({ problem: 'foo:// proxies are not supported (use an http:// or https:// proxy)' });
  });
});

describe('FromEnvironment', () => {
  it('reads the upper-case names first', () => {
    const p = ProxyPolicy.fromEnvironment({ HTTP_PROXY: 'httpproxy', http_proxy: 'lower', HTTPS_PROXY: 'httpsproxy', https_proxy: 'lower', NO_PROXY: 'noproxy', no_proxy: 'example.com' });
    expect(p.route(new URL('http://example.com/')).proxy?.url).toBe('http://httpproxy/');
    expect(p.route(new URL('https://example.com/')).proxy?.from).toBe('HTTPS_PROXY');
    // NO_PROXY (upper case) is "noproxy", so example.com is proxied.
    expect(p.route(new URL('https://example.com/')).proxy).toBeDefined();
    expect(p.route(new URL('https://noproxy/')).reason).toBe('NO_PROXY');
  });

  it('reads the lower-case names when the upper-case ones are unset or empty', () => {
    const p = ProxyPolicy.fromEnvironment({ HTTP_PROXY: '', http_proxy: 'httpproxy', https_proxy: 'httpsproxy', no_proxy: 'noproxy' });
    expect(p.route(new URL('http://example.com/')).proxy).toMatchObject({ url: 'http://httpproxy/', from: 'http_proxy' });
    expect(p.route(new URL('https://example.com/')).proxy).toMatchObject({ url: 'http://httpsproxy/', from: 'https_proxy' });
    expect(p.route(new URL('https://noproxy/')).reason).toBe('no_proxy');
  });
});

describe('useProxy (Go UseProxyTests)', () => {
  const noProxy =
    'foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64';
  const cases: Array<[string, boolean]> = [
    // Never proxy localhost:
    ['localhost', false],
    ['127.0.0.1', false],
    ['127.0.0.2', false],
    ['[::1]', false],
    ['[::2]', true], // not a loopback address
    ['192.168.1.1', false], // matches exact IPv4
    ['192.168.1.2', true], // ports do not match
    ['192.168.1.3', false], // matches exact IPv4:port
    ['192.168.1.4', true], // no match
    ['10.0.0.2', false], // matches IPv4/CIDR
    ['[2001:db8::52:0:1]', false], // matches exact IPv6
    ['[2001:db8::52:0:2]', true], // no match
    ['[2001:db8::52:0:3]', false], // matches exact [IPv6]:port
    ['[2002:db8:a::123]', false], // matches IPv6/CIDR
    ['[fe80::424b:c8be:1643:a1b6]', true], // no match
    ['barbaz.net', true], // does not match as .barbaz.net
    ['www.barbaz.net', false], // does match as .barbaz.net
    ['foobar.com', false], // does match as foobar.com
    ['www.foobar.com', false], // match because NO_PROXY includes "foobar.com"
    ['foofoobar.com', true], // not match as a part of foobar.com
    ['baz.com', true], // not match as a part of barbaz.com
    ['localhost.net', true], // not match as suffix of address
    ['local.localhost', true], // not match as prefix as address
    ['barbarbaz.net', true], // not match, wrong domain
    ['wildcard.io', true], // does not match as *.wildcard.io
    ['nested.wildcard.io', false], // match as *.wildcard.io
    ['awildcard.io', true], // not a match because of '*'
  ];
  for (const [host, match] of cases) {
    it(`${host}:80 ${match ? 'uses' : 'does not use'} the proxy`, () => {
      expect(useProxy(noProxy, host, '80')).toBe(match);
    });
  }

  it('an invalid entry (":1") is ignored, without failing', () => {
    expect(useProxy(':1', 'example.com', '80')).toBe(true);
  });

  it('"*" exempts every host', () => {
    for (const [host] of cases) expect(useProxy('*', host, '80'), host).toBe(false);
  });
});

describe('NO_PROXY details', () => {
  it('ports, case, spaces, IPv4-mapped addresses and the loopback range', () => {
    expect(useProxy(' Example.COM:8080 ', 'example.com', '8080')).toBe(false);
    expect(useProxy('example.com:8080', 'example.com', '443')).toBe(true);
    expect(useProxy('10.0.0.0/8', '::ffff:10.1.2.3', '443')).toBe(false);
    expect(useProxy('', '127.255.0.1', '443')).toBe(false);
    expect(useProxy('', '::ffff:127.0.0.1', '443')).toBe(false);
    // A domain entry never matches an IP, nor an IP entry a name (no DNS).
    expect(useProxy('1.2.3', '4.1.2.3', '80')).toBe(true);
    expect(useProxy('127.0.0.2', 'charts.chartmirror.test', '80')).toBe(true);
  });

  it('parses IPs as Go does: no leading zeros, no zones', () => {
    expect(parseIP('010.0.0.1')).toBeUndefined();
    expect(parseIP('fe80::1%eth0')).toBeUndefined();
    expect(parseIP('::ffff:1.2.3.4')).toEqual(parseIP('1.2.3.4'));
    expect(parseIP('1::2::3')).toBeUndefined();
    expect(new NoProxy('fe80::1%eth0').matches('fe80::1', '80')).toBe(false);
  });
});

describe('config and endpoint overrides', () => {
  it('http.proxy replaces the environment key by key', () => {
    const env = { HTTPS_PROXY: 'http://env-proxy:3128', HTTP_PROXY: 'http://env-http:3128', NO_PROXY: 'internal.example' };
    const p = ProxyPolicy.fromEnvironment(env, { https: 'http://cfg-proxy:8080', noProxy: ['.corp.example', '10.0.0.0/8'] });
    expect(p.route(new URL('https://registry.example/')).proxy).toMatchObject({ url: 'http://cfg-proxy:8080/', from: 'http.proxy.https' });
    expect(p.route(new URL('http://charts.example/')).proxy).toMatchObject({ from: 'HTTP_PROXY' });
    expect(p.route(new URL('https://internal.example/')).proxy).toBeDefined();
    expect(p.route(new URL('https://git.corp.example/')).reason).toBe('http.proxy.noProxy');
    expect(p.route(new URL('https://10.2.3.4/')).reason).toBe('http.proxy.noProxy');
    const off = ProxyPolicy.fromEnvironment(env, { https: false });
    expect(off.route(new URL('https://registry.example/'))).toEqual({ reason: 'http.proxy.https: false' });
  });

  it("an endpoint's own proxy applies to all of its requests; false sends them direct", () => {
    const p = ProxyPolicy.fromEnvironment({ HTTPS_PROXY: 'http://env-proxy:3128', NO_PROXY: 'registry.example' });
    expect(p.route(new URL('https://registry.example/'), { url: 'http://own:1', from: 'targets.reg.proxy' }).proxy).toMatchObject({ url: 'http://own:1/', from: 'targets.reg.proxy' });
    expect(p.route(new URL('https://127.0.0.1/'), { url: 'http://own:1', from: 'targets.reg.proxy' }).proxy).toBeDefined();
    expect(p.route(new URL('https://other.example/'), { url: false, from: 'targets.reg.proxy' })).toEqual({ reason: 'targets.reg.proxy: false' });
  });

  it('says why a request goes direct', () => {
    const p = policy({ https: 'proxy:3128', noProxy: '.internal' });
    expect(p.route(new URL('https://localhost:5000/')).reason).toBe('localhost');
    expect(p.route(new URL('https://127.0.0.2/')).reason).toBe('loopback');
    expect(p.route(new URL('https://a.internal/')).reason).toBe('NO_PROXY');
    expect(p.route(new URL('http://a.example/')).reason).toBe('no proxy for http');
    expect(policy({}).configured).toBe(false);
    expect(p.configured).toBe(true);
  });

  it("registers a proxy URL's password, its Basic form included, as a secret", () => {
    const p = policy({ https: 'http://alice:pr%40xy-Secret-91@proxy:3128' });
    const route = p.route(new URL('https://registry.example/'));
    const basic = Buffer.from('alice:pr@xy-Secret-91').toString('base64');
    // The credentials leave the URL and become the Proxy-Authorization value.
    expect(route.proxy).toEqual({ url: 'http://proxy:3128/', display: 'http://proxy:3128', from: 'HTTPS_PROXY', hasCredentials: true, authorization: `Basic ${basic}` });
    const secrets = knownSecrets();
    expect(secrets).toContain('pr@xy-Secret-91');
    expect(secrets).toContain(basic);
  });

  it('a user alone (a token as the user name) is sent as Go sends it, user:, and is a secret', () => {
    const route = policy({ https: 'http://tok-4711-abcdef@proxy:3128' }).route(new URL('https://registry.example/'));
    expect(route.proxy?.authorization).toBe(`Basic ${Buffer.from('tok-4711-abcdef:').toString('base64')}`);
    expect(knownSecrets()).toContain('tok-4711-abcdef');
  });
});
