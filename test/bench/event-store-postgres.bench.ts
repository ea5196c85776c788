import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { ExpectedRevision } from '../../src/event-store/event-store.port';
import { PostgresEventStore } from '../../src/event-store/postgres-event-store';
import { APPEND_CHANNEL, APPEND_LOCK_KEY } from '../../src/event-store/postgres-schema';
import type { NewEvent } from '../../src/events';
import { startPostgres } from '../support/postgres-server';
import { buildEvents, split, STREAMS } from './event-store.bench';

export interface PostgresAppendsBenchOptions {
  /** Events appended in the measured rounds of each side. Default 5000. */
  readonly events?: number;
  /** Alternating rounds the measured events are split into. Default 10. */
  readonly rounds?: number;
  readonly log?: (line: string) => void;
}

/**
 * The raw loop and the parts of an append it can add, one at a time, so that the cost of each
 * is measured rather than guessed. Each is one transaction per event, committed.
 */
export const RAW_VARIANTS = ['insert', 'lock', 'head', 'notify'] as const;
export type RawVariant = (typeof RAW_VARIANTS)[number];

export interface PostgresSideResult {
  readonly eventsPerSec: number;
  /** Median time of one append (BEGIN … COMMIT), ms. */
  readonly medianMs: number;
}

export interface PostgresAppendsBenchResult {
  readonly events: number;
  readonly rounds: number;
  /** PostgresEventStore.append, one event per append. */
  readonly store: PostgresSideResult;
  /** The raw loop (variant 'insert'): BEGIN, INSERT, COMMIT per event. */
  readonly raw: PostgresSideResult;
  /** store events/s ÷ raw events/s over all rounds. */
  readonly ratio: number;
  /** Each round's store ÷ raw ratio, in the order they ran. */
  readonly roundRatios: readonly number[];
  /** Every raw variant, cumulative: each adds one part of an append to the one before. */
  readonly variants: Readonly<Record<RawVariant, PostgresSideResult>>;
  /** What the server ran with, read back with SHOW: the durability the figures rest on. */
  readonly server: Readonly<Record<(typeof SHOWN_SETTINGS)[number], string>>;
}

export const POSTGRES_BENCH_DEFAULTS = { events: 5000, rounds: 10 } as const;
const WARMUP_EVENTS = 200;
const SHOWN_SETTINGS = [
  'server_version',
  'fsync',
  'synchronous_commit',
  'full_page_writes',
  'wal_sync_method',
] as const;

/** The head query snapledger_append makes (the stream's last revision, the last position), against another table. */
const headQuery = (table: string) =>
  `SELECT (SELECT max(stream_revision) FROM ${table} WHERE stream_name = $1) AS revision,
          (SELECT coalesce(max(position), 0) FROM ${table}) AS position`;

const rawTable = (variant: RawVariant) => `raw_events_${variant}`;

/** Time per item of `run`, and the total. */
async function timed<T>(
  items: readonly T[],
  run: (item: T) => Promise<void>,
): Promise<{ totalMs: number; each: number[] }> {
  const each: number[] = [];
  const started = performance.now();
  for (const item of items) {
    const t = performance.now();
    await run(item);
    each.push(performance.now() - t);
  }
  return { totalMs: performance.now() - started, each };
}

/** Appends through the store, round-robin over STREAMS streams at their exact revisions. */
function storeAppender(store: PostgresEventStore, prefix: string) {
  const revisions = new Map<string, number>();
  let appends = 0;
  return async (event: NewEvent): Promise<void> => {
    const stream = `instance-${prefix}-${appends++ % STREAMS}`;
    const last = revisions.get(stream);
    const expected: ExpectedRevision = last === undefined ? 'no_stream' : last;
    const result = await store.append(stream, [event], expected);
    revisions.set(stream, result.nextExpectedRevision);
  };
}

/**
 * The same rows with plain statements on one connection, one committed transaction each.
 * 'insert' knows its next position and revision; 'lock' first takes the store's advisory
 * lock; 'head' also reads the head as the store does and takes position and revision from it;
 * 'notify' also sends the store's NOTIFY (nobody listens, as for the store here).
 */
