import { describe, expect, it } from 'vitest';
import { isLenientSemver, isStrictSemver } from '../../src/helmcompat/semver.js';

describe('isLenientSemver (Masterminds NewVersion, what Helm validates chart versions with)', () => {
  it.each(['1.2.3', 'v1.2.3', '1', '1.2', 'v1', '01.02.03', '1.2.3-alpha.1', '1.2.3-0.beta', '1.2.3+build.5', '1.2.3-rc.1+meta-x', '0.0.0', '18446744073709551615.0.0', '1.2.3-a-b--c'])(
    'accepts %s',
    (v) => {
      expect(isLenientSemver(v)).toBe(true);
    },
  );

  it.each([
    '',
    'V1.2.3', // only a lower-case v
    '1.2.3.4',
    '1.2.3-01', // numeric prerelease with a leading zero
    '1.2.3-beta.01',
    '18446744073709551616.0.0', // uint64 overflow
    '1.18446744073709551616',
    '1.2.3-',
    '1.2.3+',
    '1.2.3+a..b',
    '1.2.3-a..b',
    'x.y',
    ' 1.2.3',
    '1.2.3\n',
    '1.2.3_4',
  ])('rejects %j', (v) => {
    expect(isLenientSemver(v)).toBe(false);
  });
});

describe('isStrictSemver (Masterminds StrictNewVersion)', () => {
  it.each(['1.2.3', '0.0.0', '1.2.3-alpha.1', '1.2.3+build', '1.2.3-0.beta+x.y'])('accepts %s', (v) => {
    expect(isStrictSemver(v)).toBe(true);
  });

  it.each(['v1.2.3', '1', '1.2', '01.2.3', '1.02.3', '1.2.03', '1.2.3-01', '1.2.3+a..b', '1.2.3-', '', '1.2.x', '18446744073709551616.0.0'])('rejects %j', (v) => {
    expect(isStrictSemver(v)).toBe(false);
  });
});
