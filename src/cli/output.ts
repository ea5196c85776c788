import Table from 'cli-table3';

/** One column of a human table: its header and how to read the cell from a row. */
export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => unknown;
}

const cellText = (value: unknown): string => {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
};

/** Renders rows as a plain table (no colours, so it pipes and logs cleanly). */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const table = new Table({
    head: columns.map((c) => c.header),
    style: { head: [], border: [] },
  });
  for (const row of rows) table.push(columns.map((c) => cellText(c.value(row))));
  return table.toString();
}

/**
 * Prints a list: the raw value as JSON with `--json`, else a table of `rows` (and a note when
 * the list is empty, so a human sees the command worked).
 */
export function printList<T>(
  options: { readonly json: boolean },
  raw: unknown,
  rows: readonly T[],
  columns: readonly Column<T>[],
  out: NodeJS.WritableStream = process.stdout,
): void {
  if (options.json) {
    out.write(`${JSON.stringify(raw, null, 2)}\n`);
    return;
  }
  out.write(rows.length === 0 ? '(none)\n' : `${renderTable(rows, columns)}\n`);
}

/** Prints one record: JSON with `--json`, else a two-column field/value table. */
export function printRecord(
  options: { readonly json: boolean },
  record: Record<string, unknown>,
  out: NodeJS.WritableStream = process.stdout,
): void {
  if (options.json) {
    out.write(`${JSON.stringify(record, null, 2)}\n`);
    return;
  }
  const table = new Table({ head: ['field', 'value'], style: { head: [], border: [] } });
  for (const [key, value] of Object.entries(record)) table.push([key, cellText(value)]);
  out.write(`${table.toString()}\n`);
}
