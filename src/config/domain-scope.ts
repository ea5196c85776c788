import picomatch from 'picomatch';

/**
 * Which libvirt domains snapledger treats as instances (SNAPLEDGER_DOMAINS): a
 * comma-separated list of glob patterns over domain names, `*` (every domain) by default.
 * Nova itself only looks at the domains it named `instance-*`; an operator who shares a host
 * with other tools can narrow snapledger the same way. A domain outside the scope is never
 * registered, and an instance whose domain has left the scope is left as it was (not
 * deleted).
 */
export interface DomainScope {
  readonly patterns: readonly string[];
  includes(domainName: string): boolean;
}

const PATTERN = /^[A-Za-z0-9._+*?![\]-]+$/;

export function domainScopeFrom(value: string | undefined): DomainScope {
  const given = value?.trim() ?? '';
  const patterns = given === '' ? ['*'] : given.split(',').map((p) => p.trim());
  const bad = patterns.find((p) => !PATTERN.test(p));
  if (bad !== undefined) {
    throw new Error(
      `SNAPLEDGER_DOMAINS must be comma-separated glob patterns of domain names (letters, digits, . _ + - and * ? [ ] !), got "${value}"`,
    );
  }
  const matchers = patterns.map((p) => picomatch(p, { dot: true }));
  return { patterns, includes: (name) => matchers.some((matches) => matches(name)) };
}
