import type { DataSource, EntityManager } from 'typeorm';
import type { DatabaseTarget } from '../database/database-target';
import { createStoreDataSource } from '../database/store-data-source';
import type { EventAppender } from '../commands/event-appender';
import { decideDeletion } from '../domain/image.decider';
import { foldImage } from '../domain/image.state';
import {
  subscribeFromCheckpoint,
  type CheckpointedSubscription,
} from '../event-store/checkpointed-subscription';
import type { EventStore } from '../event-store/event-store.port';
import {
  imageStream,
  type ImageDeleted,
  type ImageReserved,
  type RecordedEvent,
  type SnapshotFailed,
  type TaskStateChanged,
  type Uploaded,
} from '../events';
import { backupsToRotate, rotationGroupOf } from '../domain/backup-rotation.decider';
import { BackupRotationRecord, type RotatableBackupStatus } from './backup-rotation.entity';
import type { SagaLogger } from './snapshot.saga';
import { SagaCheckpoint } from './snapshot-process.entity';

const CHECKPOINT = 'backup-rotation-saga';
/** A running snapshot appends progress about once a second; re-read a deletion this often. */
const CAS_ATTEMPTS = 10;

/**
 * Its own file (<dataDir>/backup-rotation.sqlite), not state.sqlite: TypeORM's better-sqlite3
 * driver has one connection per data source, so sharing the snapshot saga's would let its
 * transactions swallow ours; and a second connection to the same file would wait for the
 * write lock synchronously, blocking the event loop that must finish the other transaction.
 * On PostgreSQL, its own schema (`backup_rotation`) of the shared database: its checkpoint
 * table has the snapshot saga's name.
 */
export function createBackupRotationDataSource(target: DatabaseTarget): DataSource {
  return createStoreDataSource(target, {
    entities: [BackupRotationRecord, SagaCheckpoint],
    postgresSchema: 'backup_rotation',
    sqliteSynchronous: 'FULL',
  });
}

/**
 * Nova's backup rotation (compute manager backup_instance → _rotate_backups) as a process
 * manager. Fed by a checkpointed subscription of the log, it keeps its own table of backups
 * per (project, instance, backup_type). When a createBackup's snapshot releases its task
 * state with the image active, it keeps the newest `rotation` active backups of that group
 * and appends ImageDeleted{reason: rotation} for the rest; the snapshot saga then removes
 * their data. The decision reads the table as of the triggering event (the deletions are
 * appended before the checkpoint moves past it), and every deletion is checked against the
 * image's stream first, so a crash or a retry repeats nothing.
 */
export class BackupRotationSaga {
  private feed: CheckpointedSubscription | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly db: DataSource,
    private readonly appender: EventAppender,
    private readonly logger: SagaLogger,
  ) {}

  /** Subscribes from the checkpoint; resolves once caught up with the log. */
  async start(): Promise<void> {
    if (!this.db.isInitialized) await this.db.initialize();
    if (this.feed) return;
    this.feed = subscribeFromCheckpoint(this.store, {
      checkpoint: async () =>
        (await this.db.getRepository(SagaCheckpoint).findOneBy({ name: CHECKPOINT }))?.position ??
        0,
      handle: (event) => this.onEvent(event),
      onFailure: ({ error }) =>
        this.logger.error({ err: error }, 'backup rotation failed; subscribing again'),
      backoff: { firstMs: 500, maxMs: 30_000 },
    });
    await this.feed.caughtUp;
  }

  async stop(): Promise<void> {
    const feed = this.feed;
    this.feed = null;
    await feed?.stop();
    if (this.db.isInitialized) await this.db.destroy();
  }

  private async onEvent(event: RecordedEvent): Promise<void> {
    const rows = this.db.getRepository(BackupRotationRecord);
    let change: ((manager: EntityManager) => Promise<unknown>) | null = null;
    switch (event.type) {
      case 'ImageReserved': {
        const data = event.data as ImageReserved['data'];
        const group = rotationGroupOf(data);
        if (group === null) break;
        const { actor, requestId, correlationId } = event.metadata;
        change = (m) =>
          m.getRepository(BackupRotationRecord).upsert(
            {
              imageId: data.imageId,
              ...group,
              reservedAt: event.position,
              status: 'reserved',
              rotation:
                data.rotation === undefined
                  ? null
                  : Math.min(data.rotation, Number.MAX_SAFE_INTEGER),
              actor,
              requestId,
              correlationId,
            },
            ['imageId'],
          );
        break;
      }
      case 'Uploaded':
        change = this.statusChange((event.data as Uploaded['data']).imageId, 'active');
        break;
      case 'SnapshotFailed':
        change = this.statusChange((event.data as SnapshotFailed['data']).imageId, 'killed');
        break;
      case 'ImageDeleted':
        change = this.statusChange((event.data as ImageDeleted['data']).imageId, 'deleted');
        break;
      case 'TaskStateChanged': {
        const data = event.data as TaskStateChanged['data'];
        if (data.to !== null) break;
        // Nova rotates once the backup is uploaded and its task state is None again.
        const backup = await rows.findOneBy({ imageId: data.imageId });
        if (backup && backup.rotation !== null && backup.status === 'active')
          await this.rotate(backup, event);
        break;
      }
      default:
        break;
    }
    await this.db.transaction(async (manager) => {
      if (change) await change(manager);
      await manager
        .getRepository(SagaCheckpoint)
        .save({ name: CHECKPOINT, position: event.position });
    });
  }

  private statusChange(
    imageId: string,
    status: RotatableBackupStatus,
  ): (manager: EntityManager) => Promise<unknown> {
    return (m) => m.getRepository(BackupRotationRecord).update({ imageId }, { status });
  }

  /** Deletes the backups beyond `rotation` in the new backup's group, oldest first. */
  private async rotate(backup: BackupRotationRecord, trigger: RecordedEvent): Promise<void> {
    const group = await this.db.getRepository(BackupRotationRecord).find({
      where: {
        projectId: backup.projectId,
        instanceUuid: backup.instanceUuid,
        backupType: backup.backupType,
        status: 'active',
      },
    });
    const victims = backupsToRotate(group, backup.rotation as number);
    const context = {
      actor: backup.actor,
      requestId: backup.requestId,
      correlationId: backup.correlationId,
      causationId: trigger.metadata.eventId,
    };
    for (const victim of victims) {
      const { events } = await this.appender.decideAndAppend(
        imageStream(victim.imageId),
        foldImage,
        (image) =>
          image.exists && image.status !== 'deleted'
            ? decideDeletion(image, { imageId: victim.imageId, reason: 'rotation' })
            : [],
        context,
        CAS_ATTEMPTS,
      );
      if (events.length > 0)
        this.logger.info(
          {
            imageId: victim.imageId,
            backupOf: backup.imageId,
            instanceId: backup.instanceUuid,
            backupType: backup.backupType,
            rotation: backup.rotation,
            correlationId: backup.correlationId,
          },
          'backup rotated out',
        );
    }
  }
}
