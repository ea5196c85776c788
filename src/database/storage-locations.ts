import { join } from 'node:path';
import type { SnapledgerConfig } from '../config/snapledger.config';
import type { EventStore } from '../event-store/event-store.port';
import { PostgresEventStore } from '../event-store/postgres-event-store';
import { SqliteEventStore } from '../event-store/sqlite-event-store';
import { postgresTarget, sqliteTarget, type DatabaseTarget } from './database-target';

/** Files in the data directory; nothing in it is named from user input. */
export const dataFiles = (dataDir: string) => ({
  events: join(dataDir, 'events.sqlite'),
  views: join(dataDir, 'views.sqlite'),
  state: join(dataDir, 'state.sqlite'),
  /**
   * The backup-rotation saga's table and checkpoint. A file of its own: better-sqlite3 is
   * synchronous, so a second connection waiting on state.sqlite's write lock would block the
   * event loop while the snapshot saga's transaction (on the same loop) holds it.
   */
  rotation: join(dataDir, 'backup-rotation.sqlite'),
});

/**
 * Where the log, the views, the service state and the rotation table live: SQLite files in
 * the data directory (the embedded default), or one PostgreSQL database shared by every
 * snapledger process when SNAPLEDGER_DATABASE_URL is set. SNAPLEDGER_EVENTSTORE_URL moves the
 * log alone to EventStoreDB/KurrentDB, whichever of the two holds the rest.
 */
export interface StorageLocations {
  /** Where the views, the state and the rotation table are. */
  readonly engine: 'sqlite' | 'postgres';
  /** Where the log is. */
  readonly logEngine: 'sqlite' | 'postgres' | 'eventstoredb';
  /**
   * Opens the event log; on a server (PostgreSQL, EventStoreDB) this checks that it answers,
   * and on PostgreSQL the schema version too.
   */
  openEventStore(): Promise<EventStore>;
  readonly views: DatabaseTarget;
  readonly state: DatabaseTarget;
  readonly rotation: DatabaseTarget;
  /** SQLite files to create private (0600) before anything opens them; none on PostgreSQL. */
  readonly privateFiles: readonly string[];
}

export function storageLocations(config: SnapledgerConfig): StorageLocations {
  const views = viewLocations(config);
  const eventStoreUrl = config.eventStoreUrl;
  if (!eventStoreUrl) return views;
  return {
    ...views,
    logEngine: 'eventstoredb',
    // Loaded only here: its gRPC client takes about 0.2 s to load, which every other
    // set-up would pay at each start.
    openEventStore: async () => {
      const { EventStoreDbEventStore } = await import('../event-store/eventstoredb-event-store.js');
      return EventStoreDbEventStore.open(eventStoreUrl);
    },
    // The log is not a file here, so only the other files are made private.
    privateFiles: views.privateFiles.filter((file) => file !== dataFiles(config.dataDir).events),
  };
}

function viewLocations(config: SnapledgerConfig): StorageLocations {
  const url = config.databaseUrl;
  if (url) {
    const shared = postgresTarget(url);
    return {
      engine: 'postgres',
      logEngine: 'postgres',
      openEventStore: () => PostgresEventStore.open(url),
      views: shared,
      state: shared,
      rotation: shared,
      privateFiles: [],
    };
  }
  const files = dataFiles(config.dataDir);
  return {
    engine: 'sqlite',
    logEngine: 'sqlite',
    openEventStore: async () => SqliteEventStore.open(files.events),
    views: sqliteTarget(files.views),
    state: sqliteTarget(files.state),
    rotation: sqliteTarget(files.rotation),
    privateFiles: Object.values(files),
  };
}
