import type { Database, Statement } from 'better-sqlite3';
import type { EntityManager, EntityTarget } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { sqliteBoundNumber } from '../database/sqlite-bound-numbers';
import { getOrAdd } from './transaction-memo';

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
  const cache = getOrAdd(compiledByDriver, driver, () => new Map<string, CompiledSql>());
  return getOrAdd(cache, sql, () => {
    // Each name stands in for its own value: the values the driver returns, in placeholder
    // order, are the names.
    const stand: Record<string, string> = {};
    for (const [, name] of sql.matchAll(/:([A-Za-z0-9_]+)/g)) stand[name!] = name!;
    const [text, order] = driver.escapeQueryWithParameters(sql, stand);
    return { text, names: order.map(String) };
  });
}

/** The one better-sqlite3 connection behind a SQLite data source; undefined on PostgreSQL. */
function sqliteConnection(manager: EntityManager): Database | undefined {
  const driver = manager.connection.driver as Driver & { databaseConnection?: Database };
  return driver.options.type === 'better-sqlite3' ? driver.databaseConnection : undefined;
}

/** A value as better-sqlite3 must be given it to store what TypeORM would (booleans as 1/0). */
function sqliteValue(value: unknown): unknown {
  if (typeof value === 'number') return sqliteBoundNumber(value);
  if (typeof value === 'boolean') return value ? 1n : 0n;
  return value;
}

function prepared(db: Database, text: string): Statement {
  const cache = getOrAdd(preparedByDatabase, db, () => new Map<string, Statement>());
  return getOrAdd(cache, text, () => db.prepare(text));
}

/** Runs a statement in the engine's placeholders; returns its first row, if it reads rows. */
async function run<T>(
  manager: EntityManager,
  text: string,
  values: unknown[],
): Promise<T | undefined> {
  const db = sqliteConnection(manager);
  if (db) {
    const statement = prepared(db, text);
    for (let i = 0; i < values.length; i += 1) values[i] = sqliteValue(values[i]);
    if (statement.reader) return statement.get(...values) as T | undefined;
    statement.run(...values);
    return undefined;
  }
  const rows = (await manager.query(text, values)) as unknown;
  return Array.isArray(rows) ? (rows[0] as T | undefined) : undefined;
}

/** Runs `sql`, whose parameters are named; returns its first row, if it reads rows. */
function execute<T>(
  manager: EntityManager,
  sql: string,
  parameters: Record<string, unknown>,
): Promise<T | undefined> {
  const { text, names } = compile(manager.connection.driver, sql);
  return run<T>(
    manager,
    text,
    names.map((name) => parameters[name]),
  );
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
  const cache = getOrAdd(columnsByDriver, driver, () => new Map<unknown, EntityColumns>());
  return getOrAdd(cache, entity, () => {
    const metadata = manager.connection.getMetadata(entity);
    return {
      name: metadata.name,
      table: driver.escape(metadata.tableName),
      all: metadata.columns,
      byProperty: new Map(metadata.columns.map((c) => [c.propertyName, c])),
    };
  });
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

/**
 * An INSERT or UPDATE of one entity with a given set of columns: its text in the engine's
 * placeholders, and the column bound to each placeholder, in order.
 */
interface WriteShape {
  readonly text: string;
  readonly columns: readonly ColumnMetadata[];
}

const writeShapesByDriver = new WeakMap<Driver, Map<unknown, Map<string, WriteShape>>>();

/** The defined (not undefined) properties of `values`, in their order. */
function definedProperties(values: object): string[] {
  const names: string[] = [];
  for (const [name, value] of Object.entries(values)) if (value !== undefined) names.push(name);
  return names;
}

/**
 * The cached shape for `key` (the statement kind and its property names), made by `make`
 * the first time: the callers write the same few shapes for every event.
 */
function writeShape<T extends object>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  key: string,
  make: (columns: EntityColumns, escape: (name: string) => string) => [string, ColumnMetadata[]],
): WriteShape {
  const { driver } = manager.connection;
  const byEntity = getOrAdd(
    writeShapesByDriver,
    driver,
    () => new Map<unknown, Map<string, WriteShape>>(),
  );
  const shapes = getOrAdd(byEntity, entity, () => new Map<string, WriteShape>());
  return getOrAdd(shapes, key, () => {
    const [sql, columns] = make(columnsOf(manager, entity), (name) => driver.escape(name));
    // The named parameters :p0, :p1... become the engine's placeholders, in the same order.
    return { text: compile(driver, sql).text, columns };
  });
}

/** The entity's columns for the given property names (an unknown name is an error). */
function columnsNamed(columns: EntityColumns, properties: readonly string[]): ColumnMetadata[] {
  return properties.map((property) => {
    const column = columns.byProperty.get(property);
    if (!column) throw new Error(`${columns.name} has no column ${property}`);
    return column;
  });
}

/** Each value encoded for its column by the driver, as TypeORM encodes it when it writes. */
function encoded(
  manager: EntityManager,
  columns: readonly ColumnMetadata[],
  offset: number,
  source: Record<string, unknown>,
  into: unknown[],
): void {
  const { driver } = manager.connection;
  for (let i = 0; i < columns.length; i += 1) {
    const column = columns[i]!;
    into[offset + i] = driver.preparePersistentValue(source[column.propertyName], column);
  }
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
  const properties = definedProperties(row);
  const shape = writeShape(manager, entity, properties.join(','), (columns, escape) => {
    const named = columnsNamed(columns, properties);
    const names = named.map((c) => escape(c.databaseName)).join(', ');
    const placeholders = named.map((_, i) => `:p${i}`).join(', ');
    return [`INSERT INTO ${columns.table} (${names}) VALUES (${placeholders})`, named];
  });
  const values = new Array<unknown>(shape.columns.length);
  encoded(manager, shape.columns, 0, row as Record<string, unknown>, values);
  await run(manager, shape.text, values);
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
  const sets = definedProperties(patch);
  if (sets.length === 0) return;
  const keys = definedProperties(where);
  if (keys.length === 0 || keys.some((key) => (where as Record<string, unknown>)[key] === null))
    throw new Error('updateRows needs a WHERE of non-null values');
  const shape = writeShape(
    manager,
    entity,
    `${sets.join(',')}|${keys.join(',')}`,
    (columns, escape) => {
      const setColumns = columnsNamed(columns, sets);
      const keyColumns = columnsNamed(columns, keys);
      const set = setColumns.map((c, i) => `${escape(c.databaseName)} = :p${i}`).join(', ');
      const condition = keyColumns
        .map((c, i) => `${escape(c.databaseName)} = :p${setColumns.length + i}`)
        .join(' AND ');
      return [
        `UPDATE ${columns.table} SET ${set} WHERE ${condition}`,
        [...setColumns, ...keyColumns],
      ];
    },
  );
  const values = new Array<unknown>(shape.columns.length);
  encoded(
    manager,
    shape.columns.slice(0, sets.length),
    0,
    patch as Record<string, unknown>,
    values,
  );
  encoded(
    manager,
    shape.columns.slice(sets.length),
    sets.length,
    where as Record<string, unknown>,
    values,
  );
  await run(manager, shape.text, values);
}
