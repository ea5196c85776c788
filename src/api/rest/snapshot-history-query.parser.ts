import { ValidationError } from '../../domain/domain-errors';
import {
  SNAPSHOT_HISTORY_MAX_LIMIT,
  snapshotCursorKey,
  type SnapshotHistoryPage,
} from '../queries/snapshot-history.query';
import type { SnapshotResult } from '../../projections/entities/snapshot-history.entity';
import {
  enumParam,
  intParam,
  type RawQuery,
  rejectUnknownParams,
  singleParam,
  uuidParam,
} from './query-params.parser';

export const SNAPSHOT_HISTORY_DEFAULT_LIMIT = 100;

/**
 * Parses GET /v1/instances/{id}/snapshots's query string: limit (1..1000, default 100),
 * cursor (opaque), result (running|active|killed|deleted), mode (cold|offline|live) and
 * image (a uuid: that one snapshot).
 * Throws ValidationError (400).
 */
export function parseSnapshotHistoryQuery(query: RawQuery): {
  filter: { result?: SnapshotResult; mode?: string; imageId?: string };
  page: SnapshotHistoryPage;
} {
  rejectUnknownParams(query, ['limit', 'cursor', 'result', 'mode', 'image']);
  const cursor = singleParam(query, 'cursor');
  const after = cursor === undefined ? undefined : snapshotCursorKey(cursor);
  if (after === null) throw new ValidationError('Query parameter cursor is not valid.');
  const result = enumParam(query, 'result', ['running', 'active', 'killed', 'deleted'] as const);
  const mode = enumParam(query, 'mode', ['cold', 'offline', 'live'] as const);
  const image = uuidParam(query, 'image');
  return {
    filter: {
      ...(result === undefined ? {} : { result }),
      ...(mode === undefined ? {} : { mode }),
      ...(image === undefined ? {} : { imageId: image }),
    },
    page: {
      limit: intParam(query, 'limit', {
        min: 1,
        max: SNAPSHOT_HISTORY_MAX_LIMIT,
        fallback: SNAPSHOT_HISTORY_DEFAULT_LIMIT,
      }),
      ...(after === undefined ? {} : { after }),
    },
  };
}
