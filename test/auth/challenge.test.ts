import { describe, expect, it } from 'vitest';
import { parseWWWAuthenticate } from '../../src/registry/auth/challenge.js';

describe('parseWWWAuthenticate', () => {
  it('parses a distribution Bearer challenge', () => {
    const got = parseWWWAuthenticate(
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:charts/nginx:pull,push"',
    );
    expect(got).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.example.com/token',
          service: 'registry.example.com',
          scope: 'repository:charts/nginx:pull,push',
        },
      },
    ]);
  });

  it('lowercases the scheme and parameter names, not the values', () => {
    const [c] = parseWWWAuthenticate('BEARER Realm="https://A.example/Token", SERVICE=Reg');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'https://A.example/Token', service: 'Reg' } });
  });

  it('keeps commas, spaces and escaped quotes inside quoted strings', () => {
    const [c] = parseWWWAuthenticate(
      'Bearer realm="https://a.example/token?x=1,y=2", error="insufficient_scope", error_description="say \\"hi\\", then \\\\ go"',
    );
    expect(c!.params).toEqual({
      realm: 'https://a.example/token?x=1,y=2',
      error: 'insufficient_scope',
      error_description: 'say "hi", then \\ go',
    });
  });

  it('accepts token values and optional whitespace around "="', () => {
    const [c] = parseWWWAuthenticate('Bearer realm = "https://a/t" ,\tservice=reg.example.com');
    expect(c!.params).toEqual({ realm: 'https://a/t', service: 'reg.example.com' });
  });

  it('splits several challenges in one header', () => {
    const got = parseWWWAuthenticate('Basic realm="Registry Realm", Bearer realm="https://a/token",service="svc", Negotiate');
    expect(got.map((c) => c.scheme)).toEqual(['basic', 'bearer', 'negotiate']);
    expect(got[0]!.params).toEqual({ realm: 'Registry Realm' });
    expect(got[1]!.params).toEqual({ realm: 'https://a/token', service: 'svc' });
    expect(got[2]!.params).toEqual({});
  });

  it('accepts several headers as an array', () => {
    const got = parseWWWAuthenticate(['Basic realm="x"', 'Bearer realm="https://a/t"']);
    expect(got.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  });

  it('keeps several space-separated scopes, with host:port resource names, as one value', () => {
    const [c] = parseWWWAuthenticate(
      'Bearer realm="https://a/t",scope="repository:reg.example.com:5000/team/app:pull repository:team/base:pull,push"',
    );
    expect(c!.params.scope).toBe('repository:reg.example.com:5000/team/app:pull repository:team/base:pull,push');
  });

  it('parses a bare Basic and a Basic with ECR-style parameters', () => {
    expect(parseWWWAuthenticate('Basic')).toEqual([{ scheme: 'basic', params: {} }]);
    expect(parseWWWAuthenticate('basic realm="https://1.dkr.ecr.eu-west-1.amazonaws.com/",service="ecr.amazonaws.com"')).toEqual([
      { scheme: 'basic', params: { realm: 'https://1.dkr.ecr.eu-west-1.amazonaws.com/', service: 'ecr.amazonaws.com' } },
    ]);
  });

  it('skips token68 credentials and continues with the next challenge', () => {
    const got = parseWWWAuthenticate('Negotiate YWJjZA==, Bearer realm="https://a/t"');
    expect(got).toEqual([
      { scheme: 'negotiate', params: {} },
      { scheme: 'bearer', params: { realm: 'https://a/t' } },
    ]);
  });

  it('keeps the first of duplicated parameters', () => {
    const [c] = parseWWWAuthenticate('Bearer realm="https://first/t", realm="https://second/t"');
    expect(c!.params.realm).toBe('https://first/t');
  });

  it('survives malformed input without throwing', () => {
    expect(parseWWWAuthenticate('')).toEqual([]);
    expect(parseWWWAuthenticate(undefined)).toEqual([]);
    expect(parseWWWAuthenticate(', ,')).toEqual([]);
    expect(parseWWWAuthenticate('Bearer realm="https://a/t')).toEqual([{ scheme: 'bearer', params: { realm: 'https://a/t' } }]);
    expect(parseWWWAuthenticate('Bearer realm="https://a/t" junk, service="s"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://a/t', service: 's' } },
    ]);
    expect(parseWWWAuthenticate('"oops", Basic realm="r"')).toEqual([{ scheme: 'basic', params: { realm: 'r' } }]);
  });
});
