import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { NewEvent, RecordedEvent } from '../events/recorded-event';
import {
  BACKFILL_BATCH,
  hashesBackfilledEvent,
  hashFollowingRows,
  type HashedPosition,
} from './log-hash-migration';
import { chainHash, GENESIS_HASH } from './log-hash';
import type { HashedEventRow, HashedLog } from './hashed-log.port';
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

export interface SqliteEventStoreOptions {
  /**
   * How often, while anyone listens for appends, the store checks whether another connection
   * (another process, or another store instance) has written to the file. Appends made
   * through this instance wake the listeners at once. Default 200 ms.
   */
  readonly pollIntervalMs?: number;
  /** How long a writer waits for another connection's write lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

/** The settings of the store's own connection, as SQLite reports them. */
export interface SqliteConnectionSettings {
  readonly journalMode: string;
  /** 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
  readonly synchronous: number;
  readonly busyTimeoutMs: number;
}

const DEFAULT_POLL_INTERVAL_MS = 200;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/**
 * PRAGMA user_version of the schema this code writes. 1: the events table. 2: the hash
 * chain's table, event_hashes (log-hash.ts).
 */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position        INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id        TEXT    NOT NULL UNIQUE,
  stream_name     TEXT    NOT NULL,
  stream_revision INTEGER NOT NULL,
  type            TEXT    NOT NULL,
  data            TEXT    NOT NULL,
  metadata        TEXT    NOT NULL,
  UNIQUE (stream_name, stream_revision)
);

-- Reading a stream (WHERE stream_name = ? ORDER BY stream_revision) and finding its last
-- revision use the index SQLite builds for UNIQUE (stream_name, stream_revision); a second
-- index on the same columns would only slow every append down.

CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed');
END;

CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed');
END;

-- INSERT OR REPLACE deletes the conflicting row without firing DELETE triggers (unless
-- recursive_triggers is on), so a conflicting insert is refused before it gets that far.
CREATE TRIGGER IF NOT EXISTS events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE event_id = NEW.event_id)
  OR EXISTS (SELECT 1 FROM events WHERE stream_name = NEW.stream_name AND stream_revision = NEW.stream_revision)
  OR EXISTS (SELECT 1 FROM events WHERE position = NEW.position)
BEGIN
  SELECT RAISE(ABORT, 'events are append-only: this insert conflicts with a stored event');
END;

-- The hash chain (log-hash.ts): one hash per event position, written in the append's
-- transaction, and as append-only as the events.
CREATE TABLE IF NOT EXISTS event_hashes (
  position INTEGER PRIMARY KEY,
  hash     TEXT    NOT NULL
);

CREATE TRIGGER IF NOT EXISTS event_hashes_no_update BEFORE UPDATE ON event_hashes
BEGIN
  SELECT RAISE(ABORT, 'event hashes are append-only: UPDATE is not allowed');
END;

CREATE TRIGGER IF NOT EXISTS event_hashes_no_delete BEFORE DELETE ON event_hashes
BEGIN
  SELECT RAISE(ABORT, 'event hashes are append-only: DELETE is not allowed');
END;

CREATE TRIGGER IF NOT EXISTS event_hashes_no_replace BEFORE INSERT ON event_hashes
WHEN EXISTS (SELECT 1 FROM event_hashes WHERE position = NEW.position)
BEGIN
  SELECT RAISE(ABORT, 'event hashes are append-only: this position already has a hash');
