import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import {
  subscribeFromCheckpoint,
  type CheckpointedSubscription,
} from '../../src/event-store/checkpointed-subscription';
import { verifyLog } from '../../src/event-store/log-verification';
import { PostgresEventStore } from '../../src/event-store/postgres-event-store';
import {
  APPEND_LOCK_KEY,
  POSTGRES_EVENT_STORE_MIGRATIONS,
} from '../../src/event-store/postgres-schema';
import type { RecordedEvent } from '../../src/events';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { describeHashChainContract } from './hash-chain.contract';
import {
  describeEventStoreContract,
  makeEvent,
  makeEvents,
  streamName,
} from './event-store.contract';

let server: PostgresServer;

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describeHashChainContract('PostgresEventStore', async () => {
  const url = await server.createDatabase();
  /** The attacker's own login, with the append-only triggers switched off meanwhile. */
  const asAttacker = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('ALTER TABLE events DISABLE TRIGGER USER');
      await client.query('ALTER TABLE event_hashes DISABLE TRIGGER USER');
      await client.query(sql);
      await client.query('ALTER TABLE events ENABLE TRIGGER USER');
      await client.query('ALTER TABLE event_hashes ENABLE TRIGGER USER');
    } finally {
      await client.end();
    }
  };
  return {
    open: () => PostgresEventStore.open(url, { pollIntervalMs: 200 }),
    tamper: asAttacker,
    removeHashes: (after) =>
      asAttacker(
        `DELETE FROM event_hashes WHERE position > ${after};
         UPDATE snapledger_schema SET version = 3 WHERE component = 'event-store'`,
      ),
    cleanup: async () => undefined,
  };
});

describeEventStoreContract(
  'PostgresEventStore',
  async () => {
    const url = await server.createDatabase();
    const store = await PostgresEventStore.open(url, { pollIntervalMs: 200 });
    return { store, cleanup: async () => undefined, shared: { kind: 'postgres', location: url } };
  },
  { sharedByProcesses: true },
);

