import type { ColumnType, EntityMetadata } from 'typeorm';

/**
 * Column types that TypeORM maps to different meanings on PostgreSQL. SQLite's INTEGER holds
 * 64 bits, PostgreSQL's 32: every integer column (byte counts, sizes, log positions,
 * durations, and the small counts alike) becomes BIGINT there, and the pool parses BIGINT
 * back into a JS number (postgresPoolTypes), so the entities read the same on both engines.
 */
const WIDENED: Readonly<Record<string, ColumnType>> = { integer: 'bigint', int: 'bigint' };

/** Text types whose comparison and order depend on a collation. */
const COLLATED = new Set(['text', 'varchar', 'character varying']);

/**
 * SQLite compares text with BINARY (byte order of the UTF-8, case-sensitive); PostgreSQL
 * with the database's collation, which under a locale such as en_US ignores punctuation and
 * case on a first pass. Text columns are given the "C" collation on PostgreSQL, which is
 * byte order too, so ORDER BY, keyset paging (`id < :marker`) and equality give the same
 * answers on both engines whatever locale the database was created with.
 */
export const POSTGRES_TEXT_COLLATION = 'C';

/** Adjusts one data source's built metadata for PostgreSQL (never the decorators' global args). */
export function portColumnsToPostgres(entities: readonly EntityMetadata[]): void {
  for (const entity of entities) {
    for (const column of entity.columns) {
      if (typeof column.type !== 'string') continue;
      const widened = WIDENED[column.type];
      if (widened !== undefined) column.type = widened;
      else if (COLLATED.has(column.type) && column.collation === undefined)
        column.collation = POSTGRES_TEXT_COLLATION;
    }
  }
}

/** BIGINT's type id in PostgreSQL (pg_type.oid of int8). */
const INT8_OID = 20;

/** node-postgres type parsers for one pool: BIGINT as a JS number, others as pg's defaults. */
export function postgresPoolTypes(defaults: {
  getTypeParser(oid: number, format?: 'text' | 'binary'): unknown;
}): { getTypeParser(oid: number, format?: 'text' | 'binary'): unknown } {
  return {
    getTypeParser(oid, format) {
      if (oid === INT8_OID && (format ?? 'text') === 'text') return parseInt8;
      return defaults.getTypeParser(oid, format);
    },
  };
}

function parseInt8(text: string): number {
  const value = Number(text);
  // A silently rounded position or byte count would be worse than a failed read.
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} exceeds a JS number`);
  return value;
}
