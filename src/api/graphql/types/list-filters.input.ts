import { Field, ID, InputType } from '@nestjs/graphql';

/** `instances(filter)`: narrows the caller's instances. */
@InputType({ description: 'Narrows the instance list; fields combine with AND.' })
export class InstanceFilter {
  @Field(() => String, { nullable: true, description: 'Case-insensitive part of the name.' })
  name?: string | null;

  @Field(() => [String], { nullable: true, description: 'Any of these vm_states.' })
  vmStates?: string[] | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Admins: every project's instances (Nova all_tenants). Ignored for others.",
  })
  allProjects?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description: "Admins: that project's instances. Ignored for others.",
  })
  projectId?: string | null;
}

/** `images(filter)`: Glance's most used filters. */
@InputType({ description: 'Narrows the image list; fields combine with AND.' })
export class ImageFilter {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'queued, saving, active or killed.' })
  status?: string | null;

  @Field(() => String, { nullable: true, description: 'private, shared or all.' })
  visibility?: string | null;

  @Field(() => String, { nullable: true, description: 'The owning project.' })
  owner?: string | null;

  @Field(() => ID, { nullable: true, description: 'The instance the image was taken of.' })
  instanceId?: string | null;

  @Field(() => String, { nullable: true, description: 'snapshot or backup.' })
  imageType?: string | null;
}

/** `snapshotHistory(filter)`. */
@InputType({ description: 'Narrows the snapshot history; fields combine with AND.' })
export class SnapshotHistoryFilter {
  @Field(() => ID, { nullable: true })
  instanceId?: string | null;

  @Field(() => ID, { nullable: true })
  imageId?: string | null;

  @Field(() => String, { nullable: true, description: 'running, active, killed or deleted.' })
  result?: string | null;

  @Field(() => String, { nullable: true, description: 'cold, offline or live.' })
  mode?: string | null;

  @Field(() => String, { nullable: true, description: 'The project owning the snapshot.' })
  projectId?: string | null;
}

/** `auditLog(filter)`: the filters of GET /v1/audit. */
@InputType({ description: 'Narrows the audit log; fields combine with AND.' })
export class AuditLogFilter {
  @Field(() => ID, { nullable: true })
  instanceId?: string | null;

  @Field(() => ID, { nullable: true })
  imageId?: string | null;

  @Field(() => String, { nullable: true, description: 'The acting user.' })
  userId?: string | null;

  @Field(() => String, { nullable: true, description: 'The project owning the resource.' })
  projectId?: string | null;

  @Field(() => [String], { nullable: true, description: 'Event types; any of them matches.' })
  types?: string[] | null;

  @Field(() => String, { nullable: true, description: 'ISO-8601, inclusive.' })
  since?: string | null;

  @Field(() => String, { nullable: true, description: 'ISO-8601, exclusive.' })
  until?: string | null;
}
