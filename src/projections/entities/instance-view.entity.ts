import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One row per libvirt domain that snapledger knows, as Nova would show the server:
 * owner, host, vm_state, power_state and the task_state a snapshot holds.
 * Every value comes from events (InstanceRegistered, PowerStateSynced, TaskStateChanged,
 * DomainSaved, DomainRestored, InstanceDeleted, InstanceRestored); times are the events'
 * occurredAt.
 */
@Entity({ name: 'instance_view' })
/** Serves Nova's server list: per project, newest first. */
@Index('idx_instance_view_project_created', ['projectId', 'createdAt', 'id'])
export class InstanceView {
  /** The instance uuid (the libvirt domain uuid). */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** The libvirt domain name. */
  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  projectId!: string;

  @Column({ type: 'text' })
  userId!: string;

  @Column({ type: 'text' })
  host!: string;

  /** Nova vm_state: active, paused, suspended, stopped, error; deleted once its domain left libvirt. */
  @Column({ type: 'text' })
  vmState!: string;

  /** Nova power_state name: running, paused, shutdown, crashed, nostate. */
  @Column({ type: 'text' })
  powerState!: string;

  /** Nova task_state; null when no task holds the instance. */
  @Column({ type: 'text', nullable: true })
  taskState!: string | null;

  /** The image whose snapshot holds the task state; null with taskState. */
  @Column({ type: 'text', nullable: true })
  taskImageId!: string | null;

  @Column({ type: 'text', nullable: true })
  diskPath!: string | null;

  @Column({ type: 'text', nullable: true })
  diskFormat!: string | null;

  @Column({ type: 'integer' })
  vcpus!: number;

  @Column({ type: 'integer' })
  memoryMiB!: number;

  /** ISO-8601: occurredAt of InstanceRegistered. */
  @Column({ type: 'text' })
  createdAt!: string;

  /** ISO-8601: occurredAt of the last event that changed the row. */
  @Column({ type: 'text' })
  updatedAt!: string;

  /** Its domain left libvirt (InstanceDeleted): gone from the API, kept for admins' lists. */
  @Column({ type: 'boolean', default: false })
  deleted!: boolean;

  /** ISO-8601: occurredAt of InstanceDeleted; null while it exists. */
  @Column({ type: 'text', nullable: true })
  deletedAt!: string | null;

  /** The backup policy (BackupPolicySet): createBackup makes incremental backups. */
  @Column({ type: 'boolean', default: false })
  incrementalBackups!: boolean;
}
