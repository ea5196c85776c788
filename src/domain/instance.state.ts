import type { InstanceEvent, PowerState, TaskState, VmState } from '../events';

/** The instance aggregate's state, folded from its stream. */
export interface InstanceState {
  readonly exists: boolean;
  /** Its domain left libvirt (InstanceDeleted), and has not come back (InstanceRestored). */
  readonly deleted: boolean;
  readonly instanceId: string | null;
  readonly domainName: string | null;
  readonly projectId: string | null;
  readonly userId: string | null;
  readonly powerState: PowerState | null;
  readonly vmState: VmState | null;
  readonly taskState: TaskState | null;
  /** The image whose snapshot holds the task state. */
  readonly taskImageId: string | null;
  /** The image whose snapshot managed-saved the domain and has not restored it yet. */
  readonly savedForImageId: string | null;
  readonly diskPath: string | null;
  readonly diskFormat: string | null;
  /** The compute host whose libvirt has the domain (its agent runs the instance's snapshots). */
  readonly host: string | null;
  /** The backup policy (BackupPolicySet): createBackup asks for incremental backups. */
  readonly incrementalBackups: boolean;
}

export const initialInstanceState: InstanceState = Object.freeze({
  exists: false,
  deleted: false,
  instanceId: null,
  domainName: null,
  projectId: null,
  userId: null,
  powerState: null,
  vmState: null,
  taskState: null,
  taskImageId: null,
  savedForImageId: null,
  diskPath: null,
  diskFormat: null,
  host: null,
  incrementalBackups: false,
});

export function evolveInstance(state: InstanceState, event: InstanceEvent): InstanceState {
  switch (event.type) {
    case 'InstanceRegistered':
    case 'InstanceRestored':
      return {
        ...state,
        exists: true,
        deleted: false,
        instanceId: event.data.instanceId,
        domainName: event.data.domainName,
        projectId: event.data.projectId,
        userId: event.data.userId,
        powerState: event.data.powerState,
        vmState: event.data.vmState,
        diskPath: event.data.diskPath,
        diskFormat: event.data.diskFormat,
        host: event.data.host,
      };
    case 'PowerStateSynced':
      return { ...state, powerState: event.data.powerState, vmState: event.data.vmState };
    case 'TaskStateChanged':
      return {
        ...state,
        taskState: event.data.to,
        taskImageId: event.data.to === null ? null : event.data.imageId,
      };
    case 'DomainSaved':
      return { ...state, powerState: 'shutdown', savedForImageId: event.data.imageId };
    case 'DomainRestored':
      return { ...state, powerState: event.data.powerState, savedForImageId: null };
    case 'InstanceDeleted':
      return { ...state, deleted: true };
    case 'BackupPolicySet':
      return { ...state, incrementalBackups: event.data.incremental };
    default:
      return state;
  }
}

export function foldInstance(events: readonly InstanceEvent[]): InstanceState {
  return events.reduce(evolveInstance, initialInstanceState);
}
