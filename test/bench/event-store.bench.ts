import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import type { ExpectedRevision } from '../../src/event-store/event-store.port';
import type { NewEvent } from '../../src/events';

export interface EventStoreBenchOptions {
  /** Events appended in the measured run of each side. Default 20000. */
  readonly events?: number;
  /** Events per append (per transaction). Default 1: how the service writes. */
  readonly batch?: number;
  /** Alternating store/raw rounds the measured events are split into. Default 20. */
  readonly rounds?: number;
}

export interface EventStoreBenchResult {
  readonly events: number;
  /** Alternating store/raw rounds the events were split into. */
  readonly rounds: number;
  /** Events per second through SqliteEventStore.append, one transaction per append. */
  readonly storeEventsPerSec: number;
  /** Events per second for plain better-sqlite3 INSERTs of the same rows, one transaction each. */
  readonly rawEventsPerSec: number;
  /** storeEventsPerSec / rawEventsPerSec. */
  readonly ratio: number;
  /** Each round's ratio (store events/s ÷ raw events/s), in order: the spread behind `ratio`. */
  readonly roundRatios: readonly number[];
}

/** Appends are spread round-robin over this many streams, each at its exact revision. */
export const STREAMS = 64;
/** By default the measured appends run in this many alternating store/raw rounds. */
export const EVENT_STORE_BENCH_ROUNDS = 20;
/** Untimed appends on each side before measuring (own streams, same files). */
const WARMUP_EVENTS = 200;

/** The table the store uses, without its triggers: what a hand-written log would have. */
const RAW_TABLE = `
CREATE TABLE events (
  position        INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id        TEXT    NOT NULL UNIQUE,
  stream_name     TEXT    NOT NULL,
  stream_revision INTEGER NOT NULL,
  type            TEXT    NOT NULL,
  data            TEXT    NOT NULL,
  metadata        TEXT    NOT NULL,
  UNIQUE (stream_name, stream_revision)
);`;

export function buildEvents(count: number, prefix: string): NewEvent[] {
  const correlationId = randomUUID();
  const actor = { userId: 'bench-user', projectId: 'bench-project', roles: ['admin'] };
  return Array.from({ length: count }, (_, i) => ({
    type: 'TaskStateChanged',
    data: {
      instanceId: `${prefix}-${i % STREAMS}`,
      from: null,
      to: 'image_snapshot_pending',
      attempt: i,
    },
    metadata: {
      eventId: randomUUID(),
      correlationId,
      causationId: randomUUID(),
      actor,
      requestId: `req-${randomUUID()}`,
      occurredAt: new Date(1_700_000_000_000 + i).toISOString(),
      schemaVersion: 1,
    },
  }));
}

function chunks(events: readonly NewEvent[], batch: number): NewEvent[][] {
  const out: NewEvent[][] = [];
  for (let i = 0; i < events.length; i += batch) out.push(events.slice(i, i + batch));
  return out;
}

/** Splits `items` into `parts` runs of nearly equal length. */
export function split<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = [];
  for (let p = 0; p < parts; p++) {
    out.push(
      items.slice(
        Math.floor((p * items.length) / parts),
        Math.floor(((p + 1) * items.length) / parts),
      ),
    );
  }
  return out;
}

/** Appends through the store, round-robin over STREAMS streams at their exact revisions. */
function storeAppender(store: SqliteEventStore, prefix: string) {
  const revisions = new Map<string, number>();
  let appends = 0;
  return async (batches: readonly NewEvent[][]): Promise<void> => {
    for (const events of batches) {
      const stream = `instance-${prefix}-${appends++ % STREAMS}`;
      const last = revisions.get(stream);
      const expected: ExpectedRevision = last === undefined ? 'no_stream' : last;
      const result = await store.append(stream, events, expected);
      revisions.set(stream, result.nextExpectedRevision);
    }
  };
}

/** Inserts the same rows (same streams and revisions) with plain statements. */
function rawInserter(
  insertBatch: (stream: string, firstRevision: number, events: readonly NewEvent[]) => void,
  prefix: string,
) {
  const next = new Map<string, number>();
  let appends = 0;
  return (batches: readonly NewEvent[][]): void => {
    for (const events of batches) {
      const stream = `instance-${prefix}-${appends++ % STREAMS}`;
      const revision = next.get(stream) ?? 0;
      insertBatch(stream, revision, events);
      next.set(stream, revision + events.length);
    }
  };
}

