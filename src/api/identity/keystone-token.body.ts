import { createHash } from 'node:crypto';
import { DEFAULT_DOMAIN } from './password-auth.request';
import { serviceCatalog } from './service-catalog';

/** Keystone's default roles imply each other: admin → member → reader. */
const IMPLIED: Readonly<Record<string, readonly string[]>> = {
  admin: ['member', 'reader'],
  member: ['reader'],
};

/** The roles a token carries for assigned roles, implied ones included, in a stable order. */
export function effectiveRoles(assigned: readonly string[]): string[] {
  const all = new Set<string>();
  for (const role of assigned) {
    all.add(role);
    for (const implied of IMPLIED[role] ?? []) all.add(implied);
  }
  return ['admin', 'member', 'reader']
    .filter((r) => all.has(r))
    .concat([...all].filter((r) => !['admin', 'member', 'reader'].includes(r)).sort());
}

/** A role's id: stable, derived from its name. */
export const roleId = (name: string) =>
  createHash('sha256').update(`role\0${name}`).digest('hex').slice(0, 32);

/**
 * A token's audit id (22 characters of URL-safe base64, like Keystone's): derived from the
 * token with a domain-separated hash, so it identifies the token in logs without revealing it.
 */
export const auditIdOf = (token: string) =>
  createHash('sha256').update(`audit\0${token}`).digest('base64url').slice(0, 22);

/** Keystone writes times with microseconds: 2026-01-02T03:04:05.000000Z. */
export const keystoneTime = (iso: string) =>
  new Date(iso).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** Keystone has no "never expires"; clients need a time, so the last one there is. */
const NEVER = '9999-12-31T23:59:59.000000Z';

export interface TokenFacts {
  readonly token: string;
  readonly user: { readonly id: string; readonly name: string };
  readonly projectId: string;
  readonly roles: readonly string[];
  readonly issuedAt: string;
  /** null: a token made by `snapledger token create` without --ttl, which never expires. */
  readonly expiresAt: string | null;
  readonly publicUrl: string;
}

/** The body of `POST /identity/v3/auth/tokens` (201) and of its validation (200). */
export function keystoneTokenBody(facts: TokenFacts) {
  const domain = { id: DEFAULT_DOMAIN.id, name: DEFAULT_DOMAIN.name };
  return {
    token: {
      methods: ['password'],
      user: { id: facts.user.id, name: facts.user.name, domain, password_expires_at: null },
      audit_ids: [auditIdOf(facts.token)],
      expires_at: facts.expiresAt ? keystoneTime(facts.expiresAt) : NEVER,
      issued_at: keystoneTime(facts.issuedAt),
      project: { id: facts.projectId, name: facts.projectId, domain },
      is_domain: false,
      roles: facts.roles.map((name) => ({ id: roleId(name), name })),
      catalog: serviceCatalog(facts.publicUrl),
    },
  };
}
