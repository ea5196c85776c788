import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { DowntimeRecord } from '../downtime';
import type { SnapshotStep } from '../../events';

/**
 * How a snapshot ended, or `running` while it has not. `deleted`: its image was deleted
 * while it ran, and it was stopped.
 */
export type SnapshotResult = 'running' | 'active' | 'killed' | 'deleted';

/** The snapshot's steps as the history times them: its saga steps, a wait and a freeze. */
export type SnapshotHistoryStepName = Exclude<SnapshotStep, 'reserve'> | 'queue' | 'quiesce';

/** One step of a snapshot, in the order the steps happened. Times are ISO-8601. */
export interface SnapshotStepRecord {
  readonly step: SnapshotHistoryStepName;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
}

/**
 * One row per snapshot (keyed by its image id): who asked, how it was taken, each step
 * with its timing, the domain's downtime, retries and the result.
 */
@Entity({ name: 'snapshot_history' })
/** Serves an instance's history newest first, keyset-paged, without a sort. */
@Index('idx_snapshot_history_instance_requested', ['instanceId', 'requestedAt', 'imageId'])
export class SnapshotHistory {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  imageId!: string;

  @Column({ type: 'text' })
  instanceId!: string;

  @Index('idx_snapshot_history_project')
  @Column({ type: 'text' })
  projectId!: string;

  @Column({ type: 'text' })
  userId!: string;

  /** The name of the user who asked, when the request's token was a user account's; else null. */
  @Column({ type: 'text', nullable: true })
  userName!: string | null;

  @Column({ type: 'text' })
  imageName!: string;

  @Column({ type: 'text' })
  imageType!: string;

  /** The request id of the API call that reserved the image. */
  @Column({ type: 'text' })
  requestId!: string;

  /** live, cold or offline; null until SnapshotPlanned. */
  @Column({ type: 'text', nullable: true })
  mode!: string | null;

  @Column({ type: 'text' })
  result!: SnapshotResult;

  /** The instance's task_state while this snapshot holds it; null once released. */
  @Column({ type: 'text', nullable: true })
  taskState!: string | null;

  @Column({ type: 'integer', nullable: true })
  progress!: number | null;

  @Column({ type: 'text', nullable: true })
  failedStep!: string | null;

  @Column({ type: 'text', nullable: true })
  failureReason!: string | null;

  @Column({ type: 'simple-json' })
  steps!: SnapshotStepRecord[];

  /**
   * How long the domain was down during the snapshot, from what was observed: the union of
   * the stretches in `downtimeIntervals` (the cold path's save → restore, and what libvirt's
   * lifecycle events showed). 0 for a domain that was shut off when the snapshot began;
   * null while nothing has been observed yet.
   */
  @Column({ type: 'integer', nullable: true })
  downtimeMs!: number | null;

  /** The observed stretches behind `downtimeMs`, in the order they were recorded. */
  @Column({ type: 'simple-json', default: '[]' })
  downtimeIntervals!: DowntimeRecord[];

  /**
   * Live path with a guest agent: how long the guest's filesystems stayed frozen (freeze →
   * thaw, GuestQuiesced); null when they were not frozen.
   */
  @Column({ type: 'integer', nullable: true })
  guestFrozenMs!: number | null;

  /** How many times a step was retried (SnapshotStepRetried). */
  @Column({ type: 'integer' })
  retries!: number;

  /**
   * True while the snapshot waits for a slot of the host's concurrency limit
   * (SnapshotQueued until its begin); its `queue` step records the wait.
   */
  @Column({ type: 'boolean', default: false })
  queued!: boolean;

  /**
   * A backup asked to be incremental: `incremental` (a layer over chainParentId) or `full`
   * (a whole image, with fullReason saying why it could not be incremental); null for every
   * other snapshot.
   */
  @Column({ type: 'text', nullable: true })
  backupKind!: 'full' | 'incremental' | null;

  /** Why an incremental backup was asked and a full one made; null otherwise. */
  @Column({ type: 'text', nullable: true })
  fullReason!: string | null;

  /** The chain the backup belongs to (its first image's id); null outside a chain. */
  @Column({ type: 'text', nullable: true })
  chainId!: string | null;

  /** The image this backup's layer lies over now (merges move it); null for a chain's root. */
  @Column({ type: 'text', nullable: true })
  chainParentId!: string | null;

  /** Images from the chain's root to this one, both included, as the chain is now. */
  @Column({ type: 'integer', nullable: true })
  chainLength!: number | null;

  /** Guest bytes the backup copied into its layer (observed in the layer file). */
  @Column({ type: 'integer', nullable: true })
  bytesCopied!: number | null;

  /** Bytes the backup's layer takes on disk, as it is now (a merge makes it grow). */
  @Column({ type: 'integer', nullable: true })
  bytesStored!: number | null;

  /**
   * ISO-8601: when the instance was deleted (its domain left libvirt) after or during this
   * snapshot; null while it exists. The snapshot and its image stay readable.
   */
  @Column({ type: 'text', nullable: true })
  instanceDeletedAt!: string | null;

  /** ISO-8601: occurredAt of ImageReserved. */
  @Column({ type: 'text' })
  requestedAt!: string;

  /** ISO-8601: when this snapshot released the task state. */
  @Column({ type: 'text', nullable: true })
  finishedAt!: string | null;

  /** finishedAt − requestedAt. */
  @Column({ type: 'integer', nullable: true })
  durationMs!: number | null;
}
