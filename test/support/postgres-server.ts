import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import pg from 'pg';

/**
 * A throwaway PostgreSQL cluster for tests: initdb into a temp directory, one postgres
 * process on 127.0.0.1 and a random port, trust authentication for the test user, stopped by
 * its PID and removed afterwards. PostgreSQL refuses to run as root, so as root the cluster
 * belongs to the `postgres` system user (Debian's postgresql package creates it).
 */
export interface PostgresServer {
  /** postgres://snapledger@127.0.0.1:PORT/postgres */
  readonly adminUrl: string;
  readonly port: number;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

const USER = 'snapledger';

export async function postgresBinDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[]))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin): run scripts/setup-host.sh',
    );
  }
  return join(root, versions[0]!, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function systemUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const { stdout } = await execa('id', ['-u', 'postgres']);
  const { stdout: gid } = await execa('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
}

export interface StartPostgresOptions {
  /**
   * Keep PostgreSQL's default durability (fsync, synchronous_commit, full_page_writes all
   * on): every commit waits for its WAL to reach the disk. For benchmarks, whose figures
   * mean nothing without it. Default false: tests trade durability for speed.
   */
  readonly durable?: boolean;
}

/** Test clusters skip what makes a commit survive a crash: no test crashes the host. */
const FAST_UNSAFE_SETTINGS = [
  '-c',
  'fsync=off',
  '-c',
  'synchronous_commit=off',
  '-c',
  'full_page_writes=off',
];

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  const owner = await systemUser();
  const dir = await mkdtemp(join(tmpdir(), 'snapledger-pg-'));
  const data = join(dir, 'data');
  if (owner) {
    await chown(dir, owner.uid, owner.gid);
    await chmod(dir, 0o700);
  }
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  await execa(
    join(bin, 'initdb'),
    ['-D', data, '-U', USER, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '-N'],
    { ...as, env: { LC_ALL: 'C.UTF-8' } },
  );
  const port = await freePort();
  const server: ChildProcess = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      ...(options.durable === true ? [] : FAST_UNSAFE_SETTINGS),
      '-c',
      'max_connections=200',
    ],
    { ...as, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  server.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const adminUrl = `postgres://${USER}@127.0.0.1:${port}/postgres`;

  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null && server.pid !== undefined) {
      process.kill(server.pid, 'SIGINT'); // fast shutdown: ends sessions, then exits
      const stopped = await Promise.race([exited.then(() => true), delay(10_000, false)]);
      if (!stopped) {
        process.kill(server.pid, 'SIGKILL');
        await exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  for (let attempt = 0; ; attempt += 1) {
    if (server.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`postgres exited at start: ${log}`);
    }
    const client = new pg.Client({ connectionString: adminUrl });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (attempt > 200) {
        await stop();
        throw new Error(`postgres did not accept connections within 20 s: ${String(error)}`, {
          cause: error,
        });
      }
      await delay(100);
    }
  }

  let databases = 0;
  return {
    adminUrl,
    port,
    async createDatabase(name?: string): Promise<string> {
      databases += 1;
      const db = name ?? `t${process.pid}_${databases}_${Date.now().toString(36)}`;
      if (!/^[a-z0-9_]+$/.test(db)) throw new Error(`bad database name ${db}`);
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${db}`);
      } finally {
        await client.end();
      }
      return `postgres://${USER}@127.0.0.1:${port}/${db}`;
    },
    stop,
  };
}

/** Runs one query on its own connection and returns its rows (for tests that inspect a database). */
export async function queryRows<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
