import type { DataSource, EntityManager } from 'typeorm';
import { engineOf } from '../database/database-target';

/** A secondary index of a view table, with the statement that creates it again. */
interface SecondaryIndex {
  readonly name: string;
  readonly create: string;
}

/**
 * The secondary indexes (not the primary keys, not unique ones) of the given view tables, as
 * the database itself states them: sqlite_master's CREATE INDEX text, or pg_indexes' indexdef.
 */
async function secondaryIndexes(
  manager: EntityManager,
  tables: readonly string[],
): Promise<SecondaryIndex[]> {
  if (tables.length === 0) return [];
  if (engineOf(manager.connection) === 'postgres') {
    return (await manager.query(
      `SELECT i.indexname AS name, i.indexdef AS "create"
         FROM pg_indexes i
         JOIN pg_namespace n ON n.nspname = i.schemaname
         JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = n.oid
         JOIN pg_index x ON x.indexrelid = c.oid
        WHERE i.schemaname = current_schema() AND i.tablename = ANY($1)
          AND NOT x.indisprimary AND NOT x.indisunique
        ORDER BY i.indexname`,
      [tables],
    )) as SecondaryIndex[];
  }
  const placeholders = tables.map(() => '?').join(', ');
  return (await manager.query(
    `SELECT name, sql AS "create" FROM sqlite_master
      WHERE type = 'index' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'
        AND tbl_name IN (${placeholders})
      ORDER BY name`,
    [...tables],
  )) as SecondaryIndex[];
}

/**
 * Runs a rebuild's replay in bulk-load mode, and leaves the views as they were set up
 * whether it succeeds or throws:
 *
 * - the secondary indexes of the write-only tables (the audit log's eight: no projection
 *   reads it) are dropped, and built again at the end, each in a transaction of its own;
 *   building an index once costs less than keeping it up to date row by row;
 * - on SQLite, `synchronous` is OFF until the end, then set back, with a checkpoint that
 *   waits for the disk: a rebuild's rows are worth nothing until it ends.
 *
 * Should the process stop in between, the schema synchronisation at the next start creates
 * the missing indexes (and the interrupted rebuild has to be run again anyway); after a power
 * loss, views.sqlite may have to be deleted first.
 */
export async function inBulkLoad<T>(
  dataSource: DataSource,
  writeOnlyTables: readonly string[],
  replay: () => Promise<T>,
): Promise<T> {
  const { manager } = dataSource;
  const indexes = await secondaryIndexes(manager, writeOnlyTables);
  for (const index of indexes)
    await manager.query(`DROP INDEX ${dataSource.driver.escape(index.name)}`);
  const sqlite = engineOf(dataSource) === 'sqlite';
  const [setting] = sqlite
    ? ((await manager.query('PRAGMA synchronous')) as { synchronous: number }[])
    : [];
  if (setting) await manager.query('PRAGMA synchronous = OFF');
  try {
    return await replay();
  } finally {
    for (const index of indexes) await manager.query(index.create);
    if (setting) {
      await manager.query(`PRAGMA synchronous = ${Number(setting.synchronous)}`);
      await manager.query('PRAGMA wal_checkpoint(FULL)');
    }
  }
}
