import type { Database, Statement } from 'better-sqlite3';
import type { EntityManager, EntityTarget } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';

/**
 * Hand-written statements for the projections, which run a few per event: during a rebuild
 * of a million events, TypeORM's find() and query builder spent several times longer making
 * each statement than the database spent running it.
 *
 * Each statement names its parameters `:name`. Its text is turned into the engine's own
 * placeholders (`?` or `$1`) once, by the driver itself, and kept with the order of its
 * names; the values are bound, never written into the text, so each text is one prepared
 * statement for the life of the process. On SQLite the prepared statement runs on the
 * connection TypeORM holds (better-sqlite3 has exactly one, so the statement runs inside the
 * caller's transaction); on PostgreSQL it goes through the manager's query runner.
 * Only plain columns (text, integers) should be selected by lookUpRow: JSON and boolean
 * columns decode differently on the two engines (lookUpEntity decodes them).
 */

/** A statement in the engine's placeholders, and the name bound to each, in order. */
interface CompiledSql {
  readonly text: string;
  readonly names: readonly string[];
}

type Driver = EntityManager['connection']['driver'];

const compiledByDriver = new WeakMap<Driver, Map<string, CompiledSql>>();
const preparedByDatabase = new WeakMap<Database, Map<string, Statement>>();

function compile(driver: Driver, sql: string): CompiledSql {
  let cache = compiledByDriver.get(driver);
  if (!cache) compiledByDriver.set(driver, (cache = new Map()));
  let compiled = cache.get(sql);
  if (!compiled) {
    // Each name stands in for its own value: the values the driver returns, in placeholder
    // order, are the names.
    const stand: Record<string, string> = {};
    for (const [, name] of sql.matchAll(/:([A-Za-z0-9_]+)/g)) stand[name!] = name!;
    const [text, order] = driver.escapeQueryWithParameters(sql, stand);
    compiled = { text, names: order.map(String) };
    cache.set(sql, compiled);
  }
  return compiled;
}

/** The one better-sqlite3 connection behind a SQLite data source; undefined on PostgreSQL. */
function sqliteConnection(manager: EntityManager): Database | undefined {
  const driver = manager.connection.driver as Driver & { databaseConnection?: Database };
  return driver.options.type === 'better-sqlite3' ? driver.databaseConnection : undefined;
}

/**
 * A value as better-sqlite3 must be given it to store what TypeORM would: a whole number as a
 * BigInt (bound as an INTEGER; a plain number is bound as a REAL, which a text column keeps
 * as '5.0'), a boolean as 1 or 0.
 */
function sqliteValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  return value;
}

function prepared(db: Database, text: string): Statement {
  let cache = preparedByDatabase.get(db);
  if (!cache) preparedByDatabase.set(db, (cache = new Map()));
  let statement = cache.get(text);
  if (!statement) cache.set(text, (statement = db.prepare(text)));
  return statement;
}

/** Runs `sql`; returns its first row, if it reads rows. */
async function execute<T>(
  manager: EntityManager,
  sql: string,
  parameters: Record<string, unknown>,
): Promise<T | undefined> {
  const { text, names } = compile(manager.connection.driver, sql);
  const db = sqliteConnection(manager);
  if (db) {
    const statement = prepared(db, text);
    const values = names.map((name) => sqliteValue(parameters[name]));
    if (statement.reader) return statement.get(...values) as T | undefined;
    statement.run(...values);
    return undefined;
  }
  const rows = (await manager.query(
    text,
    names.map((name) => parameters[name]),
  )) as unknown;
  return Array.isArray(rows) ? (rows[0] as T | undefined) : undefined;
}

/** One row of a hand-written SELECT, or null. */
export async function lookUpRow<T>(
  manager: EntityManager,
  sql: string,
  parameters: Record<string, string>,
): Promise<T | null> {
  return (await execute<T>(manager, sql, parameters)) ?? null;
}

/** An entity's columns by property name, and in order. */
interface EntityColumns {
  readonly name: string;
  readonly table: string;
  readonly all: readonly ColumnMetadata[];
  readonly byProperty: ReadonlyMap<string, ColumnMetadata>;
}