/**
 * Measures SqliteEventStore.append against a plain better-sqlite3 loop writing the same rows
 * to a table of the same shape with the same pragmas (WAL, synchronous=FULL), one
 * transaction per append on both sides. Both use their own temp file, removed afterwards.
 * Prints nothing; the caller reports.
 */
export async function benchEventStoreAppends(
  options: EventStoreBenchOptions = {},
): Promise<EventStoreBenchResult> {
  const events = options.events ?? 20_000;
  const batch = options.batch ?? 1;
  const rounds = options.rounds ?? EVENT_STORE_BENCH_ROUNDS;
  if (!Number.isSafeInteger(events) || events < 1)
    throw new RangeError('events must be an integer >= 1');
  if (!Number.isSafeInteger(batch) || batch < 1)
    throw new RangeError('batch must be an integer >= 1');
  if (!Number.isSafeInteger(rounds) || rounds < 1 || rounds > events)
    throw new RangeError('rounds must be an integer from 1 to events');

  const dir = mkdtempSync(join(tmpdir(), 'snapledger-bench-'));
  // The store: each append reads the stream's last revision, checks it and inserts, in one
  // IMMEDIATE transaction (this is how the service writes).
  const store = SqliteEventStore.open(join(dir, 'store.sqlite'));
  let db: Database.Database | undefined;
  try {
    // Raw better-sqlite3: the same table shape and pragmas, one transaction per batch.
    db = new Database(join(dir, 'raw.sqlite'), { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(RAW_TABLE);
    const insert = db.prepare<[string, string, number, string, string, string]>(
      'INSERT INTO events (event_id, stream_name, stream_revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const insertOne = (stream: string, revision: number, event: NewEvent) =>
      insert.run(
        event.metadata.eventId,
        stream,
        revision,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
      );
    const insertMany = db.transaction(
      (stream: string, firstRevision: number, list: readonly NewEvent[]) => {
        list.forEach((event, i) => insertOne(stream, firstRevision + i, event));
      },
    );
    // With one event per transaction, an autocommit INSERT is that transaction.
    const insertBatch =
      batch === 1
        ? (stream: string, revision: number, list: readonly NewEvent[]) =>
            void insertOne(stream, revision, list[0])
        : (stream: string, revision: number, list: readonly NewEvent[]) =>
            insertMany.immediate(stream, revision, list);

    const warmup = Math.min(WARMUP_EVENTS, events);
    await storeAppender(store, 'warm')(chunks(buildEvents(warmup, 'warm'), batch));
    rawInserter(insertBatch, 'warm')(chunks(buildEvents(warmup, 'warm'), batch));

    // Both sides write to the same disk, whose fsync latency drifts: measure them in
    // alternating rounds (alternating which goes first) so that drift hits both alike.
    const storeRounds = split(chunks(buildEvents(events, 'bench'), batch), rounds);
    const rawRounds = split(chunks(buildEvents(events, 'bench'), batch), rounds);
    const appendStore = storeAppender(store, 'bench');
    const insertRaw = rawInserter(insertBatch, 'bench');
    const storeRoundMs: number[] = [];
    const rawRoundMs: number[] = [];
    const timeStore = async (round: number) => {
      const started = performance.now();
      await appendStore(storeRounds[round]);
      storeRoundMs[round] = performance.now() - started;
    };
    const timeRaw = (round: number) => {
      const started = performance.now();
      insertRaw(rawRounds[round]);
      rawRoundMs[round] = performance.now() - started;
    };
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        await timeStore(round);
        timeRaw(round);
      } else {
        timeRaw(round);
        await timeStore(round);
      }
    }

    const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
    const storeEventsPerSec = events / (sum(storeRoundMs) / 1000);
    const rawEventsPerSec = events / (sum(rawRoundMs) / 1000);
    // Same events per round on both sides: the per-round ratio is raw time ÷ store time.
    const roundRatios = storeRoundMs.map((ms, i) => Number((rawRoundMs[i] / ms).toFixed(3)));
    return {
      events,
      rounds,
      storeEventsPerSec: Math.round(storeEventsPerSec),
      rawEventsPerSec: Math.round(rawEventsPerSec),
      ratio: Number((storeEventsPerSec / rawEventsPerSec).toFixed(3)),
      roundRatios,
    };
  } finally {
    try {
      await store.close();
    } finally {
      try {
        db?.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
