import type { DataSource } from 'typeorm';
import { isAdmin, isUuid } from '../../domain/request-context';
import type { Actor } from '../../events';
import { InstanceView } from '../../projections/entities/instance-view.entity';
import {
  SnapshotHistory,
  type SnapshotResult,
} from '../../projections/entities/snapshot-history.entity';
import { decodeCursor, encodeCursor } from './query-cursor';

/** What to narrow the snapshot history to; fields combine with AND. */
export interface SnapshotHistoryFilter {
  readonly instanceId?: string;
  readonly imageId?: string;
  readonly result?: SnapshotResult;
  /** cold or offline. */
  readonly mode?: string;
  /** The project owning the snapshot's image. Non-admins asking for another project get nothing. */
  readonly projectId?: string;
}

/** A page of the history, newest first (requestedAt, then imageId, both descending). */
export interface SnapshotHistoryPage {
  /** 1..1000. */
  readonly limit: number;
  /** Continue after this row, from snapshotCursorKey(cursor). */
  readonly after?: SnapshotCursorKey;
}

export interface SnapshotCursorKey {
  readonly requestedAt: string;
  readonly imageId: string;
}

export interface SnapshotHistoryResult {
  readonly rows: SnapshotHistory[];
  /** Cursor for the next page, or null when this page is the last. */
  readonly nextCursor: string | null;
}

export const SNAPSHOT_HISTORY_MAX_LIMIT = 1000;

/** The cursor that resumes a listing just after `row` (also a Relay edge cursor). */
export function snapshotCursorOf(row: Pick<SnapshotHistory, 'requestedAt' | 'imageId'>): string {
  return encodeCursor([row.requestedAt, row.imageId]);
}

/** A requestedAt as the views keep it (Date#toISOString). */
const STORED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The row a cursor stands for, or null when the cursor is not valid: one that snapshotCursorOf
 * could have made (a stored time and an image uuid), so a forged one is refused rather than
 * read as a position before or after every row.
 */
export function snapshotCursorKey(cursor: string): SnapshotCursorKey | null {
  const key = decodeCursor(cursor, 2);
  if (!key) return null;
  const [requestedAt, imageId] = key;
  if (typeof requestedAt !== 'string' || !STORED_TIME.test(requestedAt)) return null;
  if (typeof imageId !== 'string' || !isUuid(imageId)) return null;
  return { requestedAt, imageId };
}

/**
 * Lists snapshots visible to `actor`, newest first, in ONE indexed query with a LIMIT
 * (keyset paging on (requestedAt, imageId); the (instanceId, requestedAt, imageId) index
 * serves the per-instance listing without a sort).
 *
 * Visibility: admins see everything. Anyone else sees the snapshots of their project's
 * instances (including ones an admin took) and the snapshots their project owns. With an
 * instanceId filter that is decided by one primary-key read of the instance; without it,
 * by a subquery on instance_view. Callers that must answer 404 for an unseen instance
 * check the instance first.
 */
export async function listSnapshotHistory(
  db: DataSource,
  actor: Actor,
  filter: SnapshotHistoryFilter,
  page: SnapshotHistoryPage,
): Promise<SnapshotHistoryResult> {
  const admin = isAdmin(actor);
  if (!admin && filter.projectId !== undefined && filter.projectId !== actor.projectId)
    return { rows: [], nextCursor: null };
  const limit = Math.max(1, Math.min(SNAPSHOT_HISTORY_MAX_LIMIT, Math.trunc(page.limit)));
  const instanceId = filter.instanceId?.toLowerCase();

  const q = db.getRepository(SnapshotHistory).createQueryBuilder('h');
  if (instanceId !== undefined) q.andWhere('h.instanceId = :instanceId', { instanceId });
  if (filter.imageId !== undefined)
    q.andWhere('h.imageId = :imageId', { imageId: filter.imageId.toLowerCase() });
  if (filter.result !== undefined) q.andWhere('h.result = :result', { result: filter.result });
  if (filter.mode !== undefined) q.andWhere('h.mode = :mode', { mode: filter.mode });
  if (filter.projectId !== undefined)
    q.andWhere('h.projectId = :projectId', { projectId: filter.projectId });
  if (!admin) {
    const own = { actorProject: actor.projectId };
    if (instanceId !== undefined) {
      const instance = await db.getRepository(InstanceView).findOne({
        where: { id: instanceId },
        select: { id: true, projectId: true },
      });
      if (instance?.projectId !== actor.projectId) q.andWhere('h.projectId = :actorProject', own);
    } else {
      const ownInstances = q
        .subQuery()
        .select('iv.id')
        .from(InstanceView, 'iv')
        .where('iv.projectId = :actorProject')
        .getQuery();
      q.andWhere(`(h.projectId = :actorProject OR h.instanceId IN ${ownInstances})`, own);
    }
  }
  if (page.after !== undefined)
    q.andWhere(
      '(h.requestedAt < :afterAt OR (h.requestedAt = :afterAt AND h.imageId < :afterImage))',
      { afterAt: page.after.requestedAt, afterImage: page.after.imageId },
    );
  const rows = await q
    .orderBy('h.requestedAt', 'DESC')
    .addOrderBy('h.imageId', 'DESC')
    .limit(limit + 1)
    .getMany();
  const pageRows = rows.slice(0, limit);
  const last = pageRows[pageRows.length - 1];
  return {
    rows: pageRows,
    nextCursor: rows.length > limit && last ? snapshotCursorOf(last) : null,
  };
}
