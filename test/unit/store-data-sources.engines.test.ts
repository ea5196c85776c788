import type { DataSource } from 'typeorm';
import { afterEach, describe, expect, it } from 'vitest';
import { UserExistsError, UserService } from '../../src/api/auth/user.service';
import { TokenService } from '../../src/api/auth/token.service';
import type { DatabaseTarget } from '../../src/database/database-target';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import { BackupRotationRecord } from '../../src/sagas/backup-rotation.entity';
import { createBackupRotationDataSource } from '../../src/sagas/backup-rotation.saga';
import { SagaCheckpoint, SnapshotProcessRecord } from '../../src/sagas/snapshot-process.entity';
import { createServiceStateDataSource } from '../../src/service-state.data-source';
import { DATABASE_ENGINES, useDatabaseTargets } from '../support/database-targets';

/** Beyond PostgreSQL's 32-bit integer; SQLite's integer holds it. */
const FAR_POSITION = 2 ** 40 + 7;

/**
 * The service state and the backup-rotation saga's store on each engine. On PostgreSQL both
 * live in one database (a schema each), as the views do.
 */
describe.each(DATABASE_ENGINES)('the service state stores on %s', (engine) => {
  const freshDatabase = useDatabaseTargets(engine);
  const open: DataSource[] = [];

  /** SQLite keeps a file per store; PostgreSQL shares the database. */
  const storeTarget = (shared: DatabaseTarget, file: string): DatabaseTarget =>
    shared.engine === 'sqlite' ? { engine: 'sqlite', path: `${shared.path}.${file}` } : shared;

  async function stores(shared: DatabaseTarget) {
    const state = createServiceStateDataSource(storeTarget(shared, 'state'));
    const rotation = createBackupRotationDataSource(storeTarget(shared, 'rotation'));
    open.push(state, rotation);
    // at once, as two services starting together would
    await Promise.all([state.initialize(), rotation.initialize()]);
    return { state, rotation };
  }

  afterEach(async () => {
    for (const db of open.splice(0)) if (db.isInitialized) await db.destroy();
  });

  it('keeps each store apart, with 64-bit positions, and keeps rows when opened again', async () => {
    const shared = await freshDatabase('stores');
    const first = await stores(shared);
    await first.state.getRepository(SagaCheckpoint).save({ name: 'cp', position: FAR_POSITION });
    await first.rotation.getRepository(SagaCheckpoint).save({ name: 'cp', position: 3 });
    await first.state.getRepository(SnapshotProcessRecord).save({
      imageId: 'img-1',
      instanceId: 'vm-1',
      status: 'running',
      position: FAR_POSITION,
      host: 'host-b',
    });
    const backup = {
      imageId: 'img-2',
      projectId: 'p',
      instanceUuid: 'vm-1',
      backupType: 'daily',
      reservedAt: FAR_POSITION,
      status: 'reserved' as const,
      rotation: 2,
      actor: { userId: 'u', projectId: 'p', roles: ['member'] },
      requestId: 'req-1',
      correlationId: 'req-1',
    };
    const rotations = first.rotation.getRepository(BackupRotationRecord);
    await rotations.upsert(backup, ['imageId']);
    await rotations.upsert({ ...backup, status: 'active' }, ['imageId']);
    const token = await new TokenService(first.state).issue({
      userId: 'u',
      projectId: 'p',
      roles: ['admin'],
    });
    await Promise.all(open.splice(0).map((db) => db.destroy()));

    const again = await stores(shared);
    expect(await again.state.getRepository(SagaCheckpoint).find()).toEqual([
      { name: 'cp', position: FAR_POSITION },
    ]);
    expect(await again.rotation.getRepository(SagaCheckpoint).find()).toEqual([
      { name: 'cp', position: 3 },
    ]);
    expect(await again.state.getRepository(SnapshotProcessRecord).find()).toEqual([
      {
        imageId: 'img-1',
        instanceId: 'vm-1',
        status: 'running',
        position: FAR_POSITION,
        host: 'host-b',
      },
    ]);
    expect(await again.rotation.getRepository(BackupRotationRecord).find()).toEqual([
      { ...backup, status: 'active' },
    ]);
    expect(await new TokenService(again.state).verify(token.token)).toEqual(token.actor);
  });

  it('finds nothing to change in a schema it made (no column is dropped and made again)', async () => {
    const shared = await freshDatabase('schema');
    const all = [...Object.values(await stores(shared))];
    const views = createViewsDataSource(storeTarget(shared, 'views'));
    open.push(views);
    await views.initialize();
    all.push(views);
    for (const db of all) {
      const pending = await db.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
    }
  });

  it('refuses a user name taken by a concurrent create', async () => {
    const { state } = await stores(await freshDatabase('users'));
    const users = new UserService(state);
    const user = { name: 'alice', password: 'pw', projectId: 'p', roles: ['member'] };
    const results = await Promise.allSettled([users.create(user), users.create(user)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(UserExistsError);
  });
});
