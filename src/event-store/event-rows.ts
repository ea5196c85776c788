import type { EventMetadata } from '../events/event-metadata';
import type { NewEvent, RecordedEvent } from '../events/recorded-event';
import { upcast } from '../events/upcasters';
import { storedContentDigest } from './log-hash';
import {
  DuplicateEventError,
  type ExpectedRevision,
  type ReadAllOptions,
} from './event-store.port';

/** What every adapter stores per event, and how it becomes a RecordedEvent again. */
export interface EventRow {
  readonly position: number;
  readonly stream_name: string;
  readonly stream_revision: number;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return upcast<RecordedEvent>({
    streamName: row.stream_name,
    revision: row.stream_revision,
    position: row.position,
    type: row.type,
    data: JSON.parse(row.data) as unknown,
    metadata: JSON.parse(row.metadata) as EventMetadata,
  });
}

export function checkExpectedRevision(expected: ExpectedRevision): void {
  if (expected === 'any' || expected === 'no_stream') return;
  if (typeof expected !== 'number' || !Number.isSafeInteger(expected) || expected < 0) {
    throw new TypeError(
      `expected revision must be 'no_stream', 'any' or an integer >= 0, got ${String(expected)}`,
    );
  }
}

export interface PreparedRow {
  readonly eventId: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  /** The content digest of the row as stored (log-hash.ts): what its chain hash covers. */
  readonly digest: string;
}

export function serialize(streamName: string, events: readonly NewEvent[]): PreparedRow[] {
  if (events.length === 0) {
    throw new Error(
      `append to ${streamName}: the batch is empty; an append needs at least one event`,
    );
  }
  const rows: PreparedRow[] = [];
  const seen = events.length > 1 ? new Set<string>() : undefined;
  for (const event of events) {
    const eventId = event.metadata?.eventId;
    if (typeof eventId !== 'string' || eventId.length === 0) {
      throw new TypeError(`append to ${streamName}: every event needs metadata.eventId`);
    }
    if (typeof event.type !== 'string' || event.type.length === 0) {
      throw new TypeError(`append to ${streamName}: event ${eventId} has no type`);
    }
    if (seen) {
      if (seen.has(eventId)) throw new DuplicateEventError(eventId);
      seen.add(eventId);
    }
    const data = JSON.stringify(event.data);
    if (data === undefined) {
      throw new TypeError(
        `append to ${streamName}: the data of event ${eventId} is not JSON-serializable`,
      );
    }
    const metadata = JSON.stringify(event.metadata);
    rows.push({
      eventId,
      type: event.type,
      data,
      metadata,
      digest: storedContentDigest(streamName, event.type, data, metadata),
    });
  }
  return rows;
}

/** Checks an append's arguments and serialises its events; every adapter starts here. */
export function prepareAppend(
  streamName: string,
  events: readonly NewEvent[],
  expected: ExpectedRevision,
): PreparedRow[] {
  if (typeof streamName !== 'string' || streamName.length === 0) {
    throw new TypeError('append: the stream name must be a non-empty string');
  }
  checkExpectedRevision(expected);
  return serialize(streamName, events);
}

/** readAll's window, checked: `limit` null means no limit, 0 means read nothing. */
export function readWindow(options: ReadAllOptions): { after: number; limit: number | null } {
  const after = options.after ?? 0;
  if (!Number.isSafeInteger(after) || after < 0)
    throw new RangeError(`readAll: after must be an integer >= 0`);
  const limit = options.limit ?? null;
  if (limit !== null && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new RangeError(`readAll: limit must be an integer >= 0`);
  }
  return { after, limit };
}
