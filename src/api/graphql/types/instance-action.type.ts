import { Field, ID, ObjectType } from '@nestjs/graphql';
import { Connection } from '../connection';

/** One event of an instance action, e.g. compute_snapshot_instance. */
@ObjectType({ description: "An event of an instance action, in Nova's terms." })
export class InstanceActionEvent {
  @Field({ description: 'e.g. compute_snapshot_instance.' })
  event!: string;

  @Field({ description: 'ISO-8601.' })
  startTime!: string;

  @Field(() => String, { nullable: true, description: 'ISO-8601; null while it runs.' })
  finishTime!: string | null;

  @Field(() => String, { nullable: true, description: 'Success or Error; null while it runs.' })
  result!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'On failure, the failing step and reason (admins only).',
  })
  traceback!: string | null;

  @Field(() => String, { nullable: true, description: 'The compute host (admins only).' })
  host!: string | null;
}

/** A Nova instance action (os-instance-actions) with its events, newest first. */
@ObjectType({ description: 'A request that acted on an instance, such as createImage.' })
export class InstanceAction {
  @Field({ description: 'createImage or createBackup.' })
  action!: string;

  @Field()
  requestId!: string;

  @Field(() => ID)
  instanceId!: string;

  @Field(() => ID)
  imageId!: string;

  @Field()
  userId!: string;

  @Field()
  projectId!: string;

  @Field({ description: 'ISO-8601.' })
  startTime!: string;

  @Field({ description: 'ISO-8601.' })
  updatedAt!: string;

  @Field(() => String, { nullable: true, description: 'null, or Error once the action failed.' })
  message!: string | null;

  @Field(() => [InstanceActionEvent])
  events!: InstanceActionEvent[];
}

@ObjectType()
export class InstanceActionConnection extends Connection(InstanceAction, 'InstanceAction') {}
