import DataLoader from 'dataloader';
import type { DataSource } from 'typeorm';
import { SnapshotHistory } from '../../../projections/entities/snapshot-history.entity';
import { snapshotCursorKey, snapshotCursorOf } from '../../queries/snapshot-history.query';
import { afterKey, type ConnectionValue, type PageRequest, toConnection } from '../connection';
import { firstRowsPerKey } from './first-rows-per-key';

/**
 * `Instance.snapshots`: one page of history per instance, newest first (the order and cursors
 * of listSnapshotHistory), for every instance of the response in one query. The parents are
 * instances the caller may see, and all of a visible instance's snapshots are visible (as in
 * GET /v1/instances/{id}/snapshots).
 */
export function snapshotsByInstanceLoader(
  db: DataSource,
  page: PageRequest,
): DataLoader<string, ConnectionValue<SnapshotHistory>> {
  const after = afterKey(page, snapshotCursorKey);
  return new DataLoader(async (instanceIds) => {
    const rows = await firstRowsPerKey(
      db,
      {
        entity: SnapshotHistory,
        keyColumn: 'instanceId',
        idColumn: 'imageId',
        order: [
          ['requestedAt', 'DESC'],
          ['imageId', 'DESC'],
        ],
        where: (q) => {
          if (after)
            q.andWhere(
              '("p"."requestedAt" < :afterAt OR ("p"."requestedAt" = :afterAt AND "p"."imageId" < :afterImage))',
              { afterAt: after.requestedAt, afterImage: after.imageId },
            );
        },
      },
      instanceIds,
      page.first + 1,
    );
    return instanceIds.map((id) => {
      const list = rows.get(id) ?? [];
      return toConnection(list.slice(0, page.first), snapshotCursorOf, list.length > page.first);
    });
  });
}
