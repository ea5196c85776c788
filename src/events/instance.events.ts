/** Nova's power_state names (nova/compute/power_state.py), as strings. */
export type PowerState = 'running' | 'paused' | 'shutdown' | 'crashed' | 'suspended' | 'nostate';
/** Nova vm_state values that libvirt domains map onto. */
export type VmState = 'active' | 'paused' | 'suspended' | 'stopped' | 'error';
/** Nova task_state values used by snapshots and backups. */
export type TaskState =
  | 'image_snapshot_pending'
  | 'image_snapshot'
  | 'image_pending_upload'
  | 'image_uploading'
  | 'image_backup';

/**
 * The task states the API takes for a new image (createImage, createBackup); the saga's first
 * step moves either to image_snapshot, as Nova's compute manager does.
 */
export const REQUESTED_TASK_STATES: readonly TaskState[] = [
  'image_snapshot_pending',
  'image_backup',
];

export function isRequestedTaskState(state: TaskState | null): boolean {
  return state !== null && REQUESTED_TASK_STATES.includes(state);
}

export type InstanceRegistered = {
  readonly type: 'InstanceRegistered';
  readonly data: {
    readonly instanceId: string;
    readonly domainName: string;
    readonly projectId: string;
    readonly userId: string;
    /** Where the owner came from: nova metadata, snapledger metadata or the configured default. */
    readonly ownerSource: 'nova' | 'snapledger' | 'default';
    readonly diskPath: string | null;
    readonly diskFormat: string | null;
    readonly powerState: PowerState;
    readonly vmState: VmState;
    readonly vcpus: number;
    readonly memoryMiB: number;
    readonly host: string;
  };
};

export type PowerStateSynced = {
  readonly type: 'PowerStateSynced';
  readonly data: {
    readonly instanceId: string;
    readonly powerState: PowerState;
    readonly vmState: VmState;
  };
};

export type TaskStateChanged = {
  readonly type: 'TaskStateChanged';
  readonly data: {
    readonly instanceId: string;
    readonly from: TaskState | null;
    readonly to: TaskState | null;
    /** The image whose snapshot moved the task state. */
    readonly imageId: string;
    /** Why, when the change ends a snapshot that did not complete. */
    readonly reason?: string;
  };
};

export type DomainSaved = {
  readonly type: 'DomainSaved';
  readonly data: {
    readonly instanceId: string;
    readonly imageId: string;
    readonly priorPowerState: PowerState;
    /** When managedsave was started: the domain's downtime starts here. */
    readonly startedAt: string;
    readonly durationMs: number;
  };
};

export type DomainRestored = {
  readonly type: 'DomainRestored';
  readonly data: {
    readonly instanceId: string;
    readonly imageId: string;
    readonly powerState: PowerState;
    readonly startedAt: string;
    readonly durationMs: number;
  };
};

/**
 * The instance's domain left libvirt: undefined, or its name now belongs to a domain with
 * another uuid. As in Nova, a deleted server is gone from the API (404), but its images and
 * snapshot history stay.
 */
export type InstanceDeleted = {
  readonly type: 'InstanceDeleted';
  readonly data: {
    readonly instanceId: string;
    readonly domainName: string;
    /** `undefined`: no domain of this uuid or name; `replaced`: the name is another domain's. */
    readonly seen: 'undefined' | 'replaced';
    /** With `replaced`: the uuid of the domain that holds the name now. */
    readonly replacedBy?: string;
  };
};

/**
 * A deleted instance's domain was defined again with the same uuid: the same instance comes
 * back, with its earlier history, as libvirt describes it now.
 */
export type InstanceRestored = {
  readonly type: 'InstanceRestored';
  readonly data: InstanceRegistered['data'];
};

/**
 * The instance's backup policy: with `incremental`, every createBackup of it (the real
 * `openstack server backup create` included) asks for an incremental backup, unless the
 * request says otherwise.
 */
export type BackupPolicySet = {
  readonly type: 'BackupPolicySet';
  readonly data: { readonly instanceId: string; readonly incremental: boolean };
};

export type InstanceEvent =
  | InstanceRegistered
  | PowerStateSynced
  | TaskStateChanged
  | DomainSaved
  | DomainRestored
  | InstanceDeleted
  | InstanceRestored
  | BackupPolicySet;
