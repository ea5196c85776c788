import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One row per stored event, for auditors: who (actor), why (request, correlation and
 * causation ids), on what (instance, image, owning project), and what happened.
 */
@Entity({ name: 'audit_log' })
export class AuditLogEntry {
  /** The event's global position in the log. */
  @PrimaryColumn({ type: 'integer' })
  position!: number;

  @Column({ type: 'text' })
  eventId!: string;

  @Column({ type: 'text' })
  streamName!: string;

  @Index('idx_audit_log_type')
  @Column({ type: 'text' })
  type!: string;

  @Index('idx_audit_log_occurred')
  @Column({ type: 'text' })
  occurredAt!: string;

  @Index('idx_audit_log_actor_user')
  @Column({ type: 'text' })
  actorUserId!: string;

  /** The user's name as the event recorded it (a user account's tokens); null otherwise. */
  @Column({ type: 'text', nullable: true })
  actorUserName!: string | null;

  @Column({ type: 'text' })
  actorProjectId!: string;

  /** The actor's roles, comma-joined. */
  @Column({ type: 'text' })
  actorRoles!: string;

  @Index('idx_audit_log_request')
  @Column({ type: 'text' })
  requestId!: string;

  @Index('idx_audit_log_correlation')
  @Column({ type: 'text' })
  correlationId!: string;

  @Column({ type: 'text' })
  causationId!: string;

  @Index('idx_audit_log_instance')
  @Column({ type: 'text', nullable: true })
  instanceId!: string | null;

  @Index('idx_audit_log_image')
  @Column({ type: 'text', nullable: true })
  imageId!: string | null;

  /**
   * The project that owns the resource, from the instance or image view as it stood when
   * the event was applied; null when the resource is unknown.
   */
  @Index('idx_audit_log_project')
  @Column({ type: 'text', nullable: true })
  projectId!: string | null;

  /** A short human description, e.g. "task_state image_snapshot → image_pending_upload". */
  @Column({ type: 'text' })
  summary!: string;

  /** The event's data. */
  @Column({ type: 'simple-json' })
  data!: Record<string, unknown>;
}
