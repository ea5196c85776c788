import { DataSource } from 'typeorm';
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
 * The views database (e.g. <dataDir>/views.sqlite), on better-sqlite3 in WAL mode. Only
 * the projection runner writes it. With better-sqlite3, TypeORM runs one connection per
 * DataSource, so nothing else may open transactions here: service state (tokens, the saga's
 * process table) lives in its own database. The tables are created by `synchronize`.
 * Call initialize() before use.
 */
export function createViewsDataSource(path: string): DataSource {
  return new DataSource({
    type: 'better-sqlite3',
    database: path,
    entities: [...VIEW_ENTITIES],
    synchronize: true,
    enableWAL: path !== ':memory:',
    logging: false,
    // WAL makes NORMAL durable across application crashes; the views can always be rebuilt.
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('synchronous = NORMAL');
    },
  });
}
