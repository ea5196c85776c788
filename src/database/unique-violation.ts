/**
 * Whether a failed write broke a unique constraint: SQLite says so in its message,
 * PostgreSQL with SQLSTATE 23505 (TypeORM's QueryFailedError carries the driver's `code`).
 */
export function isUniqueViolation(error: unknown): boolean {
  if (/UNIQUE constraint failed/.test(String(error))) return true;
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505'
  );
}
