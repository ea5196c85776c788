import {
  ANY,
  DeadlineExceededError,
  NO_STREAM,
  UnavailableError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendStreamState,
  type JSONEventData,
  type JSONType,
  type Position,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import type { EventRow, PreparedRow } from './event-rows';
import { WrongExpectedRevisionError, type ExpectedRevision } from './event-store.port';

/**
 * Pure translations between the event store port and EventStoreDB/KurrentDB, kept apart from
 * the adapter so that they are tested without a server.
 *
 * Positions. An ESDB $all position is a pair of byte offsets in the transaction log: commit
 * (where the append's transaction starts, shared by every event of one append) and prepare
 * (where this event's own record is). The port needs one number per event that is unique and
 * grows with log order, so the port position is the PREPARE position: appends over gRPC are
 * implicit transactions written contiguously, so prepare positions grow in $all order. The
 * commit position alone would repeat within a batch. A log past 2^53 bytes (8 PiB) cannot be
 * expressed and is refused with an error rather than rounded.
 */

/** The ESDB stream state for the port's expected revision. */
export function toStreamState(expected: ExpectedRevision): AppendStreamState {
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'any') return ANY;
  return BigInt(expected);
}

/** ESDB revisions are 0-based bigints, as ours are numbers: refuse what a number cannot hold. */
export function toRevision(revision: bigint, streamName: string): number {
  if (revision < 0n || revision > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(
      `EventStoreDB revision ${revision} of ${streamName} is not a safe integer`,
    );
  }
  return Number(revision);
}

/** The port position of an event at this $all position (see the note at the top). */
export function toLogPosition(position: Position): number {
  const prepare = position.prepare;
  if (prepare > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(
      `EventStoreDB log position ${prepare} is past 2^53: snapledger cannot number this log`,
    );
  }
  // The log opens with the epoch record, so no event of ours sits at 0.
  if (prepare < 1n) throw new RangeError(`EventStoreDB log position ${prepare} is not an event's`);
  return Number(prepare);
}

/**
 * Where a forward $all read resumes for `after`: ESDB returns the events whose
 * (commit, prepare) is at or past the given pair. `commit` is the commit position of the event
 * at `after` (or of an earlier one) when the caller knows it; without it `after` itself is the
 * commit, which is right whenever that event opened its append.
 */
export function resumePosition(after: number, commit?: bigint): Position {
  const prepare = BigInt(after);
  return { commit: commit !== undefined && commit <= prepare ? commit : prepare, prepare };
}

/**
 * Our event as ESDB event data: its metadata.eventId is the ESDB event id, so a retried
 * append is recognised by the server's idempotence check; the metadata travels as JSON.
 */
export function toEventData(row: PreparedRow): JSONEventData {
  if (!UUID.test(row.eventId)) {
    throw new TypeError(`EventStoreDB needs a UUID event id, got "${row.eventId}"`);
  }
  return {
    id: row.eventId,
    contentType: 'application/json',
    type: row.type,
    // JSON scalars are valid event data; the client only JSON.stringifies it.
    data: JSON.parse(row.data) as JSONType,
    metadata: JSON.parse(row.metadata) as JSONType,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An ESDB event as the shared row the other adapters build, so upcasting and parsing stay in
 * one place. `streamName` is the name without the store's prefix.
 */
export function toEventRow(
  resolved: ResolvedEvent | AllStreamResolvedEvent,
  streamName: string,
): EventRow {
  const event = resolved.event;
  if (!event) throw new Error(`an EventStoreDB read on ${streamName} returned a link to nothing`);
  if (!event.position) {
    throw new Error(
      `EventStoreDB returned ${streamName}@${event.revision} without its log position: the server is too old (KurrentDB/EventStoreDB 22.10 or later is needed)`,
    );
  }
  if (!event.isJson || event.data instanceof Uint8Array) {
    throw new Error(`event ${event.id} on ${streamName} is not JSON: not written by snapledger`);
  }
  return {
    position: toLogPosition(event.position),
    stream_name: streamName,
    stream_revision: toRevision(event.revision, streamName),
    type: event.type,
    data: JSON.stringify(event.data),
    metadata: JSON.stringify(event.metadata ?? {}),
  };
}

/** System streams ($-prefixed, and $$ metadata streams) are never part of our log. */
export function isSystemStream(streamId: string): boolean {
  return streamId.startsWith('$');
}

/** Maps the client's errors to the port's; anything else is returned as it is. */
export function toPortError(
  error: unknown,
  streamName: string,
  expected: ExpectedRevision,
): unknown {
  if (error instanceof WrongExpectedVersionError) {
    const actual = error.actualState;
    return new WrongExpectedRevisionError(
      streamName,
      expected,
      actual === NO_STREAM ? 'no_stream' : toRevision(actual, streamName),
    );
  }
  return error;
}

/** Says which server a connection string names, without credentials. */
export function describeEventStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'the configured EventStoreDB URL';
  }
}

/**
 * The connection string handed to the client: esdb:// is what EventStoreDB users know and
 * what we accept, but the client prints a deprecation warning for it on every start.
 */
export function clientConnectionString(url: string): string {
  return url.replace(/^esdb(\+discover)?:\/\//i, (_, discover: string | undefined) =>
    discover ? 'kurrentdb+discover://' : 'kurrentdb://',
  );
}

/** Why opening the store failed, in words an operator can act on. */
export function describeOpenFailure(error: unknown): string {
  if (error instanceof UnavailableError) {
    return 'no server answered (unreachable, refused or not resolvable; check the host, the port and tls=)';
  }
  if (error instanceof DeadlineExceededError) return 'the server did not answer in time';
  return error instanceof Error ? error.message : String(error);
}
