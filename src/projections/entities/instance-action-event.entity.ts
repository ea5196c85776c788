import { Column, Entity, PrimaryColumn } from 'typeorm';

/** How a finished instance action event ended, in Nova's words. */
export type InstanceActionEventResult = 'Success' | 'Error';

/**
 * One event of an instance action, as Nova records them from the compute host, e.g.
 * `compute_snapshot_instance`: when it started and finished, its result and, on failure,
 * the failing step and reason in `traceback` (shown to admins only).
 */
@Entity({ name: 'instance_action_event' })
export class InstanceActionEvent {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  instanceId!: string;

  /** The request id of the action this event belongs to. */
  @PrimaryColumn({ type: 'text' })
  requestId!: string;

  /** Nova's event name, e.g. `compute_snapshot_instance`. */
  @PrimaryColumn({ type: 'text' })
  event!: string;

  @Column({ type: 'text' })
  startTime!: string;

  /** null while the event runs. */
  @Column({ type: 'text', nullable: true })
  finishTime!: string | null;

  /** null while the event runs. */
  @Column({ type: 'text', nullable: true })
  result!: InstanceActionEventResult | null;

  /** On failure: the failing step and its reason. */
  @Column({ type: 'text', nullable: true })
  traceback!: string | null;

  /** The compute host that ran the event. */
  @Column({ type: 'text', nullable: true })
  host!: string | null;
}
