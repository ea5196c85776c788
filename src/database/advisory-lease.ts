import { hostname } from 'node:os';
import pg from 'pg';
import { describeDatabaseUrl } from '../event-store/postgres-event-store';

/**
 * Leases on a shared PostgreSQL database, each a session-level advisory lock held by one
 * connection for as long as the process runs: `agent:<host>` (one agent per compute host)
 * and `views` (one API process runs the projections and backup rotation). The server
 * releases the lock when that connection ends, so a process that is SIGKILLed, or whose
 * machine dies, gives its lease up without anyone cleaning up.
 *
 * Who holds each lease is also written to snapledger_leases (created by the event store's
 * schema, version 3), only so that a refusal can say who holds it and since when; whether a
 * lease is held is always read from pg_locks.
 */

/** The lock key of a lease name: a 64-bit hash computed by the server. */
const KEY = 'hashtextextended($1, 0)';

export interface LeaseHolder {
  readonly name: string;
  readonly pid: number;
  readonly machine: string;
  readonly acquiredAt: string;
}

export class LeaseHeldError extends Error {
  constructor(
    readonly lease: string,
    readonly holder: LeaseHolder | null,
  ) {
    super(
      holder
        ? `the lease ${lease} is held by pid ${holder.pid} on ${holder.machine} since ${holder.acquiredAt}`
        : `the lease ${lease} is held by another process`,
    );
    this.name = 'LeaseHeldError';
  }
}

export interface LeaseOptions {
  /** Called once if the connection holding the lock ends: the lease is gone. */
  readonly onLost?: (error: Error) => void;
  readonly connectTimeoutMs?: number;
}

export class AdvisoryLease {
  private released = false;

  private constructor(
    readonly name: string,
    private readonly client: pg.Client,
  ) {}

  /** Takes the lease now, or throws LeaseHeldError naming its holder. */
  static async acquire(
    url: string,
    name: string,
    options: LeaseOptions = {},
  ): Promise<AdvisoryLease> {
    const client = await AdvisoryLease.connect(url, name, options);
    return AdvisoryLease.take(client, name, options, async () => {
      const taken = await client.query<{ taken: boolean }>(
        `SELECT pg_try_advisory_lock(${KEY}) AS taken`,
        [name],
      );
      if (!taken.rows[0]?.taken)
        throw new LeaseHeldError(name, await AdvisoryLease.holderRecord(client, name));
    });
  }

  /**
   * Waits in the server's lock queue until the lease is free and takes it (the server wakes
   * the waiter when the holder's connection ends); null if `signal` aborts first.
   */
  static async acquireWhenFree(
    url: string,
    name: string,
    options: LeaseOptions & { signal: AbortSignal },
  ): Promise<AdvisoryLease | null> {
    if (options.signal.aborted) return null;
    const client = await AdvisoryLease.connect(url, name, options);
    const abandon = () => void client.end().catch(() => undefined);
    options.signal.addEventListener('abort', abandon, { once: true });
    try {
      return await AdvisoryLease.take(client, name, options, async () => {
        await client.query(`SELECT pg_advisory_lock(${KEY})`, [name]);
      });
    } catch (error) {
      if (options.signal.aborted) return null; // the wait ended with its connection
      throw error;
    } finally {
      options.signal.removeEventListener('abort', abandon);
    }
  }

  private static async connect(url: string, name: string, options: LeaseOptions) {
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: `snapledger ${name}`,
    });
    try {
      await client.connect();
    } catch (error) {
      throw new Error(
        `lease ${name}: cannot reach ${describeDatabaseUrl(url)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return client;
  }

  /** Runs `lock` on the lease's own connection, records the holder, and watches the connection. */
  private static async take(
    client: pg.Client,
    name: string,
    options: LeaseOptions,
    lock: () => Promise<void>,
  ): Promise<AdvisoryLease> {
    try {
      await lock();
      await client.query(
        `INSERT INTO snapledger_leases (name, pid, machine, acquired_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (name) DO UPDATE SET pid = excluded.pid, machine = excluded.machine,
           acquired_at = excluded.acquired_at`,
        [name, process.pid, hostname()],
      );
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    const lease = new AdvisoryLease(name, client);
    let lost = false;
    const onLost = (error: Error) => {
      if (lost || lease.released) return;
      lost = true;
      options.onLost?.(error);
    };
    client.on('error', (error) => onLost(error));
    client.on('end', () => onLost(new Error(`the connection holding lease ${name} ended`)));
    return lease;
  }

  /** The hosts whose agents hold their leases now. */
  async agentsRunning(): Promise<string[]> {
    const recorded = await this.client.query<{ name: string }>(
      "SELECT name FROM snapledger_leases WHERE name LIKE 'agent:%'",
    );
    const held = await heldLeases(
      async (sql, params) => (await this.client.query(sql, params)).rows,
      recorded.rows.map((r) => r.name),
    );
    return [...held.keys()].map((name) => name.slice('agent:'.length)).sort();
  }

  /** Gives the lease up (the lock goes with the connection). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.client.end().catch(() => undefined);
  }

  private static async holderRecord(client: pg.Client, name: string): Promise<LeaseHolder | null> {
    const found = await client.query<{
      pid: number;
      machine: string;
      acquired_at: Date;
    }>('SELECT pid, machine, acquired_at FROM snapledger_leases WHERE name = $1', [name]);
    const row = found.rows[0];
    return row
      ? { name, pid: row.pid, machine: row.machine, acquiredAt: row.acquired_at.toISOString() }
      : null;
  }
}

/**
 * Which of `names` are held right now (pg_locks), with what snapledger_leases says of each
 * holder. Read-only: asking never takes a lease, so it cannot stand in a starting agent's way.
 */
export async function heldLeases(
  query: (sql: string, params: unknown[]) => Promise<Array<Record<string, unknown>>>,
  names: readonly string[],
): Promise<Map<string, LeaseHolder | null>> {
  if (names.length === 0) return new Map();
  const rows = await query(
    `SELECT n.name, l.pid, l.machine, l.acquired_at
       FROM unnest($1::text[]) AS n(name)
       LEFT JOIN public.snapledger_leases l ON l.name = n.name
      WHERE EXISTS (
        SELECT 1 FROM pg_locks p
         WHERE p.locktype = 'advisory' AND p.granted AND p.objsubid = 1
           AND p.classid = ((hashtextextended(n.name, 0) >> 32) & 4294967295)::oid
           AND p.objid = (hashtextextended(n.name, 0) & 4294967295)::oid)`,
    [names],
  );
  const held = new Map<string, LeaseHolder | null>();
  for (const row of rows) {
    const name = String(row['name']);
    held.set(
      name,
      row['pid'] === null || row['pid'] === undefined
        ? null
        : {
            name,
            pid: Number(row['pid']),
            machine: String(row['machine']),
            acquiredAt: new Date(row['acquired_at'] as string).toISOString(),
          },
    );
  }
  return held;
}

export const agentLeaseName = (host: string): string => `agent:${host}`;
export const VIEWS_LEASE = 'views';
