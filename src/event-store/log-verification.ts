import type { HashedLog } from './hashed-log.port';
import { chainHash, GENESIS_HASH, storedContentDigest, type LogHead } from './log-hash';

/** What broke the chain at the first broken position. */
export type LogBreakKind =
  /** Positions are missing between two stored rows: rows were deleted. */
  | 'missing-events'
  /** A row has no stored hash. */
  | 'missing-hash'
  /** A stream's revisions do not follow each other: rows were moved or deleted. */
  | 'stream-out-of-order'
  /** The row does not hash to its stored hash. */
  | 'hash-mismatch'
  /** The log ends before the head the auditor kept: its tail was removed. */
  | 'truncated'
  /** The hash at the kept head's position is not the kept one. */
  | 'head-mismatch';

export interface LogBreak {
  readonly kind: LogBreakKind;
  /** The first position that does not verify. */
  readonly position: number;
  /** What differs, in a sentence. */
  readonly detail: string;
}

export interface LogVerification {
  readonly ok: boolean;
  /** Rows whose hash was checked and found right. */
  readonly verified: number;
  /** The last position in the log (0 when empty). */
  readonly lastPosition: number;
  /** The last verified position and its hash; null when nothing verified. */
  readonly head: LogHead | null;
  readonly break: LogBreak | null;
}

export interface VerifyOptions {
  /** A head kept from an earlier `verify --export-head`: the log must still contain it. */
  readonly expectHead?: LogHead;
  readonly batchSize?: number;
  /** Called after each batch with the rows verified and the log's last position. */
  readonly onProgress?: (verified: number, lastPosition: number) => void;
}

interface StreamTip {
  readonly revision: number;
  readonly position: number;
}

/**
 * Walks the whole log in position order and recomputes every hash from the row as stored.
 * Stops at the first break and says where and what; the chain before it is sound.
 */
export async function verifyLog(
  log: HashedLog,
  options: VerifyOptions = {},
): Promise<LogVerification> {
  const batchSize = options.batchSize ?? 5000;
  const lastPosition = await log.lastPosition();
  const tips = new Map<string, StreamTip>();
  let previous = GENESIS_HASH;
  let expected = 1;
  let verified = 0;
  let kept: string | null = null;
  const result = (found: LogBreak | null): LogVerification => ({
    ok: found === null,
    verified,
    lastPosition,
    head: verified === 0 ? null : { position: expected - 1, hash: previous },
    break: found,
  });

  for (;;) {
    const rows = await log.readHashedRows(expected - 1, batchSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      const where = `position ${row.position} (stream ${row.stream_name} revision ${row.stream_revision}, ${row.type}, event ${row.event_id})`;
      if (row.position !== expected) {
        return result({
          kind: 'missing-events',
          position: expected,
          detail:
            row.position === expected + 1
              ? `position ${expected} is not in the log: the event there was deleted`
              : `positions ${expected} to ${row.position - 1} are not in the log: the events there were deleted`,
        });
      }
      const tip = tips.get(row.stream_name);
      const wanted = tip === undefined ? 0 : tip.revision + 1;
      if (row.stream_revision !== wanted) {
        return result({
          kind: 'stream-out-of-order',
          position: row.position,
          detail:
            tip === undefined
              ? `${where}: the stream's first event in the log has revision ${row.stream_revision}, not 0: events were deleted or moved`
              : `${where}: the stream's event before it (position ${tip.position}) has revision ${tip.revision}, so this one should be ${wanted}: events were deleted or moved`,
        });
      }
      if (row.hash === null) {
        return result({
          kind: 'missing-hash',
          position: row.position,
          detail: `${where} has no stored hash: its hash was deleted`,
        });
      }
      let computed: string;
      try {
        computed = chainHash(
          previous,
          row.position,
          row.stream_revision,
          storedContentDigest(row.stream_name, row.type, row.data, row.metadata),
        );
      } catch (error) {
        return result({
          kind: 'hash-mismatch',
          position: row.position,
          detail: `${where}: the stored data or metadata is not JSON (${error instanceof Error ? error.message : String(error)})`,
        });
      }
      if (computed !== row.hash) {
        return result({
          kind: 'hash-mismatch',
          position: row.position,
          detail: `${where}: the stored hash is ${row.hash} but the row hashes to ${computed}: its data, metadata, stream, type, revision or position was changed, or the event before it was rewritten`,
        });
      }
      if (options.expectHead?.position === row.position) kept = row.hash;
      tips.set(row.stream_name, { revision: row.stream_revision, position: row.position });
      previous = computed;
      expected += 1;
      verified += 1;
    }
    options.onProgress?.(verified, lastPosition);
  }

  const head = options.expectHead;
  if (head !== undefined) {
    if (expected - 1 < head.position) {
      return result({
        kind: 'truncated',
        position: expected,
        detail: `the log ends at position ${expected - 1}, but the head you kept is at position ${head.position}: events ${expected} to ${head.position} were removed`,
      });
    }
    if (kept !== head.hash) {
      return result({
        kind: 'head-mismatch',
        position: head.position,
        detail: `the hash at position ${head.position} is ${String(kept)}, not the ${head.hash} you kept: the log up to there was rewritten and re-hashed`,
      });
    }
  }
  return result(null);
}
