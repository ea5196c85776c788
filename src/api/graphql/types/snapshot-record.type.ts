import { Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';
import { Connection } from '../connection';

/** One step of a snapshot with its timing. */
@ObjectType({
  description:
    'One step of a snapshot (queue, begin, plan, save, quiesce, mirror, extract, restore, cleanup, upload; checksum: a chain backup hashed after it finished).',
})
export class SnapshotStep {
  @Field()
  step!: string;

  @Field({ description: 'ISO-8601.' })
  startedAt!: string;

  @Field({ description: 'ISO-8601.' })
  finishedAt!: string;

  @Field(() => Int)
  durationMs!: number;
}

/** A stretch in which the domain was down during a snapshot. */
@ObjectType({
  description:
    "A stretch in which the snapshot's domain was down: its save and restore (source save), or what libvirt's lifecycle events showed (source libvirt).",
})
export class DowntimeInterval {
  @Field({ description: 'save or libvirt.' })
  source!: string;

  @Field({ description: 'e.g. managedsave, "Suspended Paused".' })
  cause!: string;

  @Field({ description: 'ISO-8601.' })
  startedAt!: string;

  @Field(() => String, { nullable: true, description: 'ISO-8601; null while still open.' })
  endedAt!: string | null;

  @Field({ description: 'The domain was still down when the snapshot ended.' })
  ongoing!: boolean;
}

/** A row of the snapshot history: how one snapshot was taken and how it ended. */
@ObjectType({ description: 'One snapshot in the history: mode, steps, downtime, result.' })
export class SnapshotRecord {
  @Field(() => ID)
  imageId!: string;

  @Field()
  imageName!: string;

  @Field()
  imageType!: string;

  @Field(() => ID)
  instanceId!: string;

  @Field()
  projectId!: string;

  @Field()
  userId!: string;

  @Field(() => String, {
    nullable: true,
    description: "The name of the user who asked, when their token was a user account's.",
  })
  userName!: string | null;

  @Field({ description: 'The request id of the call that reserved the image.' })
  requestId!: string;

  @Field(() => String, {
    nullable: true,
    description: 'live, cold or offline; null until planned.',
  })
  mode!: string | null;

  @Field({ description: 'running, active, killed or deleted.' })
  result!: string;

  @Field(() => String, { nullable: true })
  taskState!: string | null;

  @Field(() => Int, { nullable: true, description: '0..100.' })
  progress!: number | null;

  @Field(() => String, { nullable: true })
  failedStep!: string | null;

  @Field(() => String, { nullable: true })
  failureReason!: string | null;

  @Field(() => [SnapshotStep])
  steps!: SnapshotStep[];

  @Field(() => Int, {
    nullable: true,
    description:
      'How long the domain was down during the snapshot, as observed (the union of downtimeIntervals); 0 if it was off already; null until observed.',
  })
  downtimeMs!: number | null;

  @Field(() => [DowntimeInterval])
  downtimeIntervals!: DowntimeInterval[];

  @Field(() => Int, {
    nullable: true,
    description: "How long the guest's filesystems stayed frozen (live path, guest agent).",
  })
  guestFrozenMs!: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      'A backup asked to be incremental: `incremental` (a layer over chainParentId) or `full`; null for other snapshots.',
  })
  backupKind!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why an incremental backup was asked and a full one made.',
  })
  fullReason!: string | null;

  @Field(() => ID, { nullable: true, description: "The backup's chain (its first image's id)." })
  chainId!: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'The image this layer lies over now; null for a chain root.',
  })
  chainParentId!: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Images from the root to this one, both included, as the chain is now.',
  })
  chainLength!: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Guest bytes the backup copied into its layer.',
  })
  bytesCopied!: number | null;

  @Field(() => Float, {
    nullable: true,
    description: "Bytes the backup's layer takes on disk now.",
  })
  bytesStored!: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      'ISO-8601: when the instance was deleted (its domain left libvirt); null while it exists.',
  })
  instanceDeletedAt!: string | null;

  @Field(() => Int)
  retries!: number;

  @Field({
    description:
      "True while the snapshot waits for a slot of the host's concurrency limit (its `queue` step records the wait).",
  })
  queued!: boolean;

  @Field({ description: 'ISO-8601.' })
  requestedAt!: string;

  @Field(() => String, { nullable: true, description: 'ISO-8601.' })
  finishedAt!: string | null;

  @Field(() => Int, { nullable: true })
  durationMs!: number | null;
}

@ObjectType()
export class SnapshotRecordConnection extends Connection(SnapshotRecord, 'SnapshotRecord') {}
