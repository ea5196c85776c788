import { describe, expect, it } from 'vitest';
import {
  identityVersion,
  identityVersions,
} from '../../src/api/identity/identity-version.document';
import {
  auditIdOf,
  effectiveRoles,
  keystoneTime,
  keystoneTokenBody,
} from '../../src/api/identity/keystone-token.body';
import { serviceCatalog } from '../../src/api/identity/service-catalog';
import { identityTokenTtlFrom } from '../../src/api/identity/identity-token-ttl.config';

const BASE = 'http://cloud.example:8774';

describe('Keystone token body and catalog', () => {
  it('builds the token body keystoneauth reads', () => {
    const { token } = keystoneTokenBody({
      token: 'secret-token',
      user: { id: 'u1', name: 'alice' },
      projectId: 'proj-a',
      roles: ['member', 'reader'],
      issuedAt: '2026-01-02T03:04:05.678Z',
      expiresAt: '2026-01-02T15:04:05.678Z',
      publicUrl: BASE,
    });
    expect(token.methods).toEqual(['password']);
    expect(token.expires_at).toBe('2026-01-02T15:04:05.678000Z');
    expect(token.issued_at).toBe('2026-01-02T03:04:05.678000Z');
    expect(token.user).toMatchObject({ id: 'u1', name: 'alice', domain: { id: 'default' } });
    expect(token.project).toEqual({
      id: 'proj-a',
      name: 'proj-a',
      domain: { id: 'default', name: 'Default' },
    });
    expect(token.roles.map((r) => r.name)).toEqual(['member', 'reader']);
    expect(new Set(token.roles.map((r) => r.id)).size).toBe(2);
    expect(token.audit_ids).toEqual([auditIdOf('secret-token')]);
    expect(JSON.stringify(token)).not.toContain('secret-token');
  });

  it('says when a token never expires with the last representable time', () => {
    const { token } = keystoneTokenBody({
      token: 't',
      user: { id: 'admin', name: 'admin' },
      projectId: 'p',
      roles: ['admin'],
      issuedAt: '2026-01-02T03:04:05.000Z',
      expiresAt: null,
      publicUrl: BASE,
    });
    expect(token.expires_at).toBe('9999-12-31T23:59:59.000000Z');
  });

  it('lists compute, image and identity with public, internal and admin endpoints', () => {
    const catalog = serviceCatalog(BASE);
    const urls = Object.fromEntries(catalog.map((s) => [s.type, s.endpoints[0]!.url]));
    expect(urls).toEqual({
      compute: `${BASE}/v2.1`,
      image: `${BASE}/image`,
      identity: `${BASE}/identity/v3`,
    });
    expect(catalog.find((s) => s.type === 'compute')?.name).toBe('nova');
    for (const service of catalog) {
      expect(service.endpoints.map((e) => e.interface)).toEqual(['public', 'internal', 'admin']);
      for (const e of service.endpoints)
        expect(e).toMatchObject({ region: 'RegionOne', region_id: 'RegionOne' });
    }
    // Stable ids: the same catalog on every token.
    expect(serviceCatalog(BASE)).toEqual(catalog);
  });

  it('expands implied roles: admin → member → reader', () => {
    expect(effectiveRoles(['admin'])).toEqual(['admin', 'member', 'reader']);
    expect(effectiveRoles(['member'])).toEqual(['member', 'reader']);
    expect(effectiveRoles(['reader'])).toEqual(['reader']);
  });

  it('formats times with microseconds and audit ids as 22 URL-safe characters', () => {
    expect(keystoneTime('2026-05-06T07:08:09.010Z')).toBe('2026-05-06T07:08:09.010000Z');
    expect(auditIdOf('a')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(auditIdOf('a')).not.toBe(auditIdOf('b'));
  });

  it('serves the v3 version document and the version list', () => {
    expect(identityVersion(BASE)).toMatchObject({
      id: 'v3.14',
      status: 'stable',
      links: [{ rel: 'self', href: `${BASE}/identity/v3/` }],
    });
    expect(identityVersions(BASE).versions.values).toHaveLength(1);
  });

  it('reads the token lifetime: 12 h by default, refuses nonsense', () => {
    expect(identityTokenTtlFrom({})).toBe(43_200);
    expect(identityTokenTtlFrom({ SNAPLEDGER_IDENTITY_TOKEN_TTL: '3600' })).toBe(3600);
    expect(() => identityTokenTtlFrom({ SNAPLEDGER_IDENTITY_TOKEN_TTL: '5' })).toThrow();
    expect(() => identityTokenTtlFrom({ SNAPLEDGER_IDENTITY_TOKEN_TTL: 'soon' })).toThrow();
  });
});
