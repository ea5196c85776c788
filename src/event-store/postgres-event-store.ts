import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { NewEvent, RecordedEvent } from '../events/recorded-event';
import type { HashedEventRow, HashedLog } from './hashed-log.port';
import { GENESIS_HASH } from './log-hash';
import { BACKFILL_BATCH, hashesBackfilledEvent, hashFollowingRows } from './log-hash-migration';
import {
  prepareAppend,
  readWindow,
  toRecordedEvent,
  type EventRow,
  type PreparedRow,
} from './event-rows';
import {
  DuplicateEventError,
  EventStoreClosedError,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type ReadAllOptions,
} from './event-store.port';
import {
  APPEND_CHANNEL,
  APPEND_LOCK_KEY,
  LOG_NOT_HASHED_SQLSTATE,
  POSTGRES_EVENT_STORE_MIGRATIONS,
  POSTGRES_EVENT_STORE_SCHEMA_VERSION,
  WRONG_EXPECTED_REVISION_SQLSTATE,
} from './postgres-schema';

export interface PostgresEventStoreOptions {
  /** Connections in the pool used for appends and reads. Default 10. */
  readonly poolSize?: number;
  /**
   * How often, while anyone listens for appends, they are woken even without a NOTIFY (a
   * lost listening connection is re-opened at that pace, and this covers the gap meanwhile).
   * Default 1000 ms.
   */
  readonly pollIntervalMs?: number;
  /** Give up connecting after this long. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
}

const COLUMNS = 'position, stream_name, stream_revision, type, data, metadata';

interface PgRow {
  readonly position: string;
  readonly stream_name: string;
  readonly stream_revision: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

interface PgHashedRow extends PgRow {
  readonly event_id: string;
  readonly hash: string | null;
}

function toEventRow(row: PgRow): EventRow {
  return {
    position: Number(row.position),
    stream_name: row.stream_name,
    stream_revision: Number(row.stream_revision),
    type: row.type,
    data: row.data,
    metadata: row.metadata,
  };
}

function pgCode(error: unknown): string | undefined {
  const code: unknown = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Runs `work` in one transaction on a pooled connection: COMMIT when it returns, ROLLBACK when it throws. */
async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** snapledger_append's call and arguments for an append of prepared rows. */
function appendCall(
  streamName: string,
  rows: readonly PreparedRow[],
  expected: ExpectedRevision,
): [string, unknown[]] {
  const [expect, revision] = typeof expected === 'number' ? ['exact', expected] : [expected, null];
  return [
    'SELECT next_revision, last_position FROM snapledger_append($1, $2, $3, $4, $5, $6, $7, $8)',
    [
      streamName,
      expect,
      revision,
      rows.map((r) => r.eventId),
      rows.map((r) => r.type),
      rows.map((r) => r.data),
      rows.map((r) => r.metadata),
      rows.map((r) => r.digest),
    ],
  ];
}

/** Says which server the URL names, without its password. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString().replace(/:@/, '@');
  } catch {
    return 'the configured PostgreSQL URL';
  }
}

/**
 * The shared event store: one PostgreSQL table, append-only by trigger, with the same
 * guarantees as the SQLite store. Appends are serialised by a transaction-level advisory
 * lock and take the next position under it, so positions have no holes and commit in
 * order; a reader that has passed a position has seen everything before it. Appends NOTIFY
 * every process's store, which wakes its listeners (onAppended).
 */
export class PostgresEventStore implements EventStore, HashedLog {
  private readonly appended = new EventEmitter();
  private listener: pg.Client | null = null;
  private listenerOpening: Promise<void> | null = null;
  /** Runs while anyone listens: the safety net under NOTIFY. */
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly pollIntervalMs: number,
    private readonly connectTimeoutMs: number,
  ) {
    this.appended.setMaxListeners(0);
  }

