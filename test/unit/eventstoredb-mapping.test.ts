import { randomUUID } from 'node:crypto';
import {
  ANY,
  DeadlineExceededError,
  NO_STREAM,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { describe, expect, it } from 'vitest';
import { serialize, toRecordedEvent } from '../../src/event-store/event-rows';
import { WrongExpectedRevisionError } from '../../src/event-store/event-store.port';
import {
  clientConnectionString,
  describeEventStoreUrl,
  describeOpenFailure,
  isSystemStream,
  resumePosition,
  toEventData,
  toEventRow,
  toLogPosition,
  toPortError,
  toRevision,
  toStreamState,
} from '../../src/event-store/eventstoredb-mapping';
import type { EventMetadata, NewEvent } from '../../src/events';

const metadata = (): EventMetadata => ({
  eventId: randomUUID(),
  correlationId: randomUUID(),
  causationId: randomUUID(),
  actor: { userId: 'u-1', projectId: 'p-1', roles: ['admin', 'member'] },
  requestId: 'req-1',
  occurredAt: '2024-05-06T07:08:09.123Z',
  schemaVersion: 1,
});

/** What the client hands back for an event that toEventData sent, at this $all position. */
function asRead(
  sent: ReturnType<typeof toEventData>,
  streamId: string,
  revision: bigint,
  position: { commit: bigint; prepare: bigint },
): AllStreamResolvedEvent {
  return {
    event: {
      streamId,
      id: sent.id,
      isJson: true,
      revision,
      type: sent.type,
      created: new Date(),
      // The client JSON.stringifies on append and JSON.parses on read.
      data: JSON.parse(JSON.stringify(sent.data)) as never,
      metadata: JSON.parse(JSON.stringify(sent.metadata)) as never,
      position,
    },
    commitPosition: position.commit,
  };
}

describe('EventStoreDB mapping: expected revisions', () => {
  it("maps 'no_stream' to NO_STREAM, 'any' to ANY and a number to the same bigint", () => {
    expect(toStreamState('no_stream')).toBe(NO_STREAM);
    expect(toStreamState('any')).toBe(ANY);
    expect(toStreamState(0)).toBe(0n);
    expect(toStreamState(41)).toBe(41n);
    expect(toStreamState(Number.MAX_SAFE_INTEGER)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
  });

  it('reads 0-based bigint revisions as numbers and refuses what a number cannot hold', () => {
    expect(toRevision(0n, 's')).toBe(0);
    expect(toRevision(7n, 's')).toBe(7);
    expect(() => toRevision(BigInt(Number.MAX_SAFE_INTEGER) + 1n, 's')).toThrow(/not a safe/);
    expect(() => toRevision(-1n, 's')).toThrow(RangeError);
  });
});

describe('EventStoreDB mapping: positions', () => {
  it("takes the prepare position, unique per event, not the commit an append's events share", () => {
    const batch = [
      { commit: 1000n, prepare: 1000n },
      { commit: 1000n, prepare: 1180n },
      { commit: 1000n, prepare: 1377n },
    ];
    const positions = batch.map(toLogPosition);
    expect(positions).toEqual([1000, 1180, 1377]);
    expect(new Set(positions).size).toBe(3);
  });

  it('refuses a position past 2^53 instead of rounding it, and 0, where no event is', () => {
    const limit = BigInt(Number.MAX_SAFE_INTEGER);
    expect(toLogPosition({ commit: limit, prepare: limit })).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => toLogPosition({ commit: limit, prepare: limit + 1n })).toThrow(/past 2\^53/);
    expect(() => toLogPosition({ commit: 0n, prepare: 0n })).toThrow(RangeError);
  });

  it("resumes at the commit of the append holding 'after', never past it", () => {
    expect(resumePosition(1180, 1000n)).toEqual({ commit: 1000n, prepare: 1180n });
    // Without a known commit, 'after' opens its append.
    expect(resumePosition(1180)).toEqual({ commit: 1180n, prepare: 1180n });
    // A commit after 'after' cannot be the event's: it would skip events.
    expect(resumePosition(1180, 2000n)).toEqual({ commit: 1180n, prepare: 1180n });
  });
});

describe('EventStoreDB mapping: events', () => {
  it('uses metadata.eventId as the ESDB event id and round-trips type, data and metadata', () => {
    const events: NewEvent[] = [
      {
        type: 'ImageQueued',
        data: { name: 'snap ü 🚀', size: 3, none: null },
        metadata: metadata(),
      },
      { type: 'Scalar', data: 'just a string', metadata: metadata() },
    ];
    const sent = serialize('image-1', events).map(toEventData);
    expect(sent.map((e) => e.id)).toEqual(events.map((e) => e.metadata.eventId));
    expect(sent.every((e) => e.contentType === 'application/json')).toBe(true);

    const read = sent.map((e, i) =>
      toRecordedEvent(
        toEventRow(
          asRead(e, 'pfx_image-1', BigInt(i), { commit: 500n, prepare: 500n + BigInt(i) }),
          'image-1',
        ),
      ),
    );
    expect(read.map((e) => [e.streamName, e.revision, e.position])).toEqual([
      ['image-1', 0, 500],
      ['image-1', 1, 501],
    ]);
    expect(read.map((e) => e.type)).toEqual(['ImageQueued', 'Scalar']);
    expect(read.map((e) => e.data)).toEqual(events.map((e) => e.data));
    expect(read.map((e) => e.metadata)).toEqual(events.map((e) => e.metadata));
  });

  it('refuses an event id that ESDB cannot take (not a UUID)', () => {
    const [row] = serialize('s', [
      { type: 'T', data: {}, metadata: { ...metadata(), eventId: 'evt-1' } },
    ]);
    expect(() => toEventData(row!)).toThrow(/UUID event id, got "evt-1"/);
  });

  it('refuses an event read without its log position (a server older than 22.10)', () => {
    const [row] = serialize('s', [{ type: 'T', data: {}, metadata: metadata() }]);
    const resolved = asRead(toEventData(row!), 's', 0n, { commit: 1n, prepare: 1n });
    const withoutPosition = { event: { ...resolved.event!, position: undefined } };
    expect(() => toEventRow(withoutPosition as never, 's')).toThrow(/without its log position/);
  });

  it('treats $-prefixed streams, metadata streams included, as system streams', () => {
    expect(isSystemStream('$stats-127.0.0.1:2113')).toBe(true);
    expect(isSystemStream('$$image-1')).toBe(true);
    expect(isSystemStream('image-1')).toBe(false);
    expect(isSystemStream('instance-$1')).toBe(false);
  });
});

describe("EventStoreDB mapping: the client's errors", () => {
  it('maps WrongExpectedVersionError to WrongExpectedRevisionError with the actual revision', () => {
    const existing = new WrongExpectedVersionError(undefined, {
      streamName: 'pfx_image-1',
      expected: NO_STREAM,
      current: 4n,
    });
    const mapped = toPortError(existing, 'image-1', 'no_stream');
    expect(mapped).toBeInstanceOf(WrongExpectedRevisionError);
    expect(mapped).toMatchObject({ streamName: 'image-1', expected: 'no_stream', actual: 4 });

    const missing = new WrongExpectedVersionError(undefined, {
      streamName: 'pfx_image-2',
      expected: 3n,
      current: NO_STREAM,
    });
    expect(toPortError(missing, 'image-2', 3)).toMatchObject({
      expected: 3,
      actual: 'no_stream',
    });
  });

  it('passes other errors through unchanged', () => {
    const notFound = new StreamNotFoundError(undefined, 'image-1');
    expect(toPortError(notFound, 'image-1', 'any')).toBe(notFound);
    const plain = new Error('boom');
    expect(toPortError(plain, 'image-1', 0)).toBe(plain);
  });

  it('says in words why opening failed', () => {
    expect(describeOpenFailure(new UnavailableError())).toMatch(/no server answered/);
    expect(describeOpenFailure(new DeadlineExceededError())).toMatch(/did not answer in time/);
    expect(describeOpenFailure(new Error('access denied'))).toBe('access denied');
  });
});

describe('EventStoreDB mapping: connection strings', () => {
  it('hands the client kurrentdb:// for esdb://, so that it prints no deprecation warning', () => {
    expect(clientConnectionString('esdb://h:2113?tls=false')).toBe('kurrentdb://h:2113?tls=false');
    expect(clientConnectionString('esdb+discover://a,b')).toBe('kurrentdb+discover://a,b');
    expect(clientConnectionString('kurrentdb://h')).toBe('kurrentdb://h');
  });

  it('names the server without the credentials', () => {
    const shown = describeEventStoreUrl('esdb://admin:changeit@db.example:2113?tls=false');
    expect(shown).toBe('esdb://db.example:2113?tls=false');
    expect(describeEventStoreUrl('not a url:admin:pw')).not.toContain('pw');
  });
});
