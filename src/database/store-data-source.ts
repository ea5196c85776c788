import pg from 'pg';
import { DataSource, type DataSourceOptions, type MixedList } from 'typeorm';
import type { DatabaseTarget } from './database-target';
import { portColumnsToPostgres, postgresPoolTypes } from './portable-columns';
import { bindNumbersAsParameters } from './sqlite-bound-numbers';

/** What differs between snapledger's TypeORM stores (views, service state, backup rotation). */
export interface StoreDataSourceOptions {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's entity list type
  readonly entities: MixedList<Function>;
  /**
   * The store's PostgreSQL schema. On PostgreSQL every store shares one database; a schema
   * each (rather than prefixed table names) keeps the entities' table names as they are on
   * SQLite, so the stores' SQL is the same on both engines, keeps each store's tables out of
   * the others' way exactly as separate files did (the views can be emptied, synchronized
   * or dropped without touching tokens or the sagas' state), and lets an operator grant or
   * back up each store on its own.
   */
  readonly postgresSchema: string;
  /** SQLite's `synchronous` pragma: FULL for state that cannot be rebuilt from the log. */
  readonly sqliteSynchronous: 'NORMAL' | 'FULL';
}

/**
 * A store's data source on either engine. Tables are created by `synchronize`. Call
 * initialize() before use.
 */
export function createStoreDataSource(
  target: DatabaseTarget,
  options: StoreDataSourceOptions,
): DataSource {
  if (target.engine === 'postgres') return new PostgresStoreDataSource(target.url, options);
  const { path } = target;
  const dataSource = new DataSource({
    type: 'better-sqlite3',
    database: path,
    entities: options.entities,
    synchronize: true,
    enableWAL: path !== ':memory:',
    logging: false,
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma(`synchronous = ${options.sqliteSynchronous}`);
    },
  });
  bindNumbersAsParameters(dataSource);
  return dataSource;
}

/**
 * A store in its own schema of a shared PostgreSQL database. Its connections search only that
 * schema, so the raw SQL (which names tables unqualified, as on SQLite) reads this store's
 * tables; TypeORM's own statements name the schema. Entity metadata is adjusted per data
 * source after it is built (portColumnsToPostgres), so the decorators stay one definition
 * for both engines and the SQLite schema is unchanged.
 */
class PostgresStoreDataSource extends DataSource {
  private readonly schemaName: string;

  constructor(url: string, options: StoreDataSourceOptions) {
    const settings: DataSourceOptions = {
      type: 'postgres',
      url,
      schema: options.postgresSchema,
      entities: options.entities,
      synchronize: true,
      logging: false,
      extra: {
        options: `-c search_path=${options.postgresSchema}`,
        types: postgresPoolTypes(pg.types),
      },
    };
    super(settings);
    this.schemaName = options.postgresSchema;
  }

  protected override async buildMetadatas(): Promise<void> {
    await super.buildMetadatas();
    portColumnsToPostgres(this.entityMetadatas);
  }

  /**
   * Creates the schema and its tables under an advisory lock: every service process
   * synchronizes at start, and two concurrent CREATEs of one table or schema fail on
   * PostgreSQL's catalog constraints instead of waiting for each other.
   */
  override async synchronize(dropBeforeSync = false): Promise<void> {
    const runner = this.createQueryRunner();
    await runner.connect();
    const lock = `snapledger schema ${this.schemaName}`;
    try {
      await runner.query('SELECT pg_advisory_lock(hashtext($1))', [lock]);
      await runner.query(`CREATE SCHEMA IF NOT EXISTS ${this.driver.escape(this.schemaName)}`);
      await super.synchronize(dropBeforeSync);
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]).catch(() => undefined);
      await runner.release();
    }
  }
}
