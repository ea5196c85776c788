import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserAccount } from '../../src/auth-store/user-account.entity';
import { newUserProblem, UserExistsError, UserService } from '../../src/api/auth/user.service';
import { createServiceStateDataSource } from '../../src/service-state.data-source';
import { sqliteTarget } from '../../src/database/database-target';

describe('UserService (state.sqlite in memory)', () => {
  let db: DataSource;
  let users: UserService;

  beforeEach(async () => {
    db = createServiceStateDataSource(sqliteTarget(':memory:'));
    await db.initialize();
    users = new UserService(db);
  });
  afterEach(async () => {
    await db.destroy();
  });

  it('creates a user, refuses the name twice, and signs in by name or id', async () => {
    const alice = await users.create({
      name: 'alice',
      password: 'pw-alice',
      projectId: 'proj-a',
      roles: ['member'],
    });
    expect(alice.id).toMatch(/^[0-9a-f]{32}$/);
    await expect(
      users.create({ name: 'alice', password: 'x', projectId: 'p', roles: ['reader'] }),
    ).rejects.toBeInstanceOf(UserExistsError);
    expect(await users.authenticate({ name: 'alice' }, 'pw-alice')).toEqual(alice);
    expect(await users.authenticate({ id: alice.id }, 'pw-alice')).toEqual(alice);
    expect(await users.authenticate({ name: 'alice' }, 'pw-alicE')).toBeNull();
    expect(await users.authenticate({ name: 'nobody' }, 'pw-alice')).toBeNull();
    const row = await db.getRepository(UserAccount).findOneByOrFail({ id: alice.id });
    expect(row.passwordHash).not.toContain('pw-alice');
  });

  it('checks new users: roles, name and password', () => {
    const ok = { name: 'a', password: 'p', projectId: 'p', roles: ['reader'] };
    expect(newUserProblem(ok)).toBeNull();
    expect(newUserProblem({ ...ok, roles: ['owner'] })).toMatch(/unknown role/);
    expect(newUserProblem({ ...ok, roles: [] })).toMatch(/at least one role/);
    expect(newUserProblem({ ...ok, name: ' ' })).toMatch(/user name/);
    expect(newUserProblem({ ...ok, name: 'a\nb' })).toMatch(/user name/);
    expect(newUserProblem({ ...ok, password: '' })).toMatch(/password/);
    expect(newUserProblem({ ...ok, projectId: '' })).toMatch(/project/);
  });
});
