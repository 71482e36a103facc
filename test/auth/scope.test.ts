import { describe, expect, it } from 'vitest';
import { cleanScopes, parseScope, pushScopes, repositoryScope, splitScopeParam } from '../../src/registry/auth/scope.js';

describe('scopes', () => {
  it('builds repository scopes with sorted, deduplicated actions', () => {
    expect(repositoryScope('charts/nginx', ['push', 'pull'])).toBe('repository:charts/nginx:pull,push');
    expect(repositoryScope('charts/nginx', ['pull', 'pull'])).toBe('repository:charts/nginx:pull');
  });

  it('adds pull on the mount source for a push with a mount', () => {
    expect(pushScopes('team/app')).toEqual(['repository:team/app:pull,push']);
    expect(pushScopes('team/app', 'team/base')).toEqual(['repository:team/app:pull,push', 'repository:team/base:pull']);
    expect(pushScopes('team/app', 'team/app')).toEqual(['repository:team/app:pull,push']);
  });

  it('parses names that contain host:port', () => {
    expect(parseScope('repository:reg.example.com:5000/team/app:pull,push')).toEqual({
      type: 'repository',
      name: 'reg.example.com:5000/team/app',
      actions: ['pull', 'push'],
    });
    expect(parseScope('repository(plugin):x:pull')).toEqual({ type: 'repository(plugin)', name: 'x', actions: ['pull'] });
    expect(parseScope('aws')).toBeUndefined();
    expect(parseScope('registry:catalog:*')).toEqual({ type: 'registry', name: 'catalog', actions: ['*'] });
  });

  it('splits a challenge scope parameter on spaces', () => {
    expect(splitScopeParam('repository:a:pull  repository:b:push')).toEqual(['repository:a:pull', 'repository:b:push']);
    expect(splitScopeParam(undefined)).toEqual([]);
  });

  it('merges the union of scopes per resource, sorted, keeping opaque ones', () => {
    expect(
      cleanScopes([
        'repository:b:pull',
        'repository:a:push',
        'repository:a:pull',
        'repository:reg:5000/x:pull',
        'aws',
        'repository:a:pull',
        'repository:c:pull,*',
        '',
      ]),
    ).toEqual(['aws', 'repository:a:pull,push', 'repository:b:pull', 'repository:c:*', 'repository:reg:5000/x:pull']);
  });

  it('gives the same list whatever the input order (the cache key)', () => {
    const a = cleanScopes(['repository:x:push,pull', 'repository:y:pull']);
    const b = cleanScopes(['repository:y:pull', 'repository:x:pull', 'repository:x:push']);
    expect(a).toEqual(b);
  });
});
