import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdvisoryLease,
  agentLeaseName,
  heldLeases,
  LeaseHeldError,
} from '../../src/database/advisory-lease';
import { PostgresEventStore } from '../../src/event-store/postgres-event-store';
import { startPostgres, type PostgresServer } from '../support/postgres-server';

describe('leases on PostgreSQL (one agent per host, one keeper of the views)', () => {
  let server: PostgresServer;
  let url: string;
  let client: pg.Client;
  /** Requests waiting in the server's queue for an advisory lock (not granted yet). */
  const waitersQueued = async () =>
    Number(
      (
        await client.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
      ).rows[0]?.n,
    );
  const held = (names: string[]) =>
    heldLeases(async (sql, params) => (await client.query(sql, params)).rows, names);

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase();
    await (await PostgresEventStore.open(url)).close(); // the schema, with snapledger_leases
    client = new pg.Client({ connectionString: url });
    await client.connect();
  }, 60_000);

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  it('gives a lease to one holder at a time, names the holder to the next, and frees it on release', async () => {
    const name = agentLeaseName('host-x');
    const first = await AdvisoryLease.acquire(url, name);
    const refused = await AdvisoryLease.acquire(url, name).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(LeaseHeldError);
    expect((refused as LeaseHeldError).holder).toMatchObject({ pid: process.pid });
    expect((refused as Error).message).toMatch(
      new RegExp(`^the lease agent:host-x is held by pid ${process.pid} on \\S+ since \\d{4}-`),
    );
    expect([...(await held([name, agentLeaseName('host-y')])).keys()]).toEqual([name]);
    await first.release();
    expect((await held([name])).size).toBe(0);
    const second = await AdvisoryLease.acquire(url, name);
    await second.release();
  });

  it('is lost when its connection ends, and the loss is reported', async () => {
    const name = agentLeaseName('host-z');
    let lost: Error | null = null;
    const lease = await AdvisoryLease.acquire(url, name, { onLost: (e) => (lost = e) });
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'snapledger agent:host-z'",
    );
    await expect.poll(() => lost, { timeout: 5000 }).not.toBeNull();
    expect((await held([name])).size).toBe(0);
    const next = await AdvisoryLease.acquire(url, name);
    await next.release();
    await lease.release();
  });

  it('waits for a lease that is held, and takes it once freed', async () => {
    const first = await AdvisoryLease.acquire(url, 'views');
    const stop = new AbortController();
    const waiting = AdvisoryLease.acquireWhenFree(url, 'views', { signal: stop.signal });
    await expect.poll(waitersQueued, { timeout: 5000 }).toBe(1);
    await first.release();
    const taken = await waiting;
    expect(taken?.name).toBe('views');
    await taken?.release();
  });

  it('stops waiting for a lease when told to, leaving nothing queued', async () => {
    const first = await AdvisoryLease.acquire(url, 'views');
    const stop = new AbortController();
    const waiting = AdvisoryLease.acquireWhenFree(url, 'views', { signal: stop.signal });
    await expect.poll(waitersQueued, { timeout: 5000 }).toBe(1);
    stop.abort();
    expect(await waiting).toBeNull();
    await first.release();
  });
});