END;
`;

const COLUMNS = 'position, stream_name, stream_revision, type, data, metadata';

function isConstraintError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT');
}

/**
 * The embedded event store: one SQLite file in WAL mode, shared safely by the server and
 * the CLI (separate processes). The log is append-only, and the database enforces it.
 */
export class SqliteEventStore implements EventStore, HashedLog {
  private readonly appendListeners = new Set<() => void>();
  /** Runs while anyone listens: SQLite tells no connection of another's commit. */
  private pollTimer: NodeJS.Timeout | undefined;
  /** PRAGMA data_version at the last poll; it changes when another connection commits. */
  private seenDataVersion = 0;
  private closed = false;

  private readonly lastRevisionStmt: Database.Statement<[string], number | null>;
  private readonly insertStmt: Database.Statement<
    [number, string, string, number, string, string, string]
  >;
  private readonly insertHashStmt: Database.Statement<[number, string]>;
  private readonly lastHashStmt: Database.Statement<[], HashedPosition>;
  private readonly readHashedStmt: Database.Statement<[number, number], HashedEventRow>;
  private readonly eventIdExistsStmt: Database.Statement<[string], number>;
  private readonly readStreamStmt: Database.Statement<[string], EventRow>;
  private readonly readAllStmt: Database.Statement<[number, number], EventRow>;
  private readonly lastPositionStmt: Database.Statement<[], number>;
  private readonly dataVersionStmt: Database.Statement<[], number>;
  private readonly appendTx: (
    streamName: string,
    rows: readonly PreparedRow[],
    expected: ExpectedRevision,
  ) => AppendResult;

  private constructor(
    private readonly db: Database.Database,
    private readonly pollIntervalMs: number,
  ) {
    this.lastRevisionStmt = db
      .prepare<[string], number | null>(
        'SELECT MAX(stream_revision) FROM events WHERE stream_name = ?',
      )
      .pluck();
    this.insertStmt = db.prepare<[number, string, string, number, string, string, string]>(
      'INSERT INTO events (position, event_id, stream_name, stream_revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertHashStmt = db.prepare<[number, string]>(
      'INSERT INTO event_hashes (position, hash) VALUES (?, ?)',
    );
    this.lastHashStmt = db.prepare<[], HashedPosition>(
      'SELECT position, hash FROM event_hashes ORDER BY position DESC LIMIT 1',
    );
    this.readHashedStmt = db.prepare<[number, number], HashedEventRow>(
      `SELECT e.position, e.event_id, e.stream_name, e.stream_revision, e.type, e.data, e.metadata, h.hash
       FROM events e LEFT JOIN event_hashes h ON h.position = e.position
       WHERE e.position > ? ORDER BY e.position LIMIT ?`,
    );
    this.eventIdExistsStmt = db
      .prepare<[string], number>('SELECT 1 FROM events WHERE event_id = ?')
      .pluck();
    this.readStreamStmt = db.prepare<[string], EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream_name = ? ORDER BY stream_revision`,
    );
    this.readAllStmt = db.prepare<[number, number], EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`,
    );
    this.lastPositionStmt = db
      .prepare<[], number>('SELECT COALESCE(MAX(position), 0) FROM events')
      .pluck();
    this.dataVersionStmt = db.prepare<[], number>('PRAGMA data_version').pluck();

    const tx = db.transaction(
      (streamName: string, rows: readonly PreparedRow[], expected: ExpectedRevision) =>
        this.appendRows(streamName, rows, expected),
    );
    this.appendTx = (streamName, rows, expected) => tx.immediate(streamName, rows, expected);
  }

  /**
   * The body of an append; runs inside a write transaction. Positions are the head's plus one
   * and up, and each event's chain hash is written with it.
   */
  private appendRows(
    streamName: string,
    rows: readonly PreparedRow[],
    expected: ExpectedRevision,
  ): AppendResult {
    const last = this.lastRevisionStmt.get(streamName) ?? null;
    if (expected === 'no_stream') {
      if (last !== null) throw new WrongExpectedRevisionError(streamName, expected, last);
    } else if (expected !== 'any' && expected !== last) {
      throw new WrongExpectedRevisionError(streamName, expected, last ?? 'no_stream');
    }
    let { position, hash } = this.hashedHead();
    let revision = last ?? -1;
    for (const row of rows) {
      revision += 1;
      position += 1;
      this.insertStmt.run(
        position,
        row.eventId,
        streamName,
        revision,
        row.type,
        row.data,
        row.metadata,
      );
      hash = chainHash(hash, position, revision, row.digest);
      this.insertHashStmt.run(position, hash);
    }
    return { nextExpectedRevision: revision, position };
  }

  /**
   * The head of the log and its hash, inside a write transaction. Events that an older
   * release appended without hashes (it was running while this one migrated) are hashed
   * first, so the chain never skips a position.
   */
  private hashedHead(): HashedPosition {
    const head = this.lastPositionStmt.get() ?? 0;
    for (;;) {
      const hashed = this.lastHashStmt.get() ?? { position: 0, hash: GENESIS_HASH };
      if (hashed.position >= head) return hashed;
      this.hashNext(hashed, BACKFILL_BATCH);
    }
  }

  /** Hashes up to `limit` unhashed events after `from`; the caller holds the write lock. */
  private hashNext(from: HashedPosition, limit: number): HashedPosition {
    let reached = from;
    for (const next of hashFollowingRows(from, this.readAllStmt.all(from.position, limit))) {
      this.insertHashStmt.run(next.position, next.hash);
      reached = next;
    }
    return reached;
  }

  /**
   * The one-time migration of a log written before the hash chain: hashes its events in
   * batches, each batch its own transaction, so a stop part-way loses nothing and the next
   * start goes on from the last hashed position. The last batch appends LogHashesBackfilled
   * in the same transaction.
   */
  private backfillHashes(): void {
    const step = this.db.transaction((): boolean => {
      const head = this.lastPositionStmt.get() ?? 0;
      const hashed = this.lastHashStmt.get() ?? { position: 0, hash: GENESIS_HASH };
      if (hashed.position >= head) return true;
      const reached = this.hashNext(hashed, BACKFILL_BATCH);
      if (reached.position < head) return false;
      const { streamName, event } = hashesBackfilledEvent(reached.position, reached.hash);
      this.appendRows(streamName, prepareAppend(streamName, [event], 'any'), 'any');
      return true;
    });
    while (!step.immediate()) {
      // Each batch has committed; the next one goes on from its last position.
    }
  }

  /**
   * Opens (and creates, with its directory, if missing) the store at `path`. ':memory:'
   * gives a private in-memory store for unit tests.
   */
  static open(path: string, options: SqliteEventStoreOptions = {}): SqliteEventStore {
    const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    if (!Number.isFinite(pollIntervalMs) || pollIntervalMs <= 0) {
      throw new RangeError(`pollIntervalMs must be a positive number, got ${pollIntervalMs}`);
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const inMemory = path === ':memory:' || path === '';
    if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });

    const db = new Database(path, { timeout: busyTimeoutMs });
    try {
      if (!inMemory) {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (String(mode).toLowerCase() !== 'wal') {
          throw new Error(`could not put ${path} in WAL mode (journal_mode is ${String(mode)})`);
        }
      }
      db.pragma('synchronous = FULL');
      db.transaction(() => {
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) {
          throw new Error(
            `${path} has event store schema ${version}; this snapledger knows up to ${SCHEMA_VERSION}`,
          );
        }
        db.exec(SCHEMA);
        if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    } catch (err) {
      db.close();
      throw err;
    }
    const store = new SqliteEventStore(db, pollIntervalMs);
    try {
      store.backfillHashes();
    } catch (err) {
      db.close();
      throw err;
    }
    return store;
  }

  /** The journal mode, synchronous level and busy timeout of this store's connection. */
  connectionSettings(): SqliteConnectionSettings {
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
      busyTimeoutMs: Number(this.db.pragma('busy_timeout', { simple: true })),
    };
  }

  async append(
    streamName: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    this.assertOpen();
    const rows = prepareAppend(streamName, events, expected);
    let result: AppendResult;
    try {
      result = this.appendTx(streamName, rows, expected);
    } catch (err) {
      if (isConstraintError(err)) throw this.explainConflict(streamName, rows, expected, err);
      throw err;
    }
    this.notifyAppended();
    return result;
  }

  /**
   * A unique constraint (or the no-replace trigger) refused the insert, and the transaction
   * has been rolled back: say why. Either an event id is already stored, or another
   * connection took the revision first.
   */
  private explainConflict(
    streamName: string,
    rows: readonly PreparedRow[],
    expected: ExpectedRevision,
    cause: unknown,
  ): Error {
    for (const row of rows) {
      if (this.eventIdExistsStmt.get(row.eventId) !== undefined)
        return new DuplicateEventError(row.eventId);
    }
    const last = this.lastRevisionStmt.get(streamName) ?? null;
    const error = new WrongExpectedRevisionError(streamName, expected, last ?? 'no_stream');
    (error as { cause?: unknown }).cause = cause;
    return error;
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    this.assertOpen();
    return this.readStreamStmt.all(streamName).map(toRecordedEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const { after, limit } = readWindow(options);
    if (limit === 0) return [];
    return this.readAllStmt.all(after, limit ?? -1).map(toRecordedEvent);
  }

  async readHashedRows(after: number, limit: number): Promise<HashedEventRow[]> {
    this.assertOpen();
    return this.readHashedStmt.all(after, limit);
  }

  async lastPosition(): Promise<number> {
    this.assertOpen();
    return this.lastPositionStmt.get() ?? 0;
  }

  onAppended(listener: () => void): () => void {
    this.assertOpen();
    this.appendListeners.add(listener);
    if (this.pollTimer === undefined) {
      this.seenDataVersion = this.dataVersionStmt.get() ?? 0;
      this.pollTimer = setInterval(() => this.pollOtherWriters(), this.pollIntervalMs);
    }
    return () => {
      this.appendListeners.delete(listener);
      if (this.appendListeners.size === 0) this.stopPolling();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    // Woken listeners read again, find the store closed, and end.
    this.notifyAppended();
    this.appendListeners.clear();
    this.db.close();
  }

  private pollOtherWriters(): void {
    const version = this.dataVersionStmt.get() ?? 0;
    if (version === this.seenDataVersion) return;
    this.seenDataVersion = version;
    this.notifyAppended();
  }

  private notifyAppended(): void {
    for (const listener of [...this.appendListeners]) {
      try {
        listener();
      } catch {
        // The append has committed: a listener's failure must not make it look failed.
      }
    }
  }

  private stopPolling(): void {
    if (this.pollTimer === undefined) return;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreClosedError();
  }
}
