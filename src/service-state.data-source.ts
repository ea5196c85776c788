import { DataSource } from 'typeorm';
import { AuthToken } from './auth-store/auth-token.entity';
import { UserAccount } from './auth-store/user-account.entity';
import { SagaCheckpoint, SnapshotProcessRecord } from './sagas/snapshot-process.entity';

/**
 * The service's own state (<dataDir>/state.sqlite): API tokens, password users, and the
 * snapshot saga's process table and checkpoint. Unlike the views it cannot be rebuilt from
 * the log, so it is written with synchronous=FULL.
 */
export function createServiceStateDataSource(path: string): DataSource {
  return new DataSource({
    type: 'better-sqlite3',
    database: path,
    entities: [AuthToken, UserAccount, SnapshotProcessRecord, SagaCheckpoint],
    synchronize: true,
    enableWAL: path !== ':memory:',
    logging: false,
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('synchronous = FULL');
    },
  });
}
