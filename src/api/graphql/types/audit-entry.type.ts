import { Field, Float, ID, ObjectType } from '@nestjs/graphql';
import { JSONObjectScalar } from './json-object.scalar';
import { Connection } from '../connection';

/** One event of the log, as auditors read it. `actorRoles` is resolved from the stored list. */
@ObjectType({ description: 'An audit-log entry: one stored event with who, why and on what.' })
export class AuditEntry {
  @Field(() => Float, { description: "The event's position in the log." })
  position!: number;

  @Field(() => ID)
  eventId!: string;

  @Field()
  streamName!: string;

  @Field()
  type!: string;

  @Field({ description: 'ISO-8601.' })
  occurredAt!: string;

  @Field()
  actorUserId!: string;

  @Field(() => String, {
    nullable: true,
    description: "The user's name as the event recorded it (a user account's token); else null.",
  })
  actorUserName!: string | null;

  @Field()
  actorProjectId!: string;

  @Field()
  requestId!: string;

  @Field()
  correlationId!: string;

  @Field()
  causationId!: string;

  @Field(() => String, { nullable: true })
  instanceId!: string | null;

  @Field(() => String, { nullable: true })
  imageId!: string | null;

  @Field(() => String, { nullable: true, description: 'The project owning the resource.' })
  projectId!: string | null;

  @Field()
  summary!: string;

  @Field(() => JSONObjectScalar, { description: "The event's data." })
  data!: Record<string, unknown>;
}

@ObjectType()
export class AuditEntryConnection extends Connection(AuditEntry, 'AuditEntry') {}
