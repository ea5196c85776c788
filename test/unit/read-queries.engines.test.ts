import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionsByInstanceLoader } from '../../src/api/graphql/loaders/actions-by-instance.loader';
import { auditByInstanceLoader } from '../../src/api/graphql/loaders/audit-by-instance.loader';
import { snapshotsByInstanceLoader } from '../../src/api/graphql/loaders/snapshots-by-instance.loader';
import { ReadModels } from '../../src/api/read-models.service';
import { SnapshotStatsReader } from '../../src/api/metrics/snapshot-stats';
import { auditCursorPosition, listAuditLog } from '../../src/api/queries/audit-log.query';
import { listFlavorSizes } from '../../src/api/queries/flavor-list.query';
import {
  listImages,
  type ImageListFilter,
  type ImageSort,
} from '../../src/api/queries/image-list.query';
import {
  loadInstanceActions,
  listInstanceActions,
} from '../../src/api/queries/instance-actions.query';
import { listInstances, type InstanceListFilter } from '../../src/api/queries/instance-list.query';
import {
  listSnapshotHistory,
  snapshotCursorKey,
  type SnapshotHistoryFilter,
} from '../../src/api/queries/snapshot-history.query';
import { postgresTarget, sqliteTarget } from '../../src/database/database-target';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import type { Actor } from '../../src/events';
import { ImageView } from '../../src/projections/entities/image-view.entity';
import { InstanceView } from '../../src/projections/entities/instance-view.entity';
import { createViewProjections, ProjectionRunner } from '../../src/projections/projection-runner';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { copiedLog, parseLogLine, recordedLogLines } from '../support/replayed-log';

/**
 * The read side's queries answer the same on SQLite and PostgreSQL for the same log: the
 * recorded log plus copies of it whose rows tie with it on every time and whose names differ
 * in case, punctuation and accents. The PostgreSQL database's own collation is ICU en-US
 * (which orders 'a' before 'B' and skips punctuation), so only the views' own column
 * collation can make its order SQLite's.
 */
const WEB_PROJECT = '8e5a1c3f2b7d4c6e9a0b1c2d3e4f5a6b';
const DB_PROJECT = '2d7f9b1a4c6e48f0a3b5c7d9e1f20314';
const ADMIN: Actor = { userId: 'root', projectId: 'p-admin', roles: ['admin', 'member'] };
const WEB: Actor = { userId: 'u-web', projectId: WEB_PROJECT, roles: ['member', 'reader'] };
const DB: Actor = { userId: 'u-db', projectId: DB_PROJECT, roles: ['reader'] };
const ACTORS = { admin: ADMIN, web: WEB, db: DB };

type Engines = { sqlite: DataSource; postgres: DataSource };
type Ask = (db: DataSource) => Promise<unknown>;

async function allImagePages(db: DataSource, actor: Actor, sort: ImageSort[], limit: number) {
  const pages: string[][] = [];
  let marker: string | undefined;
  do {
    const page = await listImages(db, actor, {}, { limit, sort, ...(marker ? { marker } : {}) });
    pages.push(page.images.map((i) => i.id));
    marker = page.nextMarker ?? undefined;
  } while (marker !== undefined && pages.length < 50);
  return pages;
}

async function allInstancePages(db: DataSource, actor: Actor, filter: InstanceListFilter) {
  const pages: string[][] = [];
  let marker: string | undefined;
  do {
    const page = await listInstances(db, actor, filter, {
      limit: 2,
      ...(marker ? { marker } : {}),
    });
    pages.push(page.rows.map((r) => r.id));
    marker = page.nextMarker ?? undefined;
  } while (marker !== undefined && pages.length < 50);
  return pages;
}

async function allHistoryPages(db: DataSource, actor: Actor, filter: SnapshotHistoryFilter) {
  const pages: unknown[] = [];
  let cursor: string | null = null;
  do {
    const after = cursor === null ? undefined : (snapshotCursorKey(cursor) ?? undefined);
    const page = await listSnapshotHistory(db, actor, filter, { limit: 3, after });
    pages.push(page.rows);
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 50);
  return pages;
}

async function allAuditPages(db: DataSource, actor: Actor, order: 'asc' | 'desc') {
  const pages: number[][] = [];
  let cursor: string | null = null;
  do {
    const afterPosition = cursor === null ? undefined : (auditCursorPosition(cursor) ?? undefined);
    const page = await listAuditLog(db, actor, {}, { limit: 17, order, afterPosition });
    pages.push(page.entries.map((e) => e.position));
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 50);
  return pages;
}

