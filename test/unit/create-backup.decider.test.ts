import { describe, expect, it } from 'vitest';
import { InstanceInvalidStateError } from '../../src/domain/domain-errors';
import { decideSnapshotRequest, decideTaskTransition } from '../../src/domain/instance.decider';
import { foldInstance } from '../../src/domain/instance.state';
import {
  SYSTEM_ACTOR,
  isRequestedTaskState,
  type InstanceEvent,
  type TaskStateChanged,
  type VmState,
} from '../../src/events';
import { nextStep } from '../../src/sagas/snapshot-next-step';
import { deciderSpecification } from '../support/decider-specification';
import { EventHistory } from '../support/event-history';
import { givenSnapshotProcess } from '../support/snapshot-process.specification';

const VM = '11111111-1111-4111-8111-111111111111';
const IMG = '22222222-2222-4222-8222-222222222222';

function registered(vmState: VmState = 'active'): InstanceEvent {
  return {
    type: 'InstanceRegistered',
    data: {
      instanceId: VM,
      domainName: 'vm',
      projectId: 'p',
      userId: 'u',
      ownerSource: 'snapledger',
      diskPath: '/d.qcow2',
      diskFormat: 'qcow2',
      powerState: vmState === 'active' ? 'running' : 'shutdown',
      vmState,
      vcpus: 1,
      memoryMiB: 128,
      host: 'h',
    },
  };
}

function backupTaken(): TaskStateChanged {
  return {
    type: 'TaskStateChanged',
    data: { instanceId: VM, from: null, to: 'image_backup', imageId: IMG },
  };
}

const given = deciderSpecification(foldInstance);
const backup = (imageId = IMG) => ({ instanceId: VM, imageId, action: 'createBackup' }) as const;

describe('createBackup: the task state', () => {
  it('given an idle active instance, when a backup is requested, then task_state goes None → image_backup', () =>
    given(registered()).when(decideSnapshotRequest, backup()).then([backupTaken()]));

  it("given a backup running, when another backup is requested, then Nova's 409 names createBackup and the task state", () =>
    given(registered(), backupTaken())
      .when(decideSnapshotRequest, backup('other'))
      .thenThrows(new InstanceInvalidStateError(VM, 'createBackup', 'task_state', 'image_backup')));

  it.each<VmState>(['active', 'stopped', 'paused', 'suspended'])(
    'given vm_state %s, when a backup is requested, then it is allowed (as for createImage)',
    (vmState) =>
      given(registered(vmState))
        .when(decideSnapshotRequest, backup())
        .thenMatches([{ type: 'TaskStateChanged' }]),
  );

  it('given vm_state error, when a backup is requested, then it is a 409', () =>
    given(registered('error'))
      .when(decideSnapshotRequest, backup())
      .thenThrows("Cannot 'createBackup' instance"));

  it('given task_state image_backup, when the saga begins, then image_backup → image_snapshot is a valid move', () =>
    given(registered(), backupTaken())
      .when(decideTaskTransition, { imageId: IMG, from: 'image_backup', to: 'image_snapshot' })
      .thenMatches([{ data: { from: 'image_backup', to: 'image_snapshot' } }]));

  it('given the requested task states, when asked, then both createImage and createBackup states count', () => {
    expect(isRequestedTaskState('image_backup')).toBe(true);
    expect(isRequestedTaskState('image_snapshot_pending')).toBe(true);
    expect(isRequestedTaskState('image_snapshot')).toBe(false);
    expect(isRequestedTaskState(null)).toBe(false);
  });
});

describe('createBackup: the snapshot saga', () => {
  /** A backup that took image_backup, with or without its image reserved. */
  function backupTakenBy(history: EventHistory, imageReserved: boolean): EventHistory {
    history.registered().taskTo('image_backup');
    if (!imageReserved) return history;
    return history.reserved(undefined, {
      name: 'b',
      imageType: 'backup',
      properties: { image_type: 'backup', backup_type: 'daily' },
      backupType: 'daily',
      rotation: 2,
    });
  }

  it('given a reserved backup holding image_backup, when asked, then the next step is begin', () =>
    givenSnapshotProcess(backupTakenBy(new EventHistory({ actor: SYSTEM_ACTOR }), true))
      .when(nextStep)
      .then({ kind: 'begin' }));

  it('given image_backup taken but no image reserved, when asked, then the request is still found (origin) and released', () => {
    const history = backupTakenBy(new EventHistory({ actor: SYSTEM_ACTOR }), false);
    const process = givenSnapshotProcess(history);
    expect(process.state.origin?.requestId).toBe(history.requestId);
    process.when(nextStep).thenMatches({ kind: 'release' });
  });
});
