import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * `hashing`: a chain's backup, active (its Uploaded has no checksums), whose whole image is
 * still to be hashed; it stays so after its task state is released, until ImageChecksummed
 * (or ImageChecksumFailed, or its deletion).
 */
export type SnapshotProcessStatus = 'requested' | 'running' | 'hashing' | 'finished';

/**
 * The snapshot process manager's index of snapshots: which are in flight, so a restarted
 * service resumes them. Written with the saga's checkpoint in one transaction. Not a view:
 * a projection rebuild leaves it alone.
 */
@Entity({ name: 'snapshot_process' })
export class SnapshotProcessRecord {
  @PrimaryColumn({ type: 'text' })
  imageId!: string;

  @Column({ type: 'text' })
  instanceId!: string;

  @Column({ type: 'text' })
  status!: SnapshotProcessStatus;

  @Column({ type: 'integer' })
  position!: number;

  /** The agent's host that runs it; null when the all-in-one service does. */
  @Column({ type: 'text', nullable: true })
  host!: string | null;
}

@Entity({ name: 'saga_checkpoint' })
export class SagaCheckpoint {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'integer' })
  position!: number;
}