  /**
   * Connects, creates the schema when the database is empty, and refuses a database whose
   * schema another release wrote. Every failure says which server and why.
   */
  static async open(
    url: string,
    options: PostgresEventStoreOptions = {},
  ): Promise<PostgresEventStore> {
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: connectTimeoutMs,
    });
    // An idle pooled connection that the server drops must not crash the process.
    pool.on('error', () => undefined);
    try {
      await PostgresEventStore.prepareSchema(pool);
      await PostgresEventStore.backfillHashes(pool);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new Error(
        `PostgreSQL event store at ${describeDatabaseUrl(url)}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return new PostgresEventStore(pool, url, options.pollIntervalMs ?? 1000, connectTimeoutMs);
  }

  private static async prepareSchema(pool: pg.Pool): Promise<void> {
    await inTransaction(pool, async (client) => {
      // Two services starting at once must not both create or upgrade the schema.
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY + 1]);
      const exists = await client.query<{ present: boolean }>(
        "SELECT to_regclass('snapledger_schema') IS NOT NULL AS present",
      );
      let version = 0;
      if (exists.rows[0]?.present) {
        const found = await client.query<{ version: number }>(
          "SELECT version FROM snapledger_schema WHERE component = 'event-store'",
        );
        version = found.rows[0]?.version ?? 0;
      }
      if (version > POSTGRES_EVENT_STORE_SCHEMA_VERSION) {
        throw new Error(
          `the database has event-store schema version ${version}; this snapledger writes version ${POSTGRES_EVENT_STORE_SCHEMA_VERSION} and cannot use a newer one`,
        );
      }
      for (let next = version + 1; next <= POSTGRES_EVENT_STORE_SCHEMA_VERSION; next += 1) {
        const migration = POSTGRES_EVENT_STORE_MIGRATIONS[next];
        if (migration === undefined) throw new Error(`no migration to schema version ${next}`);
        await client.query(migration);
      }
      if (version < POSTGRES_EVENT_STORE_SCHEMA_VERSION) {
        await client.query(
          `INSERT INTO snapledger_schema (component, version) VALUES ('event-store', $1)
           ON CONFLICT (component) DO UPDATE SET version = excluded.version`,
          [POSTGRES_EVENT_STORE_SCHEMA_VERSION],
        );
      }
    });
  }

  /**
   * The one-time migration of a log written before the hash chain (schema 4): hashes its
   * events in batches, each batch its own transaction under the append lock, so a stop
   * part-way loses nothing and the next start goes on from the last hashed position. The
   * last batch appends LogHashesBackfilled in the same transaction.
   */
  private static async backfillHashes(pool: pg.Pool): Promise<void> {
    let done = false;
    while (!done) {
      done = await inTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY]);
        const head = Number(
          (
            await client.query<{ head: string }>(
              'SELECT coalesce(max(position), 0) AS head FROM events',
            )
          ).rows[0]?.head ?? 0,
        );
        const last = (
          await client.query<{ position: string; hash: string }>(
            'SELECT position, hash FROM event_hashes ORDER BY position DESC LIMIT 1',
          )
        ).rows[0];
        let position = last === undefined ? 0 : Number(last.position);
        let hash = last?.hash ?? GENESIS_HASH;
        if (position >= head) return true;
        const rows = await client.query<PgRow>(
          `SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
          [position, BACKFILL_BATCH],
        );
        const hashed = hashFollowingRows({ position, hash }, rows.rows.map(toEventRow));
        const reached = hashed.at(-1);
        if (reached) ({ position, hash } = reached);
        await client.query(
          'INSERT INTO event_hashes (position, hash) SELECT * FROM unnest($1::bigint[], $2::text[])',
          [hashed.map((h) => h.position), hashed.map((h) => h.hash)],
        );
        if (position >= head) {
          const { streamName, event } = hashesBackfilledEvent(position, hash);
          await client.query(
            ...appendCall(streamName, prepareAppend(streamName, [event], 'any'), 'any'),
          );
        }
        return position >= head;
      });
    }
  }

  /**
   * One round trip: snapledger_append (postgres-schema.ts) takes the append lock, checks the
   * expected revision, inserts the rows and notifies, all in the statement's own transaction.
   */
  async append(
    streamName: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    this.assertOpen();
    const rows = prepareAppend(streamName, events, expected);
    let result: AppendResult;
    try {
      const answer = await this.pool.query<{ next_revision: string; last_position: string }>(
        ...appendCall(streamName, rows, expected),
      );
      const head = answer.rows[0];
      if (!head) throw new Error('snapledger_append returned no row');
      result = {
        nextExpectedRevision: Number(head.next_revision),
        position: Number(head.last_position),
      };
    } catch (error) {
      if (pgCode(error) === WRONG_EXPECTED_REVISION_SQLSTATE) {
        const detail = (error as { detail?: string }).detail;
        const actual =
          detail === undefined || detail === 'no_stream' ? 'no_stream' : Number(detail);
        throw new WrongExpectedRevisionError(streamName, expected, actual);
      }
      if (pgCode(error) === LOG_NOT_HASHED_SQLSTATE) {
        throw new Error(
          `append to ${streamName}: ${error instanceof Error ? error.message : String(error)}; restart a snapledger process to finish it`,
          { cause: error },
        );
      }
      if (pgCode(error) === '23505') {
        const duplicate = await this.findStoredEventId(rows);
        if (duplicate) throw new DuplicateEventError(duplicate);
      }
      throw error;
    }
    this.appended.emit('append', result.position);
    return result;
  }

  private async findStoredEventId(rows: readonly PreparedRow[]): Promise<string | null> {
    const found = await this.pool.query<{ event_id: string }>(
      'SELECT event_id FROM events WHERE event_id = ANY($1::text[]) LIMIT 1',
      [rows.map((r) => r.eventId)],
    );
    return found.rows[0]?.event_id ?? null;
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    this.assertOpen();
    const result = await this.pool.query<PgRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream_name = $1 ORDER BY stream_revision`,
      [streamName],
    );
    return result.rows.map((row) => toRecordedEvent(toEventRow(row)));
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const { after, limit } = readWindow(options);
    if (limit === 0) return [];
    return (await this.readRows(after, limit)).map(toRecordedEvent);
  }

  private async readRows(after: number, limit: number | null): Promise<EventRow[]> {
    const result = await this.pool.query<PgRow>(
      `SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
      [after, limit],
    );
    return result.rows.map(toEventRow);
  }

  async readHashedRows(after: number, limit: number): Promise<HashedEventRow[]> {
    this.assertOpen();
    const result = await this.pool.query<PgHashedRow>(
      `SELECT e.position, e.event_id, e.stream_name, e.stream_revision, e.type, e.data, e.metadata, h.hash
       FROM events e LEFT JOIN event_hashes h ON h.position = e.position
       WHERE e.position > $1 ORDER BY e.position LIMIT $2`,
      [after, limit],
    );
    return result.rows.map((row) => ({
      ...toEventRow(row),
      event_id: row.event_id,
      hash: row.hash,
    }));
  }

  async lastPosition(): Promise<number> {
    this.assertOpen();
    const result = await this.pool.query<{ position: string }>(
      'SELECT coalesce(max(position), 0) AS position FROM events',
    );
    return Number(result.rows[0]?.position ?? 0);
  }

  onAppended(listener: () => void): () => void {
    this.assertOpen();
    this.appended.on('append', listener);
    void this.listen();
    this.pollTimer ??= setInterval(() => {
      // A NOTIFY sent while the LISTEN connection was down is lost: wake anyway.
      this.appended.emit('append');
      void this.listen();
    }, this.pollIntervalMs);
    return () => {
      this.appended.off('append', listener);
      if (this.appended.listenerCount('append') === 0) this.stopPolling();
    };
  }

  private stopPolling(): void {
    if (this.pollTimer === undefined) return;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /** One LISTEN connection per store, opened on first use and re-opened when it drops. */
  private listen(): Promise<void> {
    if (this.closed || this.listener) return Promise.resolve();
    this.listenerOpening ??= (async () => {
      const client = new pg.Client({
        connectionString: this.url,
        connectionTimeoutMillis: this.connectTimeoutMs,
      });
      client.on('notification', (message) => {
        if (message.channel === APPEND_CHANNEL)
          this.appended.emit('append', Number(message.payload ?? 0));
      });
      client.on('error', () => {
        if (this.listener === client) this.listener = null;
        void client.end().catch(() => undefined);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${APPEND_CHANNEL}`);
        if (this.closed) {
          await client.end();
          return;
        }
        this.listener = client;
        // Appends made before the LISTEN took effect sent no notification to us.
        this.appended.emit('append');
      } catch {
        await client.end().catch(() => undefined);
      } finally {
        this.listenerOpening = null;
      }
    })();
    return this.listenerOpening;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    // Woken listeners read again, find the store closed, and end.
    this.appended.emit('append');
    this.appended.removeAllListeners('append');
    await this.listenerOpening;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.pool.end();
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreClosedError();
  }
}
