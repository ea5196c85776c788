import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DuplicateEventError,
  WrongExpectedRevisionError,
  type EventStore,
  type StreamSubscription,
} from '../../src/event-store/event-store.port';
import {
  CURRENT_SCHEMA_VERSION,
  type EventMetadata,
  type NewEvent,
  type RecordedEvent,
} from '../../src/events';

/**
 * What every EventStore adapter must do. An adapter's test file calls
 * describeEventStoreContract(name, factory); the factory returns a fresh, EMPTY store and a
 * cleanup that disposes of it (close() is called by the suite before cleanup).
 *
 * The contract does not assume that positions are consecutive (only 1-based-or-more and
 * strictly increasing), so that adapters whose positions have gaps can pass it.
 */
export type EventStoreFactory = () => Promise<{
  store: EventStore;
  cleanup: () => Promise<void>;
  /** Where another process finds the same store; only stores that processes can share have one. */
  shared?: SharedStoreLocation;
}>;

/** How test/support/event-store-appender.ts opens the store in another process. */
export interface SharedStoreLocation {
  readonly kind: 'sqlite' | 'postgres';
  /** The SQLite file, or the PostgreSQL URL. */
  readonly location: string;
}

export interface ContractOptions {
  /** The store is a file or a server that other processes open too (not SQLite :memory:). */
  readonly sharedByProcesses?: boolean;
}

const APPENDER = join(process.cwd(), 'dist', 'test', 'support', 'event-store-appender.js');

