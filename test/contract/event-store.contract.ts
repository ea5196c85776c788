import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  subscribeFromCheckpoint,
  type CheckpointedSubscription,
  type SubscriptionBackoff,
  type SubscriptionFailure,
} from '../../src/event-store/checkpointed-subscription';
import {
  DuplicateEventError,
  EventStoreClosedError,
  WrongExpectedRevisionError,
  type EventStore,
} from '../../src/event-store/event-store.port';
import { type EventMetadata, type NewEvent, type RecordedEvent } from '../../src/events';

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
  /**
   * An event id already stored anywhere in the log refuses the append with
   * DuplicateEventError (default true). EventStoreDB keeps ids unique only through its
   * per-stream idempotence, so its adapter passes false and those three tests do not run;
   * a batch repeating an id inside itself is refused by every adapter.
   */
  readonly eventIdsUniqueInLog?: boolean;
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
      schemaVersion: 1,
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
    const subscriptions: CheckpointedSubscription[] = [];

    beforeEach(async () => {
      ({ store, cleanup, shared } = await factory());
    });

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      await store.close();
      await cleanup();
    });

    function track(subscription: CheckpointedSubscription): CheckpointedSubscription {
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

      const itUniqueIds = it.runIf(options.eventIdsUniqueInLog ?? true);

      itUniqueIds(
        'rejects an event id that is already stored with DuplicateEventError',
        async () => {
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
        },
      );

      itUniqueIds('rejects a duplicate on the same stream at the right revision', async () => {
        const stream = streamName();
        const first = makeEvent();
        await store.append(stream, [first], 'no_stream');
        await expectRejection(store.append(stream, [first], 0), DuplicateEventError);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      itUniqueIds('writes none of a batch whose last event id is already stored', async () => {
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
          schemaVersion: 1,
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

    describe('wake-up', () => {
      it('calls its listeners by the time an append resolves, and not once removed', async () => {
        let first = 0;
        let second = 0;
        const removeFirst = store.onAppended(() => (first += 1));
        const removeSecond = store.onAppended(() => (second += 1));
        try {
          await store.append(streamName(), makeEvents(2), 'no_stream');
          expect(first).toBeGreaterThanOrEqual(1);
          expect(second).toBeGreaterThanOrEqual(1);
          removeFirst();
          const before = first;
          await store.append(streamName(), makeEvents(1), 'no_stream');
          await sleep(QUIET_MS);
          expect(first).toBe(before);
          expect(second).toBeGreaterThanOrEqual(2);
        } finally {
          removeFirst();
          removeSecond();
        }
      });

      it('wakes its listeners once more on close(), and then refuses every call', async () => {
        let woken = 0;
        store.onAppended(() => (woken += 1));
        await store.close();
        expect(woken).toBeGreaterThanOrEqual(1);
        await store.close(); // idempotent
        await expectRejection(
          store.append(streamName(), makeEvents(1), 'any'),
          EventStoreClosedError,
        );
        await expectRejection(store.readAll(), EventStoreClosedError);
        await expectRejection(store.readStream(streamName()), EventStoreClosedError);
        await expectRejection(store.lastPosition(), EventStoreClosedError);
        expect(() => store.onAppended(() => undefined)).toThrow(EventStoreClosedError);
      });
    });

    describe('checkpointed subscription', () => {
      interface Follower {
        /** Events handled (the handler returned), in order. */
        readonly handled: RecordedEvent[];
        /** The positions onCaughtUp was called with. */
        readonly caughtUp: number[];
        readonly failures: SubscriptionFailure[];
        /** How often the subscription read the checkpoint. */
        checkpointReads: number;
        /** Moved past each handled event, as a subscriber does with its own writes. */
        checkpoint: number;
        readonly subscription: CheckpointedSubscription;
      }

      interface FollowOptions {
        readonly from?: number;
        /** Runs before the event counts as handled; a throw is the handler failing. */
        readonly before?: (event: RecordedEvent, follower: Follower) => Promise<void>;
        readonly backoff?: SubscriptionBackoff;
        readonly signal?: AbortSignal;
      }

      function follow(options: FollowOptions = {}): Follower {
        const follower = {
          handled: [] as RecordedEvent[],
          caughtUp: [] as number[],
          failures: [] as SubscriptionFailure[],
          checkpointReads: 0,
          checkpoint: options.from ?? 0,
        } as Omit<Follower, 'subscription'> & { subscription?: CheckpointedSubscription };
        follower.subscription = track(
          subscribeFromCheckpoint(store, {
            checkpoint: async () => {
              follower.checkpointReads += 1;
              return follower.checkpoint;
            },
            handle: async (event) => {
              await options.before?.(event, follower as Follower);
              follower.handled.push(event);
              follower.checkpoint = event.position;
            },
            onCaughtUp: (position) => void follower.caughtUp.push(position),
            onFailure: (failure) => void follower.failures.push(failure),
            backoff: options.backoff ?? { firstMs: 20, maxMs: 1000 },
            signal: options.signal,
          }),
        );
        return follower as Follower;
      }

      /** Resolves with how long `promise` took, or rejects after `ms`. */
      async function within(ms: number, promise: Promise<unknown>): Promise<number> {
        const started = performance.now();
        const outcome = await Promise.race([
          promise.then(() => 'settled'),
          sleep(ms).then(() => 'timeout'),
        ]);
        expect(outcome).toBe('settled');
        return performance.now() - started;
      }

      const waitFor = (check: () => void, timeout = 5000) =>
        vi.waitFor(check, { timeout, interval: 5 });

      it('catches up, calls onCaughtUp once, then delivers live appends in order, one at a time', async () => {
        const a = streamName('a');
        const b = streamName('b');
        await store.append(a, makeEvents(2), 'no_stream');
        await store.append(b, makeEvents(1), 'no_stream');
        const history = await store.readAll();

        let inFlight = 0;
        let maxInFlight = 0;
        const follower = follow({
          before: async () => {
            inFlight += 1;
            maxInFlight = Math.max(maxInFlight, inFlight);
            await sleep(2);
            inFlight -= 1;
          },
        });
        await within(5000, follower.subscription.caughtUp);
        expect(follower.caughtUp).toEqual([history[2].position]);
        expect(follower.handled).toEqual(history);

        await store.append(a, makeEvents(2), 1);
        await store.append(b, makeEvents(1), 0);
        await store.append(streamName('c'), makeEvents(1), 'no_stream');
        const all = await store.readAll();
        await waitFor(() => expect(follower.handled).toHaveLength(all.length));
        expect(follower.handled).toEqual(all);
        expect(maxInFlight).toBe(1);
        expect(follower.caughtUp).toHaveLength(1);
        expect(follower.failures).toEqual([]);

        await follower.subscription.stop();
        await store.append(a, makeEvents(1), 3);
        await sleep(QUIET_MS);
        expect(follower.handled).toHaveLength(all.length);
      });

      it('starts after its checkpoint', async () => {
        await store.append(streamName(), makeEvents(5), 'no_stream');
        const all = await store.readAll();
        const follower = follow({ from: all[2].position });
        await within(5000, follower.subscription.caughtUp);
        expect(follower.caughtUp).toEqual([all[4].position]);
        expect(follower.handled).toEqual(all.slice(3));
      });

      it('on an empty log, catches up at 0 and then delivers live appends', async () => {
        const follower = follow();
        await within(5000, follower.subscription.caughtUp);
        expect(follower.caughtUp).toEqual([0]);
        const stream = streamName();
        await store.append(stream, makeEvents(2), 'no_stream');
        await waitFor(() => expect(follower.handled).toHaveLength(2));
        expect(follower.handled).toEqual(await store.readStream(stream));
      });

      it('delivers more history than one read batch, in order', async () => {
        const stream = streamName();
        let expected: number | 'no_stream' = 'no_stream';
        for (let i = 0; i < 13; i++) {
          expected = (await store.append(stream, makeEvents(100), expected)).nextExpectedRevision;
        }
        const follower = follow();
        await within(10_000, follower.subscription.caughtUp);
        expect(follower.caughtUp).toEqual([await store.lastPosition()]);
        expect(follower.handled.map((e) => e.revision)).toEqual(
          Array.from({ length: 1300 }, (_, i) => i),
        );
      });

      it('resumes from its checkpoint without skipping or repeating an event', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(6), 'no_stream');
        // The first subscriber is aborted (through its signal) as it handles the third event.
        const abort = new AbortController();
        const first = follow({
          signal: abort.signal,
          before: async (_event, follower) => {
            if (follower.handled.length === 2) abort.abort();
          },
        });
        await within(5000, first.subscription.done);
        expect(first.handled.map((e) => e.revision)).toEqual([0, 1, 2]);
        await store.append(stream, makeEvents(2), 5);

        const second = follow({ from: first.checkpoint });
        await within(5000, second.subscription.caughtUp);
        const all = await store.readAll();
        expect([...first.handled, ...second.handled]).toEqual(all);
        expect(second.handled.map((e) => e.revision)).toEqual([3, 4, 5, 6, 7]);
      });

      it('backs off after a handler error, reads the checkpoint again and resumes at the failed event', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(4), 'no_stream');
        const attempts: Array<{ revision: number; at: number }> = [];
        let failuresLeft = 2;
        const follower = follow({
          backoff: { firstMs: 100, maxMs: 1000 },
          before: async (event) => {
            attempts.push({ revision: event.revision, at: performance.now() });
            if (event.revision === 1 && failuresLeft > 0) {
              failuresLeft -= 1;
              throw new Error('handler failed');
            }
          },
        });
        await waitFor(() => expect(follower.handled).toHaveLength(4));
        expect(follower.handled).toEqual(await store.readAll());
        expect(attempts.map((a) => a.revision)).toEqual([0, 1, 1, 1, 2, 3]);
        expect(follower.checkpointReads).toBe(3);

        const failed = (await store.readStream(stream))[1];
        expect(
          follower.failures.map(({ event, failures, retryInMs }) => ({
            event,
            failures,
            retryInMs,
          })),
        ).toEqual([
          { event: failed, failures: 1, retryInMs: 100 },
          { event: failed, failures: 2, retryInMs: 200 },
        ]);
        expect((follower.failures[0].error as Error).message).toBe('handler failed');
        // Nothing was tried during the back-offs (a little slack for timer rounding).
        expect(attempts[2].at - attempts[1].at).toBeGreaterThanOrEqual(95);
        expect(attempts[3].at - attempts[2].at).toBeGreaterThanOrEqual(195);
      });

      it('backs off after a failure on a live event, and counts failures afresh once one is handled', async () => {
        const stream = streamName();
        const failOnce = new Set([0, 2]);
        const follower = follow({
          before: async (event) => {
            if (failOnce.delete(event.revision)) throw new Error(`live ${event.revision} failed`);
          },
        });
        await within(5000, follower.subscription.caughtUp);
        await store.append(stream, makeEvents(3), 'no_stream');
        await waitFor(() => expect(follower.handled).toHaveLength(3));
        expect(follower.handled).toEqual(await store.readStream(stream));
        expect(follower.failures.map((f) => [f.event?.revision, f.failures, f.retryInMs])).toEqual([
          [0, 1, 20],
          [2, 1, 20],
        ]);
        // A catch-up after a failure ends with onCaughtUp too (the one after the first failure
        // failed on the third event before it got there).
        await waitFor(() => expect(follower.caughtUp).toHaveLength(2));
        expect(follower.caughtUp).toEqual([0, follower.handled[2].position]);
      });

      it('resolves caughtUp at the first failure, so that a start does not wait for an event that keeps failing', async () => {
        await store.append(streamName(), makeEvents(2), 'no_stream');
        const follower = follow({
          backoff: { firstMs: 60_000, maxMs: 60_000 },
          before: async () => {
            throw new Error('always fails');
          },
        });
        await within(5000, follower.subscription.caughtUp);
        expect(follower.caughtUp).toEqual([]);
        expect(follower.failures).toHaveLength(1);
      });

      it('stops promptly while waiting for appends', async () => {
        const follower = follow();
        await within(5000, follower.subscription.caughtUp);
        expect(await within(5000, follower.subscription.stop())).toBeLessThan(300);
        await store.append(streamName(), makeEvents(1), 'no_stream');
        await sleep(QUIET_MS);
        expect(follower.handled).toEqual([]);
      });

      it('stops promptly during a back-off', async () => {
        await store.append(streamName(), makeEvents(1), 'no_stream');
        let tries = 0;
        const follower = follow({
          backoff: { firstMs: 60_000, maxMs: 60_000 },
          before: async () => {
            tries += 1;
            throw new Error('fails');
          },
        });
        await waitFor(() => expect(follower.failures).toHaveLength(1));
        expect(await within(5000, follower.subscription.stop())).toBeLessThan(300);
        expect(tries).toBe(1);
      });

      it('stop() resolves only after the running handler has finished, and delivers nothing after', async () => {
        await store.append(streamName(), makeEvents(3), 'no_stream');
        let started = 0;
        let finished = 0;
        const follower = follow({
          before: async () => {
            started += 1;
            await sleep(200);
            finished += 1;
          },
        });
        await waitFor(() => expect(started).toBe(1));
        await follower.subscription.stop();
        expect(finished).toBe(1);
        expect(follower.handled).toHaveLength(1);
        await sleep(QUIET_MS);
        expect(started).toBe(1);
      });

      it('ends, without a failure, when the store is closed', async () => {
        const follower = follow();
        await within(5000, follower.subscription.caughtUp);
        await store.close();
        await within(5000, follower.subscription.done);
        expect(follower.failures).toEqual([]);
      });

      it('keeps independent subscriptions independent', async () => {
        const stream = streamName();
        await store.append(stream, makeEvents(2), 'no_stream');
        const first = follow();
        const second = follow();
        await waitFor(() => expect(first.handled).toHaveLength(2));
        await first.subscription.stop();
        await store.append(stream, makeEvents(1), 1);
        await waitFor(() => expect(second.handled).toHaveLength(3));
        expect(first.handled).toHaveLength(2);
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

        it("a subscription follows another process's appends, woken by the store", async () => {
          const handled: RecordedEvent[] = [];
          const subscription = track(
            subscribeFromCheckpoint(store, {
              checkpoint: async () => handled.at(-1)?.position ?? 0,
              handle: async (event) => void handled.push(event),
              backoff: { firstMs: 20, maxMs: 1000 },
            }),
          );
          await subscription.caughtUp;
          const positions = await appendFromAnotherProcess(
            location(),
            'any',
            streamName('other'),
            5,
            'x',
          );
          await vi.waitFor(() => expect(handled.map((e) => e.position)).toEqual(positions), {
            timeout: 5000,
            interval: 10,
          });
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