describe('PostgresEventStore (PostgreSQL specifics)', () => {
  const toClose: Array<{ close?: () => Promise<void>; end?: () => Promise<void> }> = [];
  const subscriptions: CheckpointedSubscription[] = [];

  async function raw(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    toClose.push(client);
    return client;
  }

  async function open(url: string, pollIntervalMs = 200): Promise<PostgresEventStore> {
    const store = await PostgresEventStore.open(url, { pollIntervalMs });
    toClose.push(store);
    return store;
  }

  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
    for (const c of toClose.splice(0).reverse()) await (c.close ?? c.end)?.call(c);
  });

  it('refuses UPDATE, DELETE and TRUNCATE in the database itself', async () => {
    const url = await server.createDatabase();
    const store = await open(url);
    await store.append(streamName(), makeEvents(2), 'no_stream');
    const client = await raw(url);
    await expect(client.query("UPDATE events SET data = '{}'")).rejects.toThrow(
      /append-only: UPDATE is not allowed/,
    );
    await expect(client.query('DELETE FROM events')).rejects.toThrow(
      /append-only: DELETE is not allowed/,
    );
    await expect(client.query('TRUNCATE events')).rejects.toThrow(
      /append-only: TRUNCATE is not allowed/,
    );
    await expect(
      client.query(
        "INSERT INTO events SELECT position, event_id, stream_name, stream_revision, type, '{}', metadata FROM events LIMIT 1 ON CONFLICT (position) DO UPDATE SET data = '{}'",
      ),
    ).rejects.toThrow(/append-only/);
    expect((await store.readAll()).map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }]);
  });

  it('an append in flight holds back later appends, so positions commit in order', async () => {
    const url = await server.createDatabase();
    const store = await open(url);
    const reader = await open(url);
    const stream = streamName();
    await store.append(stream, makeEvents(1), 'no_stream');
    // Another writer mid-append: it holds the append lock and has written position 2,
    // not yet committed.
    const writer = await raw(url);
    await writer.query('BEGIN');
    await writer.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY]);
    const slow = makeEvent('SlowWriter');
    await writer.query(
      'INSERT INTO events (position, event_id, stream_name, stream_revision, type, data, metadata) VALUES (2, $1, $2, 0, $3, $4, $5)',
      [slow.metadata.eventId, streamName('slow'), slow.type, '{}', JSON.stringify(slow.metadata)],
    );
    await writer.query("INSERT INTO event_hashes (position, hash) VALUES (2, repeat('a', 64))");
    let settled = false;
    const append = store.append(stream, makeEvents(1), 0).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(settled).toBe(false);
    // Meanwhile a reader sees only what has committed: it cannot pass position 2.
    expect((await reader.readAll()).map((e) => e.position)).toEqual([1]);
    await writer.query('COMMIT');
    expect((await append).position).toBe(3);
    expect((await reader.readAll()).map((e) => e.position)).toEqual([1, 2, 3]);
  });

  it('wakes a subscriber in another store at once through NOTIFY, not by polling', async () => {
    const url = await server.createDatabase();
    const listening = await open(url, 60_000);
    const writing = await open(url, 60_000);
    const seen: RecordedEvent[] = [];
    const subscription = subscribeFromCheckpoint(listening, {
      checkpoint: async () => seen.at(-1)?.position ?? 0,
      handle: async (e) => void seen.push(e),
      backoff: { firstMs: 20, maxMs: 20 },
    });
    subscriptions.push(subscription);
    await subscription.caughtUp;
    await new Promise((resolve) => setTimeout(resolve, 300)); // the LISTEN is in place
    const started = Date.now();
    await writing.append(streamName(), makeEvents(3), 'no_stream');
    await vi.waitFor(() => expect(seen).toHaveLength(3), { timeout: 5000, interval: 10 });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('upgrades a database an earlier release wrote (schema version 1), keeping its events', async () => {
    const url = await server.createDatabase();
    const client = await raw(url);
    // What the release with schema version 1 left: the table and triggers, no append function.
    await client.query(POSTGRES_EVENT_STORE_MIGRATIONS[1] ?? '');
    await client.query("INSERT INTO snapledger_schema VALUES ('event-store', 1)");
    await client.query(
      `INSERT INTO events (position, event_id, stream_name, stream_revision, type, data, metadata)
       VALUES (1, 'old-1', 'instance-old', 0, 'InstanceRegistered', '{}', '{}')`,
    );
    const store = await open(url);
    // The hash migration hashed position 1 and recorded it at position 2.
    expect((await store.readStream('log-integrity')).map((e) => [e.position, e.type])).toEqual([
      [2, 'LogHashesBackfilled'],
    ]);
    const appended = await store.append('instance-old', makeEvents(1), 0);
    expect(appended).toEqual({ nextExpectedRevision: 1, position: 3 });
    const version = await client.query<{ version: number }>(
      "SELECT version FROM snapledger_schema WHERE component = 'event-store'",
    );
    expect(version.rows[0]?.version).toBe(4);
    expect((await store.readStream('instance-old')).map((e) => e.position)).toEqual([1, 3]);
    expect((await verifyLog(store)).ok).toBe(true);
  });

  it('refuses a database whose schema a newer release wrote, and writes nothing', async () => {
    const url = await server.createDatabase();
    await (await open(url)).append(streamName(), makeEvents(1), 'no_stream');
    const client = await raw(url);
    await client.query("UPDATE snapledger_schema SET version = 99 WHERE component = 'event-store'");
    await expect(PostgresEventStore.open(url)).rejects.toThrow(
      /event-store schema version 99; this snapledger writes version 4 and cannot use a newer one/,
    );
    const count = await client.query<{ n: string }>('SELECT count(*) AS n FROM events');
    expect(Number(count.rows[0]?.n)).toBe(1);
  });

  it('says which server it could not reach, without the password', async () => {
    const url = `postgres://snapledger:secret@127.0.0.1:${server.port + 1}/nowhere`;
    const error = await PostgresEventStore.open(url, { connectTimeoutMs: 2000 }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      new RegExp(
        `PostgreSQL event store at postgres://snapledger@127\\.0\\.0\\.1:${server.port + 1}/nowhere: .*ECONNREFUSED`,
      ),
    );
    expect(error?.message).not.toContain('secret');
  });

  it('names a database that does not exist', async () => {
    const url = server.adminUrl.replace(/\/postgres$/, '/no_such_database');
    await expect(PostgresEventStore.open(url)).rejects.toThrow(
      /PostgreSQL event store at .*no_such_database: database "no_such_database" does not exist/,
    );
  });
});
