import type { DataSource } from 'typeorm';
import type { DatabaseTarget } from '../database/database-target';
import { createStoreDataSource } from '../database/store-data-source';
import { AuditLogEntry } from './entities/audit-log-entry.entity';
import { ImageView } from './entities/image-view.entity';
import { InstanceActionEvent } from './entities/instance-action-event.entity';
import { InstanceAction } from './entities/instance-action.entity';
import { InstanceView } from './entities/instance-view.entity';
import { ProjectionCheckpoint } from './entities/projection-checkpoint.entity';
import { SnapshotHistory } from './entities/snapshot-history.entity';

/** The read-model tables, in dump order. */
export const VIEW_TABLE_ENTITIES = [
  InstanceView,
  ImageView,
  SnapshotHistory,
  AuditLogEntry,
  InstanceAction,
  InstanceActionEvent,
] as const;

/** Every entity of the views database: the read models and the projection checkpoints. */
export const VIEW_ENTITIES = [...VIEW_TABLE_ENTITIES, ProjectionCheckpoint] as const;

/**
 * The views database: <dataDir>/views.sqlite on better-sqlite3 in WAL mode, or the `views`
 * schema of a shared PostgreSQL database. Only the projection runner writes it. With
 * better-sqlite3, TypeORM runs one connection per DataSource, so nothing else may open
 * transactions here: service state (tokens, the saga's process table) lives in its own
 * database. The tables are created by `synchronize`. Call initialize() before use.
 */
export function createViewsDataSource(target: DatabaseTarget): DataSource {
  return createStoreDataSource(target, {
    entities: [...VIEW_ENTITIES],
    postgresSchema: 'views',
    // WAL makes NORMAL durable across application crashes; the views can always be rebuilt.
    sqliteSynchronous: 'NORMAL',
  });
}
