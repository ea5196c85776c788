import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  subscribeFromCheckpoint,
  type CheckpointedSubscription,
} from '../../src/event-store/checkpointed-subscription';
import {
  EventStoreClosedError,
  WrongExpectedRevisionError,
} from '../../src/event-store/event-store.port';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import type { RecordedEvent } from '../../src/events';
import { describeHashChainContract } from './hash-chain.contract';
import {
  describeEventStoreContract,
  makeEvent,
  makeEvents,
  streamName,
} from './event-store.contract';

describeEventStoreContract(
  'SqliteEventStore on a file',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snapledger-es-'));
    const file = join(dir, 'events.sqlite');
    const store = SqliteEventStore.open(file);
    return {
      store,
      cleanup: () => rm(dir, { recursive: true, force: true }),
      shared: { kind: 'sqlite', location: file },
    };
  },
  { sharedByProcesses: true },
);

const GUARDS = [
  'events_no_update',
  'events_no_delete',
  'events_no_replace',
  'event_hashes_no_update',
  'event_hashes_no_delete',
  'event_hashes_no_replace',
];

describeHashChainContract('SqliteEventStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'snapledger-chain-'));
  const file = join(dir, 'events.sqlite');
  /** The attacker's own connection to the file, with the append-only triggers dropped. */
  const asAttacker = (work: (db: Database.Database) => void): void => {
    const db = new Database(file);
    try {
      for (const guard of GUARDS) db.exec(`DROP TRIGGER IF EXISTS ${guard}`);
      work(db);
    } finally {
      db.close();
    }
  };
  return {
    open: async () => SqliteEventStore.open(file),
    tamper: async (sql) => asAttacker((db) => db.exec(sql)),
    removeHashes: async (after) =>
      asAttacker((db) => {
        db.exec(`DELETE FROM event_hashes WHERE position > ${after}`);
        db.pragma('user_version = 1');
      }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeEventStoreContract('SqliteEventStore in memory', async () => ({
  store: SqliteEventStore.open(':memory:'),
  cleanup: async () => undefined,
}));

describe('SqliteEventStore (SQLite specifics)', () => {
  let dir: string;
  let file: string;
  const toClose: Array<{ close(): unknown }> = [];
  const subscriptions: CheckpointedSubscription[] = [];

  /** Follows `store` from 0, collecting what it handles. */
  function follow(store: SqliteEventStore): {
    received: RecordedEvent[];
    subscription: CheckpointedSubscription;
  } {
    const received: RecordedEvent[] = [];
    const subscription = subscribeFromCheckpoint(store, {
      checkpoint: async () => received.at(-1)?.position ?? 0,
      handle: async (e) => void received.push(e),
      backoff: { firstMs: 20, maxMs: 20 },
    });
    subscriptions.push(subscription);
    return { received, subscription };
  }

  function openStore(options?: { pollIntervalMs?: number }): SqliteEventStore {
    const store = SqliteEventStore.open(file, options);
    toClose.push(store);
    return store;
  }

  function openRaw(): Database.Database {
    const db = new Database(file);
    toClose.push(db);
    return db;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapledger-es-'));
    file = join(dir, 'events.sqlite');
  });

  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
    for (const c of toClose.splice(0).reverse()) await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses UPDATE, DELETE and INSERT OR REPLACE on events from another connection', async () => {
    const store = openStore();
    const stream = streamName();
    await store.append(stream, makeEvents(3), 'no_stream');
    const before = await store.readAll();

    const raw = openRaw();
    expect(() => raw.prepare("UPDATE events SET type = 'Rewritten'").run()).toThrow(/append-only/);
    expect(() =>
      raw.prepare('UPDATE events SET data = ? WHERE position = ?').run('{}', before[0].position),
    ).toThrow(/append-only/);
    expect(() => raw.prepare('DELETE FROM events').run()).toThrow(/append-only/);
    expect(() =>
      raw.prepare('DELETE FROM events WHERE position = ?').run(before[1].position),
    ).toThrow(/append-only/);
    expect(() =>
      raw
        .prepare(
          'INSERT OR REPLACE INTO events (event_id, stream_name, stream_revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(before[0].metadata.eventId, stream, 0, 'Replaced', '{}', '{}'),
    ).toThrow(/append-only/);
    expect(() =>
      raw
        .prepare(
          'INSERT OR REPLACE INTO events (position, event_id, stream_name, stream_revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(before[2].position, randomUUID(), streamName(), 0, 'Replaced', '{}', '{}'),
    ).toThrow(/append-only/);

    expect(await store.readAll()).toEqual(before);
    expect(raw.prepare('SELECT COUNT(*) FROM events').pluck().get()).toBe(3);
  });

  it('uses WAL, synchronous=FULL and a busy timeout', () => {
    const store = openStore();
    expect(store.connectionSettings()).toEqual({
      journalMode: 'wal',
      synchronous: 2,
      busyTimeoutMs: 5000,
    });
    // WAL is a property of the file: another connection sees it too.
    expect(openRaw().pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('reads a stream through an index', () => {
    openStore();
    const plan = openRaw()
      .prepare(
        'EXPLAIN QUERY PLAN SELECT position, stream_name, stream_revision, type, data, metadata FROM events WHERE stream_name = ? ORDER BY stream_revision',
      )
      .all('instance-x') as Array<{ detail: string }>;
    const details = plan.map((row) => row.detail).join('\n');
    expect(details).toMatch(/USING INDEX/);
    expect(details).not.toMatch(/TEMP B-TREE/);
  });

  it('creates the missing directory and keeps the log across reopen', async () => {
    file = join(dir, 'nested', 'deeper', 'events.sqlite');
    const first = SqliteEventStore.open(file);
    const stream = streamName();
    const r1 = await first.append(stream, makeEvents(2), 'no_stream');
    await first.close();
    expect(existsSync(file)).toBe(true);

    const second = openStore();
    expect(await second.lastPosition()).toBe(r1.position);
    const r2 = await second.append(stream, makeEvents(1), 1);
    expect(r2).toEqual({ nextExpectedRevision: 2, position: r1.position + 1 });
  });

  it('rejects invalid options and arguments clearly', async () => {
    expect(() => SqliteEventStore.open(file, { pollIntervalMs: 0 })).toThrow(/pollIntervalMs/);
    const store = openStore();
    await expect(store.append('', makeEvents(1), 'any')).rejects.toThrow(/stream name/);
    await expect(store.append(streamName(), makeEvents(1), -1)).rejects.toThrow(
      /expected revision/,
    );
    const noData = { ...makeEvent('T'), data: undefined };
    await expect(store.append(streamName(), [noData], 'any')).rejects.toThrow(/JSON/);
    await expect(store.readAll({ limit: -1 })).rejects.toThrow(/limit/);
    expect(await store.readAll({ limit: 0 })).toEqual([]);
  });

  it('wakes its own subscriptions at once on append, without waiting for a poll', async () => {
    const store = openStore({ pollIntervalMs: 60_000 });
    const { received, subscription } = follow(store);
    await subscription.caughtUp;
    const started = Date.now();
    await store.append(streamName(), makeEvents(1), 'no_stream');
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 2000, interval: 2 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('wakes its listeners when another connection has written, and only then', async () => {
    const writer = openStore();
    const reader = openStore({ pollIntervalMs: 25 });
    let woken = 0;
    const remove = reader.onAppended(() => (woken += 1));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(woken).toBe(0);
      await writer.append(streamName(), makeEvents(1), 'no_stream');
      await vi.waitFor(() => expect(woken).toBe(1), { timeout: 2000, interval: 5 });
    } finally {
      remove();
    }
  });

  it('lets a second instance on the same file see appends by polling, and detect conflicts', async () => {
    const writer = openStore();
    const reader = openStore({ pollIntervalMs: 25 });
    const stream = streamName('instance');
    await writer.append(stream, makeEvents(2), 'no_stream');

    const { received, subscription } = follow(reader);
    await subscription.caughtUp;
    expect(received).toHaveLength(2);

    // Appends through the OTHER instance reach this subscription only by polling.
    await writer.append(stream, makeEvents(3), 1);
    await writer.append(streamName('image'), makeEvents(1), 'no_stream');
    await vi.waitFor(() => expect(received).toHaveLength(6), { timeout: 2000, interval: 5 });
    expect(received).toEqual(await writer.readAll());

    // Both instances read revision 4; the writer wins, the reader's append is stale.
    const seen = (await reader.readStream(stream)).at(-1)!.revision;
    expect(seen).toBe(4);
    await writer.append(stream, [makeEvent('TaskStateChanged')], seen);
    const error = await reader.append(stream, [makeEvent('TaskStateChanged')], seen).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WrongExpectedRevisionError);
    expect((error as WrongExpectedRevisionError).actual).toBe(5);
    expect((await reader.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('waits for another process holding the write lock, then reports its append as a conflict', async () => {
    const store = openStore();
    const stream = streamName('instance');
    const metadata = makeEvent().metadata;
    const script = `
      const Database = require('better-sqlite3');
      const [file, stream, metadata] = process.argv.slice(1);
      const db = new Database(file);
      db.pragma('busy_timeout = 5000');
      db.exec('BEGIN IMMEDIATE');
      db.prepare('INSERT INTO events (event_id, stream_name, stream_revision, type, data, metadata) VALUES (?, ?, 0, ?, ?, ?)')
        .run(JSON.parse(metadata).eventId, stream, 'FromOtherProcess', '{"by":"child"}', metadata);
      process.stdout.write('locked\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
      db.exec('COMMIT');
      db.close();
    `;
    const child = spawn(process.execPath, ['-e', script, file, stream, JSON.stringify(metadata)], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('locked')) resolve();
      });
      child.on('exit', (code) =>
        reject(new Error(`child exited with ${code} before taking the lock`)),
      );
    });

    const started = Date.now();
    const error = await store.append(stream, makeEvents(1), 'no_stream').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(error).toBeInstanceOf(WrongExpectedRevisionError);
    expect((error as WrongExpectedRevisionError).actual).toBe(0);
    expect(await exited).toBe(0);

    const read = await store.readStream(stream);
    expect(read).toHaveLength(1);
    expect(read[0]).toMatchObject({ type: 'FromOtherProcess', data: { by: 'child' }, metadata });
  });

  it('close() ends its subscriptions and later calls fail clearly', async () => {
    const store = SqliteEventStore.open(file);
    const { received, subscription } = follow(store);
    await store.append(streamName(), makeEvents(2), 'no_stream');
    await vi.waitFor(() => expect(received).toHaveLength(2), { timeout: 2000, interval: 5 });
    await store.close();
    await subscription.done;
    await store.close(); // idempotent
    await expect(store.append(streamName(), makeEvents(1), 'any')).rejects.toThrow(
      EventStoreClosedError,
    );
    await expect(store.readAll()).rejects.toThrow(/closed/);
  });
});