/** Runs the appender in a child process; resolves with the positions it was given. */
async function appendFromAnotherProcess(
  shared: SharedStoreLocation,
  mode: 'cas' | 'any',
  stream: string,
  count: number,
  tag: string,
): Promise<number[]> {
  if (!existsSync(APPENDER)) {
    throw new Error(`${APPENDER} is missing: run npm run build before the contract suite`);
  }
  const { stdout } = await execFileAsync(
    process.execPath,
    [APPENDER, shared.kind, shared.location, mode, stream, String(count), tag],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { positions?: number[] };
  if (!Array.isArray(parsed.positions)) throw new Error(`appender printed ${stdout}`);
  return parsed.positions;
}

/** Builds a NewEvent with a random uuid and every metadata field filled in. */
export function makeEvent(
  type = 'ContractTested',
  data: unknown = { n: 1 },
  metadata: Partial<EventMetadata> = {},
): NewEvent {
  return {
    type,
    data,
    metadata: {
      eventId: randomUUID(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: {
        userId: `user-${randomUUID()}`,
        projectId: `project-${randomUUID()}`,
        roles: ['member', 'reader'],
      },
      requestId: `req-${randomUUID()}`,
      occurredAt: new Date().toISOString(),
      schemaVersion: CURRENT_SCHEMA_VERSION,
      ...metadata,
    },
  };
}

export function makeEvents(count: number, type = 'ContractTested'): NewEvent[] {
  return Array.from({ length: count }, (_, i) => makeEvent(type, { i }));
}

export function streamName(prefix = 'contract'): string {
  return `${prefix}-${randomUUID()}`;
}

const execFileAsync = promisify(execFile);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long the suite waits to be sure that something does NOT happen (several polls). */
const QUIET_MS = 600;

async function expectRejection<E extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${type.name}, but the call succeeded`);
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}

function eventIds(events: readonly RecordedEvent[]): string[] {
  return events.map((e) => e.metadata.eventId);
}

export function describeEventStoreContract(
  name: string,
  factory: EventStoreFactory,
  options: ContractOptions = {},
): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: () => Promise<void>;
    let shared: SharedStoreLocation | undefined;
    const subscriptions: StreamSubscription[] = [];

    beforeEach(async () => {
      ({ store, cleanup, shared } = await factory());
    });

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      await store.close();
      await cleanup();
    });

    function track(subscription: StreamSubscription): StreamSubscription {
      subscriptions.push(subscription);
      return subscription;
    }

    describe('append', () => {
      it("appends to a new stream with 'no_stream'", async () => {
        const stream = streamName();
        const events = makeEvents(2);
        const result = await store.append(stream, events, 'no_stream');
        expect(result.nextExpectedRevision).toBe(1);
        expect(result.position).toBeGreaterThanOrEqual(1);
        const read = await store.readStream(stream);
        expect(eventIds(read)).toEqual(eventIds(events as RecordedEvent[]));
        expect(read[1].position).toBe(result.position);
      });

      it("rejects 'no_stream' when the stream exists, and writes nothing", async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(1), 'no_stream');
        const error = await expectRejection(
          store.append(stream, makeEvents(1), 'no_stream'),
          WrongExpectedRevisionError,
        );
        expect(error.streamName).toBe(stream);
        expect(error.expected).toBe('no_stream');
        expect(error.actual).toBe(0);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it('appends at the exact revision, and rejects a stale one without writing', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(1), 'no_stream');
        const second = await store.append(stream, makeEvents(2), 0);
        expect(second.nextExpectedRevision).toBe(2);
        const positionBefore = await store.lastPosition();

        const stale = makeEvents(1);
        const error = await expectRejection(
          store.append(stream, stale, 0),
          WrongExpectedRevisionError,
        );
        expect(error.expected).toBe(0);
        expect(error.actual).toBe(2);
        await expectRejection(store.append(stream, makeEvents(1), 5), WrongExpectedRevisionError);

        expect(await store.readStream(stream)).toHaveLength(3);
        expect(await store.lastPosition()).toBe(positionBefore);
        const all = await store.readAll();
        expect(eventIds(all)).not.toContain(stale[0].metadata.eventId);

        const third = await store.append(stream, makeEvents(1), 2);
        expect(third.nextExpectedRevision).toBe(3);
      });

      it('rejects a revision on a missing stream with actual no_stream', async () => {
        const stream = streamName();
        const error = await expectRejection(
          store.append(stream, makeEvents(1), 0),
          WrongExpectedRevisionError,
        );
        expect(error.actual).toBe('no_stream');
        expect(await store.readStream(stream)).toEqual([]);
      });

      it("'any' appends to a new and to an existing stream", async () => {
        const stream = streamName();
        expect((await store.append(stream, makeEvents(1), 'any')).nextExpectedRevision).toBe(0);
        expect((await store.append(stream, makeEvents(2), 'any')).nextExpectedRevision).toBe(2);
        expect((await store.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2]);
      });

      it('rejects an empty batch with a clear error', async () => {
        const stream = streamName();
        await expect(store.append(stream, [], 'any')).rejects.toThrow(/empty/);
        expect(await store.readStream(stream)).toEqual([]);
      });

      it('rejects an event id that is already stored with DuplicateEventError', async () => {
        const first = makeEvent();
        await store.append(streamName(), [first], 'no_stream');
        const other = streamName();
        const again = makeEvent(
          'ContractTested',
          { other: true },
          { eventId: first.metadata.eventId },
        );
        const error = await expectRejection(
          store.append(other, [again], 'any'),
          DuplicateEventError,
        );
        expect(error.eventId).toBe(first.metadata.eventId);
        expect(await store.readStream(other)).toEqual([]);
      });

      it('rejects a duplicate on the same stream at the right revision', async () => {
        const stream = streamName();
        const first = makeEvent();
        await store.append(stream, [first], 'no_stream');
        await expectRejection(store.append(stream, [first], 0), DuplicateEventError);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it('writes none of a batch whose last event id is already stored', async () => {
        const stored = makeEvent();
        await store.append(streamName(), [stored], 'no_stream');
        const before = await store.readAll();
        const stream = streamName();
        const batch = [
          makeEvent(),
          makeEvent(),
          makeEvent('ContractTested', {}, { eventId: stored.metadata.eventId }),
        ];
        await expectRejection(store.append(stream, batch, 'no_stream'), DuplicateEventError);
        expect(await store.readStream(stream)).toEqual([]);
        expect(await store.readAll()).toEqual(before);
        // The stream still does not exist, so 'no_stream' works afterwards.
        await store.append(stream, batch.slice(0, 2), 'no_stream');
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it('writes none of a batch that repeats an event id inside itself', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(1), 'no_stream');
        const repeated = makeEvent();
        const batch = [makeEvent(), repeated, makeEvent(), repeated];
        await expectRejection(store.append(stream, batch, 0), DuplicateEventError);
        expect(await store.readStream(stream)).toHaveLength(1);
        expect(await store.readAll()).toHaveLength(1);
      });

      it('numbers revisions from 0, consecutively, across appends', async () => {
        const stream = streamName();
        let expected: number | 'no_stream' = 'no_stream';
        for (const size of [1, 3, 2, 1]) {
          const result = await store.append(stream, makeEvents(size), expected);
          expected = result.nextExpectedRevision;
        }
        const read = await store.readStream(stream);
        expect(read.map((e) => e.revision)).toEqual([0, 1, 2, 3, 4, 5, 6]);
        expect(read.every((e) => e.streamName === stream)).toBe(true);
        expect(expected).toBe(6);
      });

      it('gives global positions that increase across streams', async () => {
        const a = streamName('a');
        const b = streamName('b');
        const r1 = await store.append(a, makeEvents(2), 'no_stream');
        const r2 = await store.append(b, makeEvents(1), 'no_stream');
        const r3 = await store.append(a, makeEvents(1), 1);
        expect(r1.position).toBeGreaterThanOrEqual(1);
        expect(r2.position).toBeGreaterThan(r1.position);
        expect(r3.position).toBeGreaterThan(r2.position);

        const all = await store.readAll();
        expect(all.map((e) => e.streamName)).toEqual([a, a, b, a]);
        const positions = all.map((e) => e.position);
        for (let i = 1; i < positions.length; i++)
          expect(positions[i]).toBeGreaterThan(positions[i - 1]);
        expect(all[1].position).toBe(r1.position);
        expect(all[2].position).toBe(r2.position);
        expect(all[3].position).toBe(r3.position);
        // readStream reports the same positions as readAll.
        expect((await store.readStream(a)).map((e) => e.position)).toEqual([
          all[0].position,
          all[1].position,
          all[3].position,
        ]);
      });

      it('lets exactly one of 20 concurrent appends at the same revision win', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(1), 'no_stream');
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            store.append(stream, [makeEvent('Raced', { i })], 0),
          ),
        );
        const fulfilled = results.filter((r) => r.status === 'fulfilled');
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(fulfilled).toHaveLength(1);
        expect(rejected).toHaveLength(19);
        for (const r of rejected) expect(r.reason).toBeInstanceOf(WrongExpectedRevisionError);
        const read = await store.readStream(stream);
        expect(read.map((e) => e.revision)).toEqual([0, 1]);
      });

      it("lets exactly one of 20 concurrent 'no_stream' appends win", async () => {
        const stream = streamName();
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            store.append(stream, makeEvents(2, `Raced${i}`), 'no_stream'),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WrongExpectedRevisionError);
        }
        const read = await store.readStream(stream);
        expect(read).toHaveLength(2);
        expect(read[0].type).toBe(read[1].type);
      });
    });

    describe('read', () => {
      it('reads a missing stream as []', async () => {
        expect(await store.readStream(streamName())).toEqual([]);
      });

      it('reports lastPosition 0 on an empty log, then the last appended position', async () => {
        expect(await store.lastPosition()).toBe(0);
        expect(await store.readAll()).toEqual([]);
        const r1 = await store.append(streamName(), makeEvents(3), 'no_stream');
        expect(await store.lastPosition()).toBe(r1.position);
        const r2 = await store.append(streamName(), makeEvents(1), 'no_stream');
        expect(await store.lastPosition()).toBe(r2.position);
      });

      it('reads all with after and limit', async () => {
        const streams = [streamName(), streamName(), streamName()];
        for (const [i, s] of streams.entries())
          await store.append(s, makeEvents(i + 2), 'no_stream');
        const all = await store.readAll();
        expect(all).toHaveLength(9);
        expect(await store.readAll({ after: 0 })).toEqual(all);
        expect(await store.readAll({ limit: 4 })).toEqual(all.slice(0, 4));
        expect(await store.readAll({ after: all[3].position })).toEqual(all.slice(4));
        expect(await store.readAll({ after: all[3].position, limit: 2 })).toEqual(all.slice(4, 6));
        expect(await store.readAll({ after: all[8].position })).toEqual([]);
        expect(await store.readAll({ after: all[8].position + 1000, limit: 10 })).toEqual([]);
        // Paging with after/limit visits every event once, in order.
        const paged: RecordedEvent[] = [];
        let after = 0;
        for (;;) {
          const page = await store.readAll({ after, limit: 2 });
          if (page.length === 0) break;
          paged.push(...page);
          after = page[page.length - 1].position;
        }
        expect(paged).toEqual(all);
      });

      it('round-trips type, data and every metadata field exactly', async () => {
        const stream = streamName();
        const data = {
          name: 'snap ünïcødé 🚀 "quoted" \\ back',
          size: 1073741824,
          ratio: 0.125,
          flag: false,
          none: null,
          list: [1, 'two', { three: [3] }],
          nested: { deep: { deeper: { value: 'x' } } },
        };
        const metadata: EventMetadata = {
          eventId: randomUUID(),
          correlationId: randomUUID(),
          causationId: randomUUID(),
          actor: { userId: 'u-1', projectId: 'p-1', roles: ['admin', 'member', 'reader'] },
          requestId: 'req-0123456789abcdef',
          occurredAt: '2024-05-06T07:08:09.123Z',
          schemaVersion: CURRENT_SCHEMA_VERSION,
        };
        const scalar = makeEvent('ScalarData', 'just a string');
        await store.append(stream, [{ type: 'RoundTripped', data, metadata }, scalar], 'no_stream');

        const [read, readScalar] = await store.readStream(stream);
        expect(read.type).toBe('RoundTripped');
        expect(read.data).toEqual(data);
        expect(read.metadata).toEqual(metadata);
        expect(Object.keys(read.metadata).sort()).toEqual(Object.keys(metadata).sort());
        expect(read.streamName).toBe(stream);
        expect(read.revision).toBe(0);
        expect(readScalar.data).toBe('just a string');
        expect(readScalar.metadata).toEqual(scalar.metadata);

        const [fromAll] = await store.readAll();
        expect(fromAll).toEqual(read);
      });
    });

    describe('subscribe', () => {
      it('delivers history, calls onCaughtUp once, then delivers live appends in order; stop() stops', async () => {
        const a = streamName('a');
        const b = streamName('b');
        await store.append(a, makeEvents(2), 'no_stream');
        await store.append(b, makeEvents(1), 'no_stream');
        const history = await store.readAll();

        const received: RecordedEvent[] = [];
        const caughtUp: number[] = [];
        let inFlight = 0;
        let maxInFlight = 0;
        const sub = track(
          store.subscribe(
            async (event) => {
              inFlight += 1;
              maxInFlight = Math.max(maxInFlight, inFlight);
              await sleep(2);
              received.push(event);
              inFlight -= 1;
            },
            { after: 0, onCaughtUp: (position) => caughtUp.push(position) },
          ),
        );
        await vi.waitFor(() => expect(caughtUp).toHaveLength(1), { timeout: 5000, interval: 5 });
        expect(caughtUp[0]).toBe(history[2].position);
        expect(received).toEqual(history);

        await store.append(a, makeEvents(2), 1);
        await store.append(b, makeEvents(1), 0);
        await store.append(streamName('c'), makeEvents(1), 'no_stream');
        const all = await store.readAll();
        await vi.waitFor(() => expect(received).toHaveLength(all.length), {
          timeout: 5000,
          interval: 5,
        });
        expect(received).toEqual(all);
        expect(maxInFlight).toBe(1);
        expect(caughtUp).toHaveLength(1);

        await sub.stop();
        await store.append(a, makeEvents(1), 3);
        await sleep(QUIET_MS);
        expect(received).toHaveLength(all.length);
      });

      it('delivers only events after the given position', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(5), 'no_stream');
        const all = await store.readAll();
        const received: RecordedEvent[] = [];
        let caughtUpAt = -1;
        track(
          store.subscribe(
            async (event) => {
              received.push(event);
            },
            { after: all[2].position, onCaughtUp: (p) => (caughtUpAt = p) },
          ),
        );
        await vi.waitFor(() => expect(caughtUpAt).toBe(all[4].position), {
          timeout: 5000,
          interval: 5,
        });
        expect(received).toEqual(all.slice(3));
      });

      it('calls onCaughtUp with the start position on an empty log, then delivers live appends', async () => {
        const received: RecordedEvent[] = [];
        let caughtUpAt: number | undefined;
        track(
          store.subscribe(
            async (event) => {
              received.push(event);
            },
            { after: 0, onCaughtUp: (p) => (caughtUpAt = p) },
          ),
        );
        await vi.waitFor(() => expect(caughtUpAt).toBe(0), { timeout: 5000, interval: 5 });
        const stream = streamName();
        await store.append(stream, makeEvents(2), 'no_stream');
        await vi.waitFor(() => expect(received).toHaveLength(2), { timeout: 5000, interval: 5 });
        expect(received).toEqual(await store.readStream(stream));
      });

      it('delivers more history than one read batch, in order', async () => {
        const stream = streamName();
        let expected: number | 'no_stream' = 'no_stream';
        for (let i = 0; i < 13; i++) {
          expected = (await store.append(stream, makeEvents(100), expected)).nextExpectedRevision;
        }
        const received: number[] = [];
        let caughtUpAt = -1;
        track(
          store.subscribe(
            async (event) => {
              received.push(event.revision);
            },
            { after: 0, onCaughtUp: (p) => (caughtUpAt = p) },
          ),
        );
        const last = await store.lastPosition();
        await vi.waitFor(() => expect(caughtUpAt).toBe(last), { timeout: 10_000, interval: 10 });
        expect(received).toEqual(Array.from({ length: 1300 }, (_, i) => i));
      });

      it('ends the subscription when the handler throws, and delivers nothing after', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(4), 'no_stream');
        const received: number[] = [];
        const sub = track(
          store.subscribe(
            async (event) => {
              received.push(event.revision);
              if (event.revision === 1) throw new Error('handler failed');
            },
            { after: 0 },
          ),
        );
        await expect(
          Promise.race([sub.done.then(() => 'done'), sleep(5000).then(() => 'timeout')]),
        ).resolves.toBe('done');
        expect(received).toEqual([0, 1]);
        await store.append(stream, makeEvents(1), 3);
        await sleep(QUIET_MS);
        expect(received).toEqual([0, 1]);
        await sub.stop(); // stopping an ended subscription is harmless
      });

      it('ends the subscription when the handler throws on a live event', async () => {
        const stream = streamName();
        const received: number[] = [];
        let caughtUp = false;
        const sub = track(
          store.subscribe(
            async (event) => {
              received.push(event.revision);
              throw new Error('live handler failed');
            },
            { after: 0, onCaughtUp: () => (caughtUp = true) },
          ),
        );
        await vi.waitFor(() => expect(caughtUp).toBe(true), { timeout: 5000, interval: 5 });
        await store.append(stream, makeEvents(1), 'no_stream');
        await expect(
          Promise.race([sub.done.then(() => 'done'), sleep(5000).then(() => 'timeout')]),
        ).resolves.toBe('done');
        await store.append(stream, makeEvents(1), 0);
        await sleep(QUIET_MS);
        expect(received).toEqual([0]);
      });

      it('stop() resolves only after the running handler has finished', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(3), 'no_stream');
        let started = 0;
        let finished = 0;
        const sub = track(
          store.subscribe(
            async () => {
              started += 1;
              await sleep(200);
              finished += 1;
            },
            { after: 0 },
          ),
        );
        await vi.waitFor(() => expect(started).toBe(1), { timeout: 5000, interval: 5 });
        await sub.stop();
        expect(finished).toBe(started);
        expect(started).toBe(1);
        await sleep(QUIET_MS);
        expect(started).toBe(1);
      });

      it('keeps independent subscriptions independent', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(2), 'no_stream');
        const first: number[] = [];
        const second: number[] = [];
        const subA = track(store.subscribe(async (e) => void first.push(e.position), { after: 0 }));
        track(store.subscribe(async (e) => void second.push(e.position), { after: 0 }));
        await vi.waitFor(() => expect(first).toHaveLength(2), { timeout: 5000, interval: 5 });
        await subA.stop();
        await store.append(stream, makeEvents(1), 1);
        await vi.waitFor(() => expect(second).toHaveLength(3), { timeout: 5000, interval: 5 });
        expect(first).toHaveLength(2);
      });
    });

    if (options.sharedByProcesses) {
      describe('several processes', () => {
        function location(): SharedStoreLocation {
          if (!shared)
            throw new Error('this factory must return where other processes find the store');
          return shared;
        }

        it('two processes appending to one stream at the revision they read: every event lands once, revisions without holes', async () => {
          const stream = streamName('cas');
          const [a, b] = await Promise.all([
            appendFromAnotherProcess(location(), 'cas', stream, 60, 'a'),
            appendFromAnotherProcess(location(), 'cas', stream, 60, 'b'),
          ]);
          const events = await store.readStream(stream);
          expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 120 }, (_, i) => i));
          const tags = events.map((e) => (e.data as { tag: string; i: number }).tag);
          expect(tags.filter((t) => t === 'a')).toHaveLength(60);
          expect(tags.filter((t) => t === 'b')).toHaveLength(60);
          // Each process saw its own events in order, and each position was given once.
          for (const tag of ['a', 'b']) {
            const mine = events.filter((e) => (e.data as { tag: string }).tag === tag);
            expect(mine.map((e) => (e.data as { i: number }).i)).toEqual(
              Array.from({ length: 60 }, (_, i) => i),
            );
          }
          expect(new Set([...a, ...b]).size).toBe(120);
          expect([...a, ...b].sort((x, y) => x - y)).toEqual(events.map((e) => e.position));
        });

        it('a reader racing two appending processes never skips a position', async () => {
          const stream = streamName('race');
          let writing = true;
          const writers = Promise.all([
            appendFromAnotherProcess(location(), 'any', stream, 150, 'a'),
            appendFromAnotherProcess(location(), 'any', stream, 150, 'b'),
          ]).finally(() => (writing = false));
          const seen: number[] = [];
          let after = 0;
          // Read as a subscriber catching up does: from the last position seen, in small batches.
          for (;;) {
            const stillWriting = writing;
            const batch = await store.readAll({ after, limit: 7 });
            for (const event of batch) seen.push(event.position);
            if (batch.length > 0) after = batch[batch.length - 1]!.position;
            if (!stillWriting && batch.length === 0) break;
            // A synchronous adapter never yields otherwise, and the writers' exits must be heard.
            if (batch.length === 0) await sleep(1);
          }
          const positions = await writers;
          const stored = (await store.readAll()).map((e) => e.position);
          expect(stored).toHaveLength(300);
          expect(seen).toEqual(stored);
          expect([...positions[0], ...positions[1]].sort((x, y) => x - y)).toEqual(stored);
        });
      });
    }
  });
}
