import type { DataSource } from 'typeorm';

/**
 * Where a TypeORM store lives: a SQLite file (one per store, as a single host runs it), or a
 * PostgreSQL database shared by every store once users outgrow one host.
 */
export type DatabaseTarget =
  | { readonly engine: 'sqlite'; readonly path: string }
  | { readonly engine: 'postgres'; readonly url: string };

export type DatabaseEngine = DatabaseTarget['engine'];

export const sqliteTarget = (path: string): DatabaseTarget => ({ engine: 'sqlite', path });

export const postgresTarget = (url: string): DatabaseTarget => ({ engine: 'postgres', url });

/** The engine behind a data source, for the few statements that must be written per engine. */
export function engineOf(db: Pick<DataSource, 'options'>): DatabaseEngine {
  return db.options.type === 'postgres' ? 'postgres' : 'sqlite';
}
