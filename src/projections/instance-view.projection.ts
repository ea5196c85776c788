import type { EntityManager } from 'typeorm';
import type { RecordedEvent } from '../events/recorded-event';
import { InstanceView } from './entities/instance-view.entity';
import { insertRow, lookUpRow, updateRows } from './plain-sql';
import { asKnownEvent, type Projection } from './projection';

/**
 * instance_view: one row per instance. InstanceRegistered creates (or, for a later
 * registration of the same domain, refreshes) the row; PowerStateSynced sets power and vm
 * state; TaskStateChanged sets the task state and the image holding it; DomainSaved marks
 * the domain shut down (managed-saved) and DomainRestored puts back the power state it
 * reports. InstanceDeleted marks it deleted (vm_state deleted); InstanceRestored brings the
 * row back as libvirt describes the domain. Events for an instance that was never
 * registered change nothing.
 */
export class InstanceViewProjection implements Projection {
  readonly name = 'instance-view';
  readonly tables = ['instance_view'];

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    const event = asKnownEvent(recorded);
    const at = event.metadata.occurredAt;
    switch (event.type) {
      case 'InstanceRegistered':
      case 'InstanceRestored': {
        const d = event.data;
        const fields = {
          name: d.domainName,
          projectId: d.projectId,
          userId: d.userId,
          host: d.host,
          vmState: d.vmState,
          powerState: d.powerState,
          diskPath: d.diskPath,
          diskFormat: d.diskFormat,
          vcpus: d.vcpus,
          memoryMiB: d.memoryMiB,
          updatedAt: at,
          deleted: false,
          deletedAt: null,
        };
        const existing = await lookUpRow(
          manager,
          'SELECT 1 AS found FROM instance_view WHERE id = :id',
          { id: d.instanceId },
        );
        if (existing) {
          await updateRows(manager, InstanceView, { id: d.instanceId }, fields);
        } else {
          await insertRow(manager, InstanceView, {
            id: d.instanceId,
            ...fields,
            taskState: null,
            taskImageId: null,
            createdAt: at,
          });
        }
        return;
      }
      case 'PowerStateSynced':
        await updateRows(
          manager,
          InstanceView,
          { id: event.data.instanceId },
          { powerState: event.data.powerState, vmState: event.data.vmState, updatedAt: at },
        );
        return;
      case 'TaskStateChanged':
        await updateRows(
          manager,
          InstanceView,
          { id: event.data.instanceId },
          {
            taskState: event.data.to,
            taskImageId: event.data.to === null ? null : event.data.imageId,
            updatedAt: at,
          },
        );
        return;
      case 'DomainSaved':
        // managedsave leaves the domain shut off until it is restored.
        await updateRows(
          manager,
          InstanceView,
          { id: event.data.instanceId },
          { powerState: 'shutdown', updatedAt: at },
        );
        return;
      case 'DomainRestored':
        await updateRows(
          manager,
          InstanceView,
          { id: event.data.instanceId },
          { powerState: event.data.powerState, updatedAt: at },
        );
        return;
      case 'BackupPolicySet':
        await updateRows(
          manager,
          InstanceView,
          { id: event.data.instanceId },
          { incrementalBackups: event.data.incremental, updatedAt: at },
        );
        return;
      case 'InstanceDeleted':
        // As Nova shows a deleted server to admins: vm_state deleted, no task, no power.
        await updateRows(
          manager,
          InstanceView,
          { id: event.data.instanceId },
          {
            deleted: true,
            deletedAt: at,
            vmState: 'deleted',
            powerState: 'nostate',
            taskState: null,
            taskImageId: null,
            updatedAt: at,
          },
        );
        return;
      default:
        return;
    }
  }
}
