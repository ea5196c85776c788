import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { DatabaseEngine, DatabaseTarget } from '../../src/database/database-target';
import { startPostgres, type PostgresServer } from './postgres-server';

/** Every engine the TypeORM stores run on; describe.each over it to run a suite on both. */
export const DATABASE_ENGINES: readonly DatabaseEngine[] = ['sqlite', 'postgres'];

/** Makes a fresh, empty database of one engine for each call. */
export type FreshDatabase = (name: string) => Promise<DatabaseTarget>;

/**
 * Fresh databases for the tests of the enclosing describe: SQLite files in a temp directory,
 * or new databases of a throwaway PostgreSQL cluster started once for the describe. Both are
 * removed after it.
 */
export function useDatabaseTargets(engine: DatabaseEngine): FreshDatabase {
  let dir: string | undefined;
  let server: PostgresServer | undefined;

  beforeAll(async () => {
    if (engine === 'sqlite') dir = mkdtempSync(join(tmpdir(), 'snapledger-db-'));
    else server = await startPostgres();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let made = 0;
  return async (name) => {
    made += 1;
    if (server) return { engine: 'postgres', url: await server.createDatabase() };
    if (!dir) throw new Error('useDatabaseTargets: no database before beforeAll');
    return { engine: 'sqlite', path: join(dir, `${name}-${made}.sqlite`) };
  };
}