const imageFilters: Record<string, ImageListFilter> = {
  'by name': { names: ['web-01-live', 'Web-01-live', 'WEB-01-LIVE'] },
  'by status': { statuses: ['killed', 'active'] },
  'by instance_uuid': { instanceUuid: '3c1f6a2e-8b4d-4f7a-9e21-5d6c7b8a9f01' },
  'by a user property': { properties: { purpose: 'pre-upgrade' } },
  'by owner': { owner: DB_PROJECT },
  'by size beyond 32 bits': { sizeMin: 2_000_000_000 },
  'by size equality': { columns: [{ column: 'size', value: 1342177280 }] },
  'by created_at': { createdAt: [{ op: 'gte', at: '2025-03-10T12:00:00' }] },
  'by disk format': { diskFormats: ['raw'] },
};

const imageSorts: Record<string, ImageSort[]> = {
  default: [],
  'name asc': [{ key: 'name', dir: 'asc' }],
  'name desc, status asc': [
    { key: 'name', dir: 'desc' },
    { key: 'status', dir: 'asc' },
  ],
  'size asc': [{ key: 'size', dir: 'asc' }],
  'disk_format desc': [{ key: 'disk_format', dir: 'desc' }],
  'updated_at asc': [{ key: 'updated_at', dir: 'asc' }],
};

/** Each question, asked of both engines. */
function questions(instanceIds: readonly string[]): Record<string, Ask> {
  const asks: Record<string, Ask> = {};
  for (const [who, actor] of Object.entries(ACTORS)) {
    for (const [name, sort] of Object.entries(imageSorts)) {
      asks[`images as ${who}, ${name}`] = (db) => listImages(db, actor, {}, { limit: 100, sort });
      asks[`image pages as ${who}, ${name}`] = (db) => allImagePages(db, actor, sort, 2);
    }
    for (const [name, filter] of Object.entries(imageFilters))
      asks[`images ${name} as ${who}`] = (db) => listImages(db, actor, filter, { limit: 100 });
    asks[`instance pages as ${who}`] = (db) => allInstancePages(db, actor, { allProjects: true });
    asks[`deleted instance pages as ${who}`] = (db) =>
      allInstancePages(db, actor, { allProjects: true, deleted: true });
    asks[`instances changed since as ${who}`] = (db) =>
      allInstancePages(db, actor, { allProjects: true, changesSince: '2025-03-10T09:00:00.000Z' });
    for (const name of ['WEB', 'b_0', 'ätch', 'ÄTCH', '-01', 'x'])
      for (const deleted of [false, true])
        asks[`instances named like ${name} (deleted: ${deleted}) as ${who}`] = (db) =>
          listInstances(db, actor, { allProjects: true, name, deleted }, { limit: 100 });
    asks[`history pages as ${who}`] = (db) => allHistoryPages(db, actor, {});
    asks[`killed history as ${who}`] = (db) => allHistoryPages(db, actor, { result: 'killed' });
    asks[`audit pages as ${who}, oldest first`] = (db) => allAuditPages(db, actor, 'asc');
    asks[`audit pages as ${who}, newest first`] = (db) => allAuditPages(db, actor, 'desc');
    asks[`audit of some types in a time range as ${who}`] = (db) =>
      listAuditLog(
        db,
        actor,
        {
          types: ['TaskStateChanged', 'Uploaded'],
          since: '2025-03-10T10:00:00.000Z',
          until: '2025-03-10T14:00:00.100Z',
        },
        { limit: 1000 },
      );
    asks[`flavors as ${who}`] = (db) => listFlavorSizes(db, actor);
    asks[`instances by name, deleted too, as ${who}`] = (db) =>
      new ReadModels(db).instances(actor, { includeDeleted: true });
    asks[`actions of every instance as ${who}`] = (db) =>
      loadInstanceActions(db, actor, instanceIds);
    asks[`action lists as ${who}`] = (db) =>
      Promise.all(
        instanceIds.map((instanceId) =>
          listInstanceActions(db, actor, { instanceId }, { limit: 1 }).catch((e: Error) => e.name),
        ),
      );
    asks[`snapshot connections as ${who}`] = (db) =>
      snapshotsByInstanceLoader(db, { first: 1, after: null }).loadMany([...instanceIds]);
    asks[`audit connections as ${who}`] = (db) =>
      auditByInstanceLoader(db, actor, { first: 4, after: null }).loadMany([...instanceIds]);
    asks[`action connections as ${who}`] = (db) =>
      actionsByInstanceLoader(db, actor, { first: 1, after: null }).loadMany([...instanceIds]);
  }
  // The step durations come unordered (they feed a histogram): compared as a sorted list.
  asks['snapshot numbers for /metrics'] = async (db) => {
    const stats = await new SnapshotStatsReader(db, { position: 1 }).read();
    const steps = stats.steps.map((s) => JSON.stringify(s)).sort();
    return { counts: stats.counts, steps };
  };
  return asks;
}

