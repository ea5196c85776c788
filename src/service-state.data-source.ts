import type { DataSource } from 'typeorm';
import { LogVerificationRecord } from './api/log-integrity/log-verification.entity';
import { AuthToken } from './auth-store/auth-token.entity';
import { UserAccount } from './auth-store/user-account.entity';
import type { DatabaseTarget } from './database/database-target';
import { createStoreDataSource } from './database/store-data-source';
import { SagaCheckpoint, SnapshotProcessRecord } from './sagas/snapshot-process.entity';

/**
 * The service's own state (<dataDir>/state.sqlite, or the `service_state` schema of a shared
 * PostgreSQL database): API tokens, password users, the snapshot saga's process table and
 * checkpoint, and the finished walks of the log's hash chain. Unlike the views it cannot be rebuilt from the log, so SQLite writes it
 * with synchronous=FULL.
 */
export function createServiceStateDataSource(target: DatabaseTarget): DataSource {
  return createStoreDataSource(target, {
    entities: [
      AuthToken,
      UserAccount,
      SnapshotProcessRecord,
      SagaCheckpoint,
      LogVerificationRecord,
    ],
    postgresSchema: 'service_state',
    sqliteSynchronous: 'FULL',
  });
}
