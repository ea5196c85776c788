import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Actor } from '../events';

export type RotatableBackupStatus = 'reserved' | 'active' | 'killed' | 'deleted';

/**
 * The backup-rotation saga's own table of backups per (project, instance, backup_type),
 * folded from ImageReserved, Uploaded, SnapshotFailed and ImageDeleted and written with the
 * saga's checkpoint in one transaction, so a rotation is decided on exactly the backups
 * the log held at the event that triggered it. Not a view: a projection rebuild leaves it alone.
 */
@Entity({ name: 'backup_rotation' })
@Index(['projectId', 'instanceUuid', 'backupType', 'status'])
export class BackupRotationRecord {
  @PrimaryColumn({ type: 'text' })
  imageId!: string;

  @Column({ type: 'text' })
  projectId!: string;

  @Column({ type: 'text' })
  instanceUuid!: string;

  @Column({ type: 'text' })
  backupType!: string;

  /** Global position of the ImageReserved (Nova sorts by created_at). */
  @Column({ type: 'integer' })
  reservedAt!: number;

  @Column({ type: 'text' })
  status!: RotatableBackupStatus;

  /** The rotation asked by createBackup; null for an image that only carries backup properties. */
  @Column({ type: 'integer', nullable: true })
  rotation!: number | null;

  /** Who asked for the backup, for the metadata of the deletions its rotation makes. */
  @Column({ type: 'simple-json' })
  actor!: Actor;

  @Column({ type: 'text' })
  requestId!: string;

  @Column({ type: 'text' })
  correlationId!: string;
}
