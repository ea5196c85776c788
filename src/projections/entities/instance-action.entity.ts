import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One row per Nova instance action (os-instance-actions): a request that did something to an
 * instance, such as `createImage`. Built from the events of that request: it starts when the
 * API takes the task state and ends when the task state is released. Times are the events'
 * occurredAt (ISO-8601).
 */
@Entity({ name: 'instance_action' })
@Index('idx_instance_action_instance_start', ['instanceId', 'startTime', 'requestId'])
export class InstanceAction {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  instanceId!: string;

  /** The API request that started the action (its x-openstack-request-id). */
  @PrimaryColumn({ type: 'text' })
  requestId!: string;

  /** Nova's action name: `createImage` or `createBackup`. */
  @Column({ type: 'text' })
  action!: string;

  /** The image the action produces; how the later events of the snapshot find their action. */
  @Index('idx_instance_action_image')
  @Column({ type: 'text' })
  imageId!: string;

  /** Who asked: the actor of the request (not necessarily the instance's owner). */
  @Column({ type: 'text' })
  userId!: string;

  @Column({ type: 'text' })
  projectId!: string;

  @Column({ type: 'text' })
  startTime!: string;

  /** The time of the last change to the action or one of its events. */
  @Column({ type: 'text' })
  updatedAt!: string;

  /** null, or `Error` once the action failed (as Nova sets it). */
  @Column({ type: 'text', nullable: true })
  message!: string | null;
}
