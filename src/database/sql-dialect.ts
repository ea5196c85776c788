import type { DataSource } from 'typeorm';
import { engineOf } from './database-target';

/**
 * The SQL fragments that SQLite and PostgreSQL spell differently, for the few queries the
 * query builder cannot write. Arguments are SQL expressions (quoted identifiers, bound
 * parameters), never values. The SQLite spellings are the ones the queries always used.
 */
export interface SqlDialect {
  /** A simple-json object column's property `key` (a constant name) as text; null if absent. */
  jsonProperty(column: string, key: string): string;
  /** Whether a simple-json object column has the property `key` with the text `value`. */
  jsonObjectHas(column: string, key: string, value: string): string;
  /** Whether `text` contains `part`, ignoring the case of ASCII letters only (SQLite's lower()). */
  containsIgnoringAsciiCase(text: string, part: string): string;
}

const PROPERTY_NAME = /^[a-z_][a-z0-9_]*$/;

function constantKey(key: string): string {
  if (!PROPERTY_NAME.test(key)) throw new Error(`not a constant JSON property name: ${key}`);
  return key;
}

const sqlite: SqlDialect = {
  jsonProperty: (column, key) => `json_extract(${column}, '$.${constantKey(key)}')`,
  jsonObjectHas: (column, key, value) =>
    `EXISTS (SELECT 1 FROM json_each(${column}) AS prop WHERE prop.key = ${key} AND prop.value = ${value})`,
  containsIgnoringAsciiCase: (text, part) => `instr(lower(${text}), lower(${part})) > 0`,
};

/**
 * simple-json columns are text on both engines; PostgreSQL reads them with a cast to json.
 * lower() folds only ASCII under the C collation, which the text columns have (see
 * portColumnsToPostgres); the bound part is given it too, whatever the database's locale.
 */
const postgres: SqlDialect = {
  jsonProperty: (column, key) => `(CAST(${column} AS json) ->> '${constantKey(key)}')`,
  jsonObjectHas: (column, key, value) =>
    `EXISTS (SELECT 1 FROM json_each_text(CAST(${column} AS json)) AS prop WHERE prop.key = ${key} AND prop.value = ${value})`,
  containsIgnoringAsciiCase: (text, part) =>
    `strpos(lower(${text}), lower(CAST(${part} AS text) COLLATE "C")) > 0`,
};

export function sqlDialect(db: Pick<DataSource, 'options'>): SqlDialect {
  return engineOf(db) === 'postgres' ? postgres : sqlite;
}
