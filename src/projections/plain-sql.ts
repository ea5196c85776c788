import type { EntityManager, EntityTarget } from 'typeorm';

/**
 * One row of a hand-written SELECT, for the projections' hottest look-ups (a few per event
 * during a rebuild), where TypeORM's find() spends far longer building the query than the
 * database spends answering it. `sql` names its parameters `:name`; the driver turns them
 * into its own placeholders (`?` or `$1`) and binds the values, so the text is a constant
 * and its prepared statement is reused. Only plain columns (text, integers) should be
 * selected: no JSON or boolean columns, whose decoding differs between the engines.
 */
export async function lookUpRow<T>(
  manager: EntityManager,
  sql: string,
  parameters: Record<string, string>,
): Promise<T | null> {
  const [query, values] = manager.connection.driver.escapeQueryWithParameters(sql, parameters);
  const rows = (await manager.query(query, values)) as T[];
  return rows[0] ?? null;
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
  for (const column of manager.connection.getMetadata(entity).columns) {
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
  const metadata = manager.connection.getMetadata(entity);
  const pairs: [string, unknown][] = [];
  for (const [property, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const column = metadata.findColumnWithPropertyName(property);
    if (!column) throw new Error(`${metadata.name} has no column ${property}`);
    pairs.push([
      column.databaseName,
      manager.connection.driver.preparePersistentValue(value, column),
    ]);
  }
  return pairs;
}

async function run(
  manager: EntityManager,
  sql: string,
  parameters: Record<string, unknown>,
): Promise<void> {
  const [query, values] = manager.connection.driver.escapeQueryWithParameters(sql, parameters);
  await manager.query(query, values);
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
  const table = escape(manager.connection.getMetadata(entity).tableName);
  const columns = pairs.map(([name]) => escape(name)).join(', ');
  const placeholders = pairs.map((_, i) => `:v${i}`).join(', ');
  await run(manager, `INSERT INTO ${table} (${columns}) VALUES (${placeholders})`, parameters);
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
  const table = escape(manager.connection.getMetadata(entity).tableName);
  const set = sets.map(([name], i) => `${escape(name)} = :s${i}`).join(', ');
  const condition = keys.map(([name], i) => `${escape(name)} = :w${i}`).join(' AND ');
  await run(manager, `UPDATE ${table} SET ${set} WHERE ${condition}`, parameters);
}
