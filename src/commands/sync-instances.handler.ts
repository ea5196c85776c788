import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../config/snapledger.config';
import {
  DomainNotFoundError,
  HYPERVISOR,
  type DomainDetails,
  type Hypervisor,
} from '../drivers/hypervisor.port';
import { instanceStream } from '../events';
import { EventAppender } from './event-appender';
import {
  decideDisappearance,
  decideObservation,
  type ObservedDomain,
} from '../domain/instance.decider';
import { foldInstance } from '../domain/instance.state';
import { novaStateOf } from '../domain/nova-state.mapping';
import { causationFromRequest } from '../domain/request-context';
import {
  KNOWN_INSTANCES,
  SyncInstancesCommand,
  type KnownInstances,
  type SyncInstancesResult,
} from './sync-instances.command';

export function observe(domain: DomainDetails, config: SnapledgerConfig): ObservedDomain {
  const { vmState, powerState } = novaStateOf(domain.state, domain.hasManagedSave);
  return {
    instanceId: domain.uuid,
    domainName: domain.name,
    projectId: domain.owner?.projectId ?? config.defaultProject,
    userId: domain.owner?.userId ?? config.defaultUser,
    ownerSource: domain.owner?.source ?? 'default',
    diskPath: domain.snapshotDisk?.path ?? null,
    diskFormat: domain.snapshotDisk?.format ?? null,
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
    @Inject(KNOWN_INSTANCES) private readonly known: KnownInstances,
  ) {}

  async execute(command: SyncInstancesCommand): Promise<SyncInstancesResult> {
    const causation = causationFromRequest(command.request);
    const result = {
      seen: 0,
      registered: [] as string[],
      synced: [] as string[],
      restored: [] as string[],
      deleted: [] as string[],
      deferred: [] as string[],
      outOfScope: [] as string[],
      skipped: [] as { domain: string; reason: string }[],
      position: 0,
    };
    const record = (appended: { position: number } | null) => {
      if (appended) result.position = Math.max(result.position, appended.position);
    };

    // 1. What libvirt has: every domain, or the one the lifecycle event named.
    const present = new Map<string, string>(); // uuid → name
    const outOfScope = new Set<string>(); // uuids of domains SNAPLEDGER_DOMAINS leaves out
    const summaries =
      command.domain === undefined
        ? await this.hypervisor.listDomains()
        : await this.hypervisor.describe(command.domain).then(
            (d) => [{ uuid: d.uuid, name: d.name }],
            (error: unknown) => {
              if (error instanceof DomainNotFoundError) return [];
              throw error;
            },
          );
    for (const summary of summaries) {
      if (!this.config.domains.includes(summary.name)) {
        outOfScope.add(summary.uuid);
        result.outOfScope.push(summary.name);
        continue;
      }
      let details: DomainDetails;
      try {
        details = await this.hypervisor.describe(summary.uuid);
      } catch (error) {
        if (error instanceof DomainNotFoundError) continue; // gone since the list: looked at below
        result.skipped.push({ domain: summary.name, reason: (error as Error).message });
        present.set(summary.uuid, summary.name); // unreadable is not gone
        continue;
      }
      result.seen += 1;
      present.set(details.uuid, details.name);
      const seen = observe(details, this.config);
      let held = false;
      const { events, appended } = await this.appender.decideAndAppend(
        instanceStream(seen.instanceId),
        foldInstance,
        (state) => {
          held = state.exists && !state.deleted && state.taskState !== null;
          return decideObservation(state, seen);
        },
        causation,
        3,
      );
      record(appended);
      if (held) result.deferred.push(seen.instanceId);
      if (appended) {
        const kind = events[0].type;
        const list =
          kind === 'InstanceRegistered'
            ? result.registered
            : kind === 'InstanceRestored'
              ? result.restored
              : result.synced;
        list.push(seen.instanceId);
      }
    }

    // 2. What snapledger knows that libvirt no longer has (by uuid): deleted.
    const holderOf = new Map([...present].map(([uuid, name]) => [name, uuid]));
    for (const instance of await this.known.list()) {
      if (present.has(instance.instanceId) || outOfScope.has(instance.instanceId)) continue;
      // Left out of scope since it was registered: not snapledger's to call deleted.
      if (!this.config.domains.includes(instance.domainName)) continue;
      if (command.domain !== undefined && instance.domainName !== command.domain) continue;
      // A targeted look saw only one name: make sure the uuid is really gone.
      if (command.domain !== undefined && (await this.stillDefined(instance.instanceId))) continue;
      const holder = holderOf.get(instance.domainName) ?? null;
      let held = false;
      const { appended } = await this.appender.decideAndAppend(
        instanceStream(instance.instanceId),
        foldInstance,
        (state) => {
          held = state.exists && !state.deleted && state.taskState !== null;
          return decideDisappearance(state, holder);
        },
        causation,
        3,
      );
      record(appended);
      if (appended) result.deleted.push(instance.instanceId);
      else if (held) result.deferred.push(instance.instanceId);
    }
    return result;
  }

  private async stillDefined(uuid: string): Promise<boolean> {
    return this.hypervisor.state(uuid).then(
      () => true,
      (error: unknown) => {
        if (error instanceof DomainNotFoundError) return false;
        throw error;
      },
    );
  }
}
