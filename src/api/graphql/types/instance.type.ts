import { Field, ID, Int, ObjectType } from '@nestjs/graphql';
import { Connection } from '../connection';

/**
 * A libvirt domain as Nova would show the server. `host` and `diskPath` are resolved
 * separately (admins only); snapshots, actions and the audit log are nested connections.
 */
@ObjectType({ description: 'An instance (libvirt domain) known to snapledger.' })
export class Instance {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'The libvirt domain name.' })
  name!: string;

  @Field()
  projectId!: string;

  @Field()
  userId!: string;

  @Field({ description: 'Nova vm_state: active, paused, suspended, stopped, error.' })
  vmState!: string;

  @Field({ description: 'Nova power_state: running, paused, shutdown, crashed, nostate.' })
  powerState!: string;

  @Field(() => String, { nullable: true, description: 'Nova task_state; null when idle.' })
  taskState!: string | null;

  @Field(() => String, { nullable: true })
  diskFormat!: string | null;

  @Field(() => Int)
  vcpus!: number;

  @Field(() => Int)
  memoryMiB!: number;

  @Field({ description: 'ISO-8601.' })
  createdAt!: string;

  @Field({ description: 'ISO-8601.' })
  updatedAt!: string;
}

@ObjectType()
export class InstanceConnection extends Connection(Instance, 'Instance') {}
