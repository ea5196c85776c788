import type { DataSource } from 'typeorm';

/**
 * What better-sqlite3 is given for a number. It binds every JavaScript number as a REAL, which
 * a text or untyped column would keep as '5.0' or 5.0 where the inlined literal 5 gave '5' or
 * 5; a BigInt is bound as an INTEGER, exactly like the literal. Other numbers were REAL
 * literals already.
 */
export function sqliteBoundNumber(value: number): number | bigint {
  return Number.isSafeInteger(value) ? BigInt(value) : value;
}

/** A number on its way through TypeORM's parameter escaping, so that it is bound, not inlined. */
class BoundNumber {
  constructor(readonly value: number) {}

  get bound(): number | bigint {
    return sqliteBoundNumber(this.value);
  }
}

type Escape = (
  sql: string,
  parameters: Record<string, unknown>,
  nativeParameters: Record<string, unknown>,
) => [string, unknown[]];

/**
 * TypeORM's SQLite drivers write every number parameter into the SQL text itself
 * (`WHERE "position" = 1234`) instead of binding it. Each such statement is new to SQLite, so
 * better-sqlite3 compiles it again, TypeORM's 100-statement cache keeps evicting, and the
 * evicted statements' native memory lingers until V8 happens to collect their small
 * wrappers: a projection rebuild spent a third of its time preparing statements and its
 * resident memory grew with the length of the log.
 *
 * This wraps the driver's escaping so that numbers are bound like every other value: the
 * same statement text is reused for every event. A whole number is bound as an INTEGER and
 * any other as a REAL, the types SQLite gave the literals, so what is stored does not change.
 */
export function bindNumbersAsParameters(dataSource: DataSource): void {
  const driver = dataSource.driver as unknown as { escapeQueryWithParameters: Escape };
  const escape = driver.escapeQueryWithParameters.bind(driver);
  driver.escapeQueryWithParameters = (sql, parameters, nativeParameters) => {
    if (!parameters) return escape(sql, parameters, nativeParameters);
    const boxed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(parameters))
      boxed[key] = typeof value === 'number' ? new BoundNumber(value) : value;
    const [query, values] = escape(sql, boxed, nativeParameters);
    return [query, values.map((v) => (v instanceof BoundNumber ? v.bound : v))];
  };
}
