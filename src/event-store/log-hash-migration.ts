import { randomUUID } from 'node:crypto';
import { SYSTEM_ACTOR } from '../events/event-metadata';
import type { LogHashesBackfilled } from '../events/log.events';
import type { NewEvent } from '../events/recorded-event';
import { schemaVersionOf } from '../events/schema-versions';
import { logIntegrityStream } from '../events/stream-names';
import type { EventRow } from './event-rows';
import { chainHash, storedContentDigest } from './log-hash';

/** Rows hashed per transaction by the one-time migration: each batch commits on its own. */
export const BACKFILL_BATCH = 5000;

/** The event that records the migration, appended in the transaction of its last batch. */
export function hashesBackfilledEvent(
  upToPosition: number,
  headHash: string,
  now: Date = new Date(),
): { streamName: string; event: NewEvent<'LogHashesBackfilled', LogHashesBackfilled['data']> } {
  const eventId = randomUUID();
  return {
    streamName: logIntegrityStream,
    event: {
      type: 'LogHashesBackfilled',
      data: { upToPosition, headHash },
      metadata: {
        eventId,
        correlationId: eventId,
        causationId: eventId,
        requestId: 'log-hash-migration',
        actor: SYSTEM_ACTOR,
        occurredAt: now.toISOString(),
        schemaVersion: schemaVersionOf('LogHashesBackfilled'),
      },
    },
  };
}

/** A position of the log and the hash stored for it. */
export interface HashedPosition {
  readonly position: number;
  readonly hash: string;
}

/**
 * The hashes of stored rows that follow `from` without a gap, in order: what the migration
 * writes. A missing position stops it, since hashing over a hole would vouch for a log
 * someone has cut.
 */
export function hashFollowingRows(
  from: HashedPosition,
  rows: readonly EventRow[],
): HashedPosition[] {
  let { position, hash } = from;
  return rows.map((row) => {
    if (row.position !== position + 1) {
      throw new Error(
        `cannot hash the log: position ${position + 1} is missing (the next stored event is at ${row.position}); run snapledger verify`,
      );
    }
    position = row.position;
    hash = chainHash(
      hash,
      position,
      row.stream_revision,
      storedContentDigest(row.stream_name, row.type, row.data, row.metadata),
    );
    return { position, hash };
  });
}
