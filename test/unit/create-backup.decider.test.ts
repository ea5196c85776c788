import { describe, expect, it } from 'vitest';
import { InstanceInvalidStateError } from '../../src/domain/domain-errors';
import { decideSnapshotRequest, decideTaskTransition } from '../../src/domain/instance.decider';
import { foldInstance } from '../../src/domain/instance.state';
import {
  SYSTEM_ACTOR,
  isRequestedTaskState,
  type InstanceEvent,
  type RecordedEvent,
  type VmState,
} from '../../src/events';
import { nextStep } from '../../src/sagas/snapshot-next-step';
import { foldSnapshotProcess } from '../../src/sagas/snapshot-process.state';

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

function backupTaken(): InstanceEvent {
  return {
    type: 'TaskStateChanged',
    data: { instanceId: VM, from: null, to: 'image_backup', imageId: IMG },
  };
}

function recorded(events: { type: string; data: unknown }[], stream: string): RecordedEvent[] {
  return events.map((e, i) => ({
    streamName: stream,
    revision: i,
    position: i + 1,
    type: e.type,
    data: e.data,
    metadata: {
      eventId: `e${i}`,
      correlationId: 'req-1',
      causationId: 'req-1',
      actor: SYSTEM_ACTOR,
      requestId: 'req-1',
      occurredAt: '2030-01-01T00:00:00.000Z',
      schemaVersion: 1,
    },
  }));
}

describe('createBackup: the task state', () => {
  it('given an idle active instance, when a backup is requested, then task_state goes None → image_backup', () => {
    const state = foldInstance([registered()]);
    expect(
      decideSnapshotRequest(state, { instanceId: VM, imageId: IMG, action: 'createBackup' }),
    ).toEqual([backupTaken()]);
  });

  it("given a backup running, when another backup is requested, then Nova's 409 names createBackup and the task state", () => {
    const state = foldInstance([registered(), backupTaken()]);
    expect(() =>
      decideSnapshotRequest(state, { instanceId: VM, imageId: 'other', action: 'createBackup' }),
    ).toThrow(new InstanceInvalidStateError(VM, 'createBackup', 'task_state', 'image_backup'));
  });

  it.each<VmState>(['active', 'stopped', 'paused', 'suspended'])(
    'given vm_state %s, when a backup is requested, then it is allowed (as for createImage)',
    (vmState) => {
      const state = foldInstance([registered(vmState)]);
      expect(
        decideSnapshotRequest(state, { instanceId: VM, imageId: IMG, action: 'createBackup' }),
      ).toHaveLength(1);
    },
  );

  it('given vm_state error, when a backup is requested, then it is a 409', () => {
    const state = foldInstance([registered('error')]);
    expect(() =>
      decideSnapshotRequest(state, { instanceId: VM, imageId: IMG, action: 'createBackup' }),
    ).toThrow("Cannot 'createBackup' instance");
  });

  it('given task_state image_backup, when the saga begins, then image_backup → image_snapshot is a valid move', () => {
    const state = foldInstance([registered(), backupTaken()]);
    expect(
      decideTaskTransition(state, { imageId: IMG, from: 'image_backup', to: 'image_snapshot' })[0]
        ?.data,
    ).toMatchObject({ from: 'image_backup', to: 'image_snapshot' });
  });

  it('given the requested task states, when asked, then both createImage and createBackup states count', () => {
    expect(isRequestedTaskState('image_backup')).toBe(true);
    expect(isRequestedTaskState('image_snapshot_pending')).toBe(true);
    expect(isRequestedTaskState('image_snapshot')).toBe(false);
    expect(isRequestedTaskState(null)).toBe(false);
  });
});

describe('createBackup: the snapshot saga', () => {
  /** A backup that took image_backup, with or without its image reserved. */
  function backupProcess(imageReserved: boolean) {
    const reservation = {
      type: 'ImageReserved',
      data: {
        imageId: IMG,
        name: 'b',
        instanceId: VM,
        projectId: 'p',
        userId: 'u',
        imageType: 'backup',
        properties: { image_type: 'backup', backup_type: 'daily' },
        backupType: 'daily',
        rotation: 2,
      },
    };
    return foldSnapshotProcess({
      imageId: IMG,
      instanceEvents: recorded([registered(), backupTaken()], `instance-${VM}`),
      imageEvents: imageReserved ? recorded([reservation], `image-${IMG}`) : [],
      snapshotEvents: [],
    });
  }

  it('given a reserved backup holding image_backup, when asked, then the next step is begin', () => {
    expect(nextStep(backupProcess(true))).toEqual({ kind: 'begin' });
  });

  it('given image_backup taken but no image reserved, when asked, then the request is still found (origin) and released', () => {
    const state = backupProcess(false);
    expect(state.origin?.requestId).toBe('req-1');
    expect(nextStep(state).kind).toBe('release');
  });
});
