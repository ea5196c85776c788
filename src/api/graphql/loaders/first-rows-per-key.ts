import type { DataSource, EntityTarget, ObjectLiteral, SelectQueryBuilder } from 'typeorm';

/** How to page the rows of many parents (e.g. instances) in one statement. */
export interface RowsPerKeyQuery<E extends ObjectLiteral> {
  readonly entity: EntityTarget<E>;
  /** Column holding the parent key (e.g. `instanceId`). */
  readonly keyColumn: keyof E & string;
  /** The primary-key column (one column). */
  readonly idColumn: keyof E & string;
  /** The page order, e.g. [['requestedAt', 'DESC'], ['imageId', 'DESC']]. */
  readonly order: readonly (readonly [keyof E & string, 'ASC' | 'DESC'])[];
  /** Further conditions on alias `p` (scoping, the `after` cursor), with bound parameters. */
  readonly where?: (q: SelectQueryBuilder<E>) => void;
}

/**
 * The first `take` rows of every key in `keys`, in ONE SQL statement whatever the number of
 * keys: a ROW_NUMBER() window partitioned by the key picks the page of each parent, so a
 * nested connection costs one query for all its parents (no N+1).
 */
export async function firstRowsPerKey<E extends ObjectLiteral>(
  db: DataSource,
  query: RowsPerKeyQuery<E>,
  keys: readonly string[],
  take: number,
): Promise<Map<string, E[]>> {
  const byKey = new Map<string, E[]>(keys.map((k) => [k, []]));
  if (keys.length === 0) return byKey;
  const orderSql = query.order.map(([column, dir]) => `"p"."${column}" ${dir}`).join(', ');
  const inner = db
    .createQueryBuilder(query.entity, 'p')
    .select(`"p"."${query.idColumn}"`, 'id')
    .addSelect(
      `ROW_NUMBER() OVER (PARTITION BY "p"."${query.keyColumn}" ORDER BY ${orderSql})`,
      'rn',
    )
    .where(`"p"."${query.keyColumn}" IN (:...pagedKeys)`, { pagedKeys: [...keys] });
  query.where?.(inner);
  const outer = db
    .createQueryBuilder(query.entity, 'r')
    .where(
      `"r"."${query.idColumn}" IN (SELECT w.id FROM (${inner.getQuery()}) w WHERE w.rn <= :take)`,
    )
    .setParameters({ ...inner.getParameters(), take });
  query.order.forEach(([column, dir], i) =>
    i === 0 ? outer.orderBy(`r.${column}`, dir) : outer.addOrderBy(`r.${column}`, dir),
  );
  for (const row of await outer.getMany()) {
    const key = String(row[query.keyColumn]);
    byKey.get(key)?.push(row);
  }
  return byKey;
}
