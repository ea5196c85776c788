import type {
  DomainRestored,
  DomainSaved,
  InstanceDeleted,
  InstanceRegistered,
  InstanceRestored,
  PowerState,
  PowerStateSynced,
  TaskState,
  TaskStateChanged,
  VmState,
} from '../events';
import {
  InstanceInvalidStateError,
  InstanceNotFoundError,
  InvalidTransitionError,
} from './domain-errors';
import type { InstanceState } from './instance.state';

/** What a libvirt sync saw of one domain: exactly what registering it records. */
export type ObservedDomain = InstanceRegistered['data'];

/**
 * Nova allows createImage and createBackup in these vm_states (compute/api.py snapshot() and
 * backup() share one check_instance_state list).
 */
export const SNAPSHOT_ALLOWED_VM_STATES: readonly VmState[] = [
  'active',
  'stopped',
  'paused',
  'suspended',
];

/**
 * Records a domain seen by libvirt. New domains are registered, and a deleted instance whose
 * uuid is defined again is restored; a changed power state is synced, except while a task
 * holds the instance (as Nova's power-state sync skips them: our own managedsave must not
 * look like the guest stopping).
 */
export function decideObservation(
  state: InstanceState,
  seen: ObservedDomain,
): (InstanceRegistered | InstanceRestored | PowerStateSynced)[] {
  if (!state.exists) return [{ type: 'InstanceRegistered', data: { ...seen } }];
  if (state.deleted) return [{ type: 'InstanceRestored', data: { ...seen } }];
  if (state.taskState !== null) return [];
  if (state.powerState === seen.powerState && state.vmState === seen.vmState) return [];
  return [
    {
      type: 'PowerStateSynced',
      data: { instanceId: seen.instanceId, powerState: seen.powerState, vmState: seen.vmState },
    },
  ];
}

/**
 * A known instance whose domain libvirt no longer has (by uuid): it is deleted, once. Not
 * while a snapshot holds its task state: that snapshot ends first (killed, its domain being
 * gone), and the instance is deleted at the next look. `holder` is the uuid of a domain that
 * now has the instance's name, if any.
 */
export function decideDisappearance(
  state: InstanceState,
  holder: string | null,
): InstanceDeleted[] {
  if (!state.exists || state.deleted || state.taskState !== null) return [];
  return [
    {
      type: 'InstanceDeleted',
      data: {
        instanceId: state.instanceId as string,
        domainName: state.domainName as string,
        ...(holder === null ? { seen: 'undefined' } : { seen: 'replaced', replacedBy: holder }),
      },
    },
  ];
}

/** The server actions that make an image, and the task state each takes at the API. */
export type SnapshotRequestAction = 'createImage' | 'createBackup';
const REQUESTED_TASK_STATE: Record<SnapshotRequestAction, TaskState> = {
  createImage: 'image_snapshot_pending',
  createBackup: 'image_backup',
};

/**
 * createImage's and createBackup's state check and task_state compare-and-swap:
 * None → image_snapshot_pending (createImage) or image_backup (createBackup), as in Nova.
 * The swap is made safe by appending with the stream revision this state was read at.
 */
export function decideSnapshotRequest(
  state: InstanceState,
  request: { instanceId: string; imageId: string; action: SnapshotRequestAction },
): TaskStateChanged[] {
  if (!state.exists || state.deleted || state.vmState === null)
    throw new InstanceNotFoundError(request.instanceId);
  if (!SNAPSHOT_ALLOWED_VM_STATES.includes(state.vmState)) {
    throw new InstanceInvalidStateError(
      request.instanceId,
      request.action,
      'vm_state',
      state.vmState,
    );
  }
  if (state.taskState !== null) {
    throw new InstanceInvalidStateError(
      request.instanceId,
      request.action,
      'task_state',
      state.taskState,
    );
  }
  return [
    {
      type: 'TaskStateChanged',
      data: {
        instanceId: request.instanceId,
        from: null,
        to: REQUESTED_TASK_STATE[request.action],
        imageId: request.imageId,
      },
    },
  ];
}

/** Moves the task state of a snapshot in progress, checking the expected state like Nova's expected_task_state. */
export function decideTaskTransition(
  state: InstanceState,
  change: { imageId: string; from: TaskState; to: TaskState | null; reason?: string },
): TaskStateChanged[] {
  if (state.taskImageId !== change.imageId || state.taskState !== change.from) {
    throw new InvalidTransitionError(
      `task_state of ${String(state.instanceId)} is ${String(state.taskState)} (image ${String(state.taskImageId)}), ` +
        `expected ${change.from} for image ${change.imageId}`,
    );
  }
  const data: TaskStateChanged['data'] = {
    instanceId: state.instanceId as string,
    from: change.from,
    to: change.to,
    imageId: change.imageId,
    ...(change.reason === undefined ? {} : { reason: change.reason }),
  };
  return [{ type: 'TaskStateChanged', data }];
}

/** Releases the task state of a snapshot that ends, whatever step it reached. */
export function decideTaskRelease(
  state: InstanceState,
  release: { imageId: string; reason?: string },
): TaskStateChanged[] {
  if (state.taskImageId !== release.imageId || state.taskState === null) return [];
  return decideTaskTransition(state, {
    imageId: release.imageId,
    from: state.taskState,
    to: null,
    reason: release.reason,
  });
}

export function decideDomainSaved(
  state: InstanceState,
  saved: { imageId: string; priorPowerState: PowerState; startedAt: string; durationMs: number },
): DomainSaved[] {
  if (state.taskImageId !== saved.imageId) {
    throw new InvalidTransitionError(
      `instance ${String(state.instanceId)} is not held by snapshot ${saved.imageId}`,
    );
  }
  if (state.savedForImageId === saved.imageId) return [];
  return [{ type: 'DomainSaved', data: { instanceId: state.instanceId as string, ...saved } }];
}

export function decideDomainRestored(
  state: InstanceState,
  restored: { imageId: string; powerState: PowerState; startedAt: string; durationMs: number },
): DomainRestored[] {
  if (state.savedForImageId !== restored.imageId) return [];
  return [
    { type: 'DomainRestored', data: { instanceId: state.instanceId as string, ...restored } },
  ];
}
