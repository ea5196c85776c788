import { Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';
import { JSONObjectScalar } from './json-object.scalar';
import { Connection } from '../connection';

/** A Glance-style image record (a snapshot or backup); `instance` is resolved through a loader. */
@ObjectType({ description: 'An image (snapshot or backup), as Glance would show it.' })
export class Image {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field({ description: 'queued, saving, active or killed.' })
  status!: string;

  @Field({ description: 'private or shared.' })
  visibility!: string;

  @Field({ description: 'The owning project (Glance owner).' })
  projectId!: string;

  @Field()
  userId!: string;

  @Field(() => ID)
  instanceId!: string;

  @Field({ description: 'snapshot or backup.' })
  imageType!: string;

  @Field(() => JSONObjectScalar, {
    description: "Glance properties: Nova's snapshot properties and the user's metadata.",
  })
  properties!: Record<string, string>;

  @Field(() => String, { nullable: true })
  diskFormat!: string | null;

  @Field(() => String, { nullable: true })
  containerFormat!: string | null;

  @Field(() => Float, { nullable: true, description: 'Bytes stored.' })
  size!: number | null;

  @Field(() => Float, { nullable: true, description: 'Bytes of the virtual disk.' })
  virtualSize!: number | null;

  @Field(() => String, { nullable: true, description: 'md5 of the data, hex.' })
  checksum!: string | null;

  @Field(() => String, { nullable: true })
  osHashAlgo!: string | null;

  @Field(() => String, { nullable: true })
  osHashValue!: string | null;

  @Field(() => Int, { nullable: true, description: 'Conversion progress, 0..100.' })
  progress!: number | null;

  @Field(() => String, { nullable: true })
  failedStep!: string | null;

  @Field(() => String, { nullable: true })
  failureReason!: string | null;

  @Field({ description: 'ISO-8601.' })
  createdAt!: string;

  @Field({ description: 'ISO-8601.' })
  updatedAt!: string;
}

@ObjectType()
export class ImageConnection extends Connection(Image, 'Image') {}