const columnsByDriver = new WeakMap<Driver, Map<unknown, EntityColumns>>();

function columnsOf<T extends object>(
  manager: EntityManager,
  entity: EntityTarget<T>,
): EntityColumns {
  const { driver } = manager.connection;
  let cache = columnsByDriver.get(driver);
  if (!cache) columnsByDriver.set(driver, (cache = new Map()));
  let columns = cache.get(entity);
  if (!columns) {
    const metadata = manager.connection.getMetadata(entity);
    columns = {
      name: metadata.name,
      table: driver.escape(metadata.tableName),
      all: metadata.columns,
      byProperty: new Map(metadata.columns.map((c) => [c.propertyName, c])),
    };
    cache.set(entity, columns);
  }
  return columns;
}

/**
 * One whole entity by a hand-written `SELECT * ... WHERE <key> = :param`, each column decoded
 * by the driver exactly as find() decodes it (JSON text parsed, SQLite's 0/1 made booleans).
 */
export async function lookUpEntity<T extends object>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  sql: string,
  parameters: Record<string, string>,
): Promise<T | null> {
  const raw = await lookUpRow<Record<string, unknown>>(manager, sql, parameters);
  if (raw === null) return null;
  const { driver } = manager.connection;
  const row: Record<string, unknown> = {};
  for (const column of columnsOf(manager, entity).all) {
    if (column.databaseName in raw)
      row[column.propertyName] = driver.prepareHydratedValue(raw[column.databaseName], column);
  }
  return row as T;
}

/** The row's defined properties as [column, value encoded for the database] pairs. */
function columnValues<T extends object>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  values: Partial<T>,
): [string, unknown][] {
  const { name, byProperty } = columnsOf(manager, entity);
  const pairs: [string, unknown][] = [];
  for (const property in values) {
    const value = values[property];
    if (value === undefined) continue;
    const column = byProperty.get(property);
    if (!column) throw new Error(`${name} has no column ${property}`);
    pairs.push([
      column.databaseName,
      manager.connection.driver.preparePersistentValue(value, column),
    ]);
  }
  return pairs;
}

/**
 * INSERT of one row, as `manager.insert(entity, row)` writes it (each value encoded by the
 * driver; properties left undefined take the column's default), without the query builder.
 */
export async function insertRow<T extends object>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  row: Partial<T>,
): Promise<void> {
  const pairs = columnValues(manager, entity, row);
  const parameters: Record<string, unknown> = {};
  pairs.forEach(([, value], i) => (parameters[`v${i}`] = value));
  const escape = (name: string) => manager.connection.driver.escape(name);
  const columns = pairs.map(([name]) => escape(name)).join(', ');
  const placeholders = pairs.map((_, i) => `:v${i}`).join(', ');
  const { table } = columnsOf(manager, entity);
  await execute(manager, `INSERT INTO ${table} (${columns}) VALUES (${placeholders})`, parameters);
}

/**
 * UPDATE ... SET patch WHERE every property of `where` equals its value, as
 * `manager.update(entity, where, patch)` does for plain equality, without the query builder.
 * Undefined properties of the patch are left out, as TypeORM leaves them out.
 */
export async function updateRows<T extends object>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  where: Partial<T>,
  patch: Partial<T>,
): Promise<void> {
  const sets = columnValues(manager, entity, patch);
  if (sets.length === 0) return;
  const keys = columnValues(manager, entity, where);
  if (keys.length === 0 || keys.some(([, value]) => value === null))
    throw new Error('updateRows needs a WHERE of non-null values');
  const parameters: Record<string, unknown> = {};
  sets.forEach(([, value], i) => (parameters[`s${i}`] = value));
  keys.forEach(([, value], i) => (parameters[`w${i}`] = value));
  const escape = (name: string) => manager.connection.driver.escape(name);
  const { table } = columnsOf(manager, entity);
  const set = sets.map(([name], i) => `${escape(name)} = :s${i}`).join(', ');
  const condition = keys.map(([name], i) => `${escape(name)} = :w${i}`).join(' AND ');
  await execute(manager, `UPDATE ${table} SET ${set} WHERE ${condition}`, parameters);
}
