import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../config/snapledger.config';
import { HYPERVISOR, type DomainDetails, type Hypervisor } from '../drivers/hypervisor.port';
import { instanceStream } from '../events';
import { EventAppender } from './event-appender';
import { decideObservation, type ObservedDomain } from './instance.decider';
import { foldInstance } from './instance.state';
import { novaStateOf } from './nova-state.mapping';
import { causationFromRequest } from './request-context';
import { SyncInstancesCommand, type SyncInstancesResult } from './sync-instances.command';

export function observe(domain: DomainDetails, config: SnapledgerConfig): ObservedDomain {
  const { vmState, powerState } = novaStateOf(domain.state, domain.hasManagedSave);
  return {
    instanceId: domain.uuid,
    domainName: domain.name,
    projectId: domain.owner?.projectId ?? config.defaultProject,
    userId: domain.owner?.userId ?? config.defaultUser,
    ownerSource: domain.owner?.source ?? 'default',
    diskPath: domain.firstFileDisk?.path ?? null,
    diskFormat: domain.firstFileDisk?.format ?? null,
    powerState,
    vmState,
    vcpus: domain.vcpus,
    memoryMiB: domain.memoryMiB,
    host: config.hostName,
  };
}

@CommandHandler(SyncInstancesCommand)
export class SyncInstancesHandler implements ICommandHandler<
  SyncInstancesCommand,
  SyncInstancesResult
> {
  constructor(
    @Inject(HYPERVISOR) private readonly hypervisor: Hypervisor,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
    private readonly appender: EventAppender,
  ) {}

  async execute(command: SyncInstancesCommand): Promise<SyncInstancesResult> {
    const causation = causationFromRequest(command.request);
    const registered: string[] = [];
    const synced: string[] = [];
    const skipped: { domain: string; reason: string }[] = [];
    let seenCount = 0;
    let position = 0;
    for (const summary of await this.hypervisor.listDomains()) {
      let details: DomainDetails;
      try {
        details = await this.hypervisor.describe(summary.uuid);
      } catch (error) {
        skipped.push({ domain: summary.name, reason: (error as Error).message });
        continue;
      }
      seenCount += 1;
      const seen = observe(details, this.config);
      const { events, appended } = await this.appender.decideAndAppend(
        instanceStream(seen.instanceId),
        foldInstance,
        (state) => decideObservation(state, seen),
        causation,
        3,
      );
      if (appended) {
        position = Math.max(position, appended.position);
        (events[0].type === 'InstanceRegistered' ? registered : synced).push(seen.instanceId);
      }
    }
    return { seen: seenCount, registered, synced, skipped, position };
  }
}
