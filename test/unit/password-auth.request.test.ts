import { describe, expect, it } from 'vitest';
import { parsePasswordAuth, projectIdOf } from '../../src/api/identity/password-auth.request';

const body = (user: object, scope?: unknown, methods: unknown = ['password']) => ({
  auth: {
    identity: { methods, password: { user } },
    ...(scope === undefined ? {} : { scope }),
  },
});

describe('Keystone password auth request parsing', () => {
  it('takes the user by name and domain name, scoped to a project by name and domain', () => {
    const parsed = parsePasswordAuth(
      body(
        { name: 'alice', domain: { name: 'Default' }, password: 'pw' },
        { project: { name: 'proj-a', domain: { id: 'default' } } },
      ),
    );
    expect(parsed).toEqual({
      ok: true,
      request: { user: { name: 'alice' }, password: 'pw', scope: { projectName: 'proj-a' } },
    });
    if (parsed.ok && parsed.request.scope) expect(projectIdOf(parsed.request.scope)).toBe('proj-a');
  });

  it('takes the user by id and the project by id; no scope means the default project', () => {
    expect(
      parsePasswordAuth(body({ id: 'u1', password: 'pw' }, { project: { id: 'p1' } })),
    ).toEqual({
      ok: true,
      request: { user: { id: 'u1' }, password: 'pw', scope: { projectId: 'p1' } },
    });
    const unscoped = parsePasswordAuth(body({ id: 'u1', password: 'pw' }));
    expect(unscoped.ok && unscoped.request.scope).toBeNull();
  });

  it('answers 400 for malformed bodies', () => {
    for (const bad of [
      null,
      'auth',
      {},
      { auth: {} },
      { auth: { identity: { methods: 'password' } } },
      body({ name: 'alice', password: 'pw' }), // a name needs a domain
      body({ domain: { id: 'default' }, password: 'pw' }), // neither id nor name
      body({ name: 'alice', domain: { id: 'default' } }), // no password
      body({ name: 'alice', domain: { id: 'default' }, password: 7 }),
      body({ id: 'u1', password: 'pw' }, { project: { name: 'p' } }), // project name, no domain
      body({ id: 'u1', password: 'pw' }, { project: {} }),
      body({ id: 'u1', password: 'pw' }, 'everything'),
    ]) {
      const parsed = parsePasswordAuth(bad);
      expect(parsed.ok ? 200 : parsed.status, JSON.stringify(bad)).toBe(400);
    }
  });

  it('answers 401 for other methods, other domains and non-project scopes', () => {
    for (const denied of [
      body({ id: 'u1', password: 'pw' }, undefined, ['token']),
      body({ id: 'u1', password: 'pw' }, undefined, ['password', 'totp']),
      body({ name: 'alice', domain: { name: 'Other' }, password: 'pw' }),
      body({ id: 'u1', password: 'pw' }, { project: { name: 'p', domain: { id: 'other' } } }),
      body({ id: 'u1', password: 'pw' }, { system: { all: true } }),
      body({ id: 'u1', password: 'pw' }, { domain: { id: 'default' } }),
    ]) {
      const parsed = parsePasswordAuth(denied);
      expect(parsed.ok ? 200 : parsed.status, JSON.stringify(denied)).toBe(401);
    }
  });
});