function rawInserter(client: pg.Client, variant: RawVariant, prefix: string) {
  const level = RAW_VARIANTS.indexOf(variant);
  const table = rawTable(variant);
  const insert = `INSERT INTO ${table} (position, event_id, stream_name, stream_revision, type, data, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)`;
  const head = headQuery(table);
  const next = new Map<string, number>();
  let appends = 0;
  let lastPosition: number | undefined;
  return async (event: NewEvent): Promise<void> => {
    const stream = `instance-${prefix}-${appends++ % STREAMS}`;
    lastPosition ??= Number(
      (await client.query<{ p: string }>(`SELECT coalesce(max(position), 0) AS p FROM ${table}`))
        .rows[0]?.p ?? 0,
    );
    let position = lastPosition + 1;
    let revision = next.get(stream) ?? 0;
    await client.query('BEGIN');
    if (level >= 1) await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY]);
    if (level >= 2) {
      const found = await client.query<{ revision: string | null; position: string }>(head, [
        stream,
      ]);
      const row = found.rows[0];
      revision =
        row?.revision === null || row?.revision === undefined ? 0 : Number(row.revision) + 1;
      position = Number(row?.position ?? 0) + 1;
    }
    await client.query(insert, [
      position,
      event.metadata.eventId,
      stream,
      revision,
      event.type,
      JSON.stringify(event.data),
      JSON.stringify(event.metadata),
    ]);
    if (level >= 3)
      await client.query('SELECT pg_notify($1, $2)', [APPEND_CHANNEL, String(position)]);
    await client.query('COMMIT');
    lastPosition = position;
    next.set(stream, revision + 1);
  };
}

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Measures PostgresEventStore.append against a raw `pg` loop writing the same rows, one
 * committed transaction per event on both sides, on a throwaway cluster with PostgreSQL's
 * default durability (every commit waits for its WAL flush). The raw tables are copies of the
 * store's table (`LIKE … INCLUDING ALL`: columns, checks and indexes, no triggers) in the same
 * database. The store and every raw variant run in alternating rounds, the first side rotating,
 * so that drift in fsync latency hits all alike.
 */
export async function benchPostgresAppends(
  options: PostgresAppendsBenchOptions = {},
): Promise<PostgresAppendsBenchResult> {
  const events = options.events ?? POSTGRES_BENCH_DEFAULTS.events;
  const rounds = options.rounds ?? POSTGRES_BENCH_DEFAULTS.rounds;
  const log = options.log ?? (() => undefined);
  if (!Number.isSafeInteger(events) || events < 1)
    throw new RangeError('events must be an integer >= 1');
  if (!Number.isSafeInteger(rounds) || rounds < 1 || rounds > events)
    throw new RangeError('rounds must be an integer from 1 to events');

  const server = await startPostgres({ durable: true });
  let store: PostgresEventStore | undefined;
  let client: pg.Client | undefined;
  try {
    const url = await server.createDatabase('bench_events');
    const opened = await PostgresEventStore.open(url);
    store = opened;
    const raw = new pg.Client({ connectionString: url });
    client = raw;
    await raw.connect();
    const shown = {} as Record<(typeof SHOWN_SETTINGS)[number], string>;
    for (const name of SHOWN_SETTINGS)
      shown[name] = String((await raw.query(`SHOW ${name}`)).rows[0]?.[name]);
    if (shown.fsync !== 'on' || shown.synchronous_commit !== 'on')
      throw new Error(`the bench cluster is not durable: ${JSON.stringify(shown)}`);
    for (const variant of RAW_VARIANTS)
      await raw.query(`CREATE TABLE ${rawTable(variant)} (LIKE events INCLUDING ALL)`);

    const sides = ['store', ...RAW_VARIANTS] as const;
    type Side = (typeof sides)[number];
    const writerFor = (side: Side, prefix: string) =>
      side === 'store' ? storeAppender(opened, prefix) : rawInserter(raw, side, prefix);

    for (const side of sides) {
      const write = writerFor(side, 'warm');
      for (const event of buildEvents(Math.min(WARMUP_EVENTS, events), 'warm')) await write(event);
    }

    const writers = new Map(sides.map((side) => [side, writerFor(side, 'bench')]));
    const work = new Map(sides.map((side) => [side, split(buildEvents(events, 'bench'), rounds)]));
    const roundMs = new Map(sides.map((side) => [side, [] as number[]]));
    const latencies = new Map(sides.map((side) => [side, [] as number[]]));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(round + k) % sides.length];
        const { totalMs, each } = await timed(work.get(side)![round], writers.get(side)!);
        roundMs.get(side)!.push(totalMs);
        latencies.get(side)!.push(...each);
      }
      log(`round ${round + 1}/${rounds} done`);
    }

    const result = (side: Side): PostgresSideResult => ({
      eventsPerSec: Math.round(events / (sum(roundMs.get(side)!) / 1000)),
      medianMs: Number(median(latencies.get(side)!).toFixed(3)),
    });
    const storeResult = result('store');
    const rawResult = result('insert');
    const storeMs = roundMs.get('store')!;
    const rawMs = roundMs.get('insert')!;
    return {
      events,
      rounds,
      store: storeResult,
      raw: rawResult,
      ratio: Number((sum(rawMs) / sum(storeMs)).toFixed(3)),
      roundRatios: storeMs.map((ms, i) => Number((rawMs[i] / ms).toFixed(3))),
      variants: {
        insert: rawResult,
        lock: result('lock'),
        head: result('head'),
        notify: result('notify'),
      },
      server: shown,
    };
  } finally {
    try {
      await client?.end().catch(() => undefined);
      await store?.close();
    } finally {
      await server.stop();
    }
  }
}
