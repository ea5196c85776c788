import type { EntityManager } from 'typeorm';
import { engineOf } from '../database/database-target';

/** A secondary index of a view table, with the statement that creates it again. */
export interface SecondaryIndex {
  readonly name: string;
  readonly create: string;
}

const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * The secondary indexes (not the primary keys) of the given view tables, as the database
 * itself states them: sqlite_master's CREATE INDEX text, or pg_indexes' indexdef.
 */
async function secondaryIndexes(
  manager: EntityManager,
  tables: readonly string[],
): Promise<SecondaryIndex[]> {
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
 * A rebuild inserts every row of a write-only view (the audit log, eight secondary indexes)
 * in position order and never reads it, so keeping its indexes up to date row by row costs
 * more than building each once at the end. Drops them and returns them for
 * restoreIndexes(). Should the process stop in between, the schema synchronisation at the
 * next start creates them again (and the interrupted rebuild has to be run again anyway).
 */
export async function dropSecondaryIndexes(
  manager: EntityManager,
  tables: readonly string[],
): Promise<SecondaryIndex[]> {
  if (tables.length === 0) return [];
  const indexes = await secondaryIndexes(manager, tables);
  for (const index of indexes) await manager.query(`DROP INDEX ${quoted(index.name)}`);
  return indexes;
}

/**
 * Builds the indexes again, each in a transaction of its own: one transaction for all of
 * them would hold every new index page in the write-ahead log and the page cache at once.
 */
export async function restoreIndexes(
  manager: EntityManager,
  indexes: readonly SecondaryIndex[],
): Promise<void> {
  for (const index of indexes) await manager.query(index.create);
}
