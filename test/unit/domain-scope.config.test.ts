import { describe, expect, it } from 'vitest';
import { domainScopeFrom } from '../../src/config/domain-scope';

describe('SNAPLEDGER_DOMAINS', () => {
  it('takes every domain when unset or empty', () => {
    for (const value of [undefined, '', '  ']) {
      const scope = domainScopeFrom(value);
      expect(scope.patterns).toEqual(['*']);
      expect(scope.includes('instance-0000002a')).toBe(true);
      expect(scope.includes('.hidden')).toBe(true);
    }
  });

  it('matches domain names against each comma-separated glob', () => {
    const scope = domainScopeFrom('instance-*, web-?? ,db[0-9]');
    expect(scope.patterns).toEqual(['instance-*', 'web-??', 'db[0-9]']);
    expect(scope.includes('instance-0000002a')).toBe(true);
    expect(scope.includes('web-01')).toBe(true);
    expect(scope.includes('web-001')).toBe(false);
    expect(scope.includes('db7')).toBe(true);
    expect(scope.includes('dbx')).toBe(false);
    expect(scope.includes('my-instance-1')).toBe(false);
  });

  it('refuses empty patterns, paths and spaces at start-up, naming the variable', () => {
    for (const value of ['instance-*,', 'a/b', 'two words', ',']) {
      expect(() => domainScopeFrom(value)).toThrow(/SNAPLEDGER_DOMAINS must be/);
    }
  });
});