describe('the read-side queries on SQLite and on PostgreSQL', () => {
  let dir: string;
  let server: PostgresServer;
  let store: SqliteEventStore;
  const engines = {} as Engines;
  let instanceIds: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapledger-engines-'));
    server = await startPostgres();
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    try {
      await admin.query(
        `CREATE DATABASE views_icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
      );
    } finally {
      await admin.end();
    }
    const recorded = recordedLogLines();
    const lines = [
      ...recorded,
      ...copiedLog(recorded, 1, { 'web-01': 'Web-01', 'db-01': 'db_01', 'batch-01': 'bätch-01' }),
      ...copiedLog(recorded, 2, {
        'web-01': 'WEB-01',
        'db-01': 'DB-01',
        'batch-01': 'Batch.01',
      }),
    ];
    store = SqliteEventStore.open(join(dir, 'events.sqlite'));
    for (const { streamName, type, data, metadata } of lines.map(parseLogLine))
      await store.append(streamName, [{ type, data, metadata }], 'any');

    engines.sqlite = createViewsDataSource(sqliteTarget(join(dir, 'views.sqlite')));
    engines.postgres = createViewsDataSource(
      postgresTarget(server.adminUrl.replace(/\/postgres$/, '/views_icu')),
    );
    for (const db of Object.values(engines)) {
      await db.initialize();
      await new ProjectionRunner(store, db, createViewProjections()).rebuild();
    }
    instanceIds = (
      await engines.sqlite.getRepository(InstanceView).find({ order: { id: 'ASC' } })
    ).map((i) => i.id);
  }, 120_000);

  afterAll(async () => {
    for (const db of Object.values(engines)) if (db?.isInitialized) await db.destroy();
    await store?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('replays the same log into both', () => {
    expect(instanceIds).toHaveLength(9);
  });

  it.each(Object.keys(questions([])))('%s', async (name) => {
    const ask = questions(instanceIds)[name]!;
    const onSqlite = JSON.stringify(await ask(engines.sqlite));
    const onPostgres = JSON.stringify(await ask(engines.postgres));
    expect(onPostgres).toBe(onSqlite);
  });

  it('has answers worth comparing: ties, case and accents order the same', async () => {
    const byName = await listImages(
      engines.postgres,
      ADMIN,
      { statuses: ['active'] },
      { limit: 100, sort: [{ key: 'name', dir: 'asc' }] },
    );
    // byte order: upper case before lower case, '-' before '_'
    expect(byName.images.map((i) => i.name)).toEqual(
      [
        'WEB-01-before-upgrade',
        'WEB-01-live',
        'Web-01-before-upgrade',
        'Web-01-live',
        'DB-01-nightly',
        'db-01-nightly',
        'db_01-nightly',
        'web-01-before-upgrade',
        'web-01-live',
      ].sort(),
    );
    const named = await listInstances(
      engines.postgres,
      ADMIN,
      { allProjects: true, name: 'WEB' },
      { limit: 100 },
    );
    expect(named.rows.map((r) => r.name).sort()).toEqual(['WEB-01', 'Web-01', 'web-01']);
    // lower() folds ASCII only, as SQLite's does
    const accented = await listInstances(
      engines.postgres,
      ADMIN,
      { allProjects: true, name: 'ätch', deleted: true },
      { limit: 100 },
    );
    expect(accented.rows.map((r) => r.name)).toEqual(['bätch-01']);
    // beyond PostgreSQL's 32-bit integer, read back as a number
    const big = await engines.postgres
      .getRepository(ImageView)
      .findOneByOrFail({ name: 'batch-01-nightly' });
    expect(big.size).toBe(2147483648);
  });
});
