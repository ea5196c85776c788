import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { VIEW_TABLE_ENTITIES } from './views.data-source';

/**
 * A deterministic, JSON-able dump of the view tables: keyed by table name, rows sorted by
 * primary key, each row's columns in the entity's declaration order, JSON columns parsed.
 * Projection checkpoints are left out. Two views databases hold the same read models
 * exactly when JSON.stringify of their dumps is equal.
 */
export async function dumpViews(
  dataSource: DataSource,
  entities: readonly EntityTarget<ObjectLiteral>[] = VIEW_TABLE_ENTITIES,
): Promise<Record<string, unknown[]>> {
  const dump: Record<string, unknown[]> = {};
  for (const entity of entities) {
    const metadata = dataSource.getMetadata(entity);
    const order = Object.fromEntries(
      metadata.primaryColumns.map((c) => [c.propertyPath, 'ASC' as const]),
    );
    const rows = await dataSource.getRepository(entity).find({ order });
    dump[metadata.tableName] = rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const column of metadata.columns) {
        const value: unknown = column.getEntityValue(row);
        out[column.propertyPath] = value === undefined ? null : value;
      }
      return out;
    });
  }
  return dump;
}
