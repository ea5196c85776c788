import { randomUUID } from 'node:crypto';
import { SYSTEM_ACTOR } from '../events/event-metadata';
import type { LogHashesBackfilled } from '../events/log.events';
import type { NewEvent } from '../events/recorded-event';
import { schemaVersionOf } from '../events/schema-versions';
import { logIntegrityStream } from '../events/stream-names';

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
