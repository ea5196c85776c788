import { describe, expect, it } from 'vitest';
import {
  InstanceInvalidStateError,
  InstanceNotFoundError,
  InvalidTransitionError,
} from '../../src/domain/domain-errors';
import {
  SNAPSHOT_ALLOWED_VM_STATES,
  decideDomainRestored,
  decideDisappearance,
  decideDomainSaved,
  decideObservation,
  decideSnapshotRequest,
  decideTaskRelease,
  decideTaskTransition,
  type ObservedDomain,
} from '../../src/domain/instance.decider';
import {
  evolveInstance,
  foldInstance,
  initialInstanceState,
} from '../../src/domain/instance.state';
import { deciderSpecification } from '../support/decider-specification';
import type {
  InstanceEvent,
  InstanceRegistered,
  PowerState,
  TaskState,
  VmState,
} from '../../src/events';

const VM = '11111111-1111-4111-8111-111111111111';
const IMG = '22222222-2222-4222-8222-222222222222';
const OTHER_IMG = '33333333-3333-4333-8333-333333333333';
const T0 = '2030-01-02T03:04:05.000Z';

function observed(overrides: Partial<ObservedDomain> = {}): ObservedDomain {
  return {
    instanceId: VM,
    domainName: 'vm-alpha',
    projectId: 'p-owner',
    userId: 'u-alice',
    ownerSource: 'snapledger',
    diskPath: '/var/lib/libvirt/images/vm-alpha.qcow2',
    diskFormat: 'qcow2',
    powerState: 'running',
    vmState: 'active',
    vcpus: 2,
    memoryMiB: 1024,
    host: 'host-1',
    ...overrides,
  };
}

function registered(overrides: Partial<ObservedDomain> = {}): InstanceRegistered {
  return { type: 'InstanceRegistered', data: { ...observed(overrides) } };
}

function taskChanged(
  from: TaskState | null,
  to: TaskState | null,
  imageId = IMG,
  reason?: string,
): InstanceEvent {
  return {
    type: 'TaskStateChanged',
    data: {
      instanceId: VM,
      from,
      to,
      imageId,
      ...(reason === undefined ? {} : { reason }),
    },
  };
}

function domainSaved(imageId = IMG, priorPowerState: PowerState = 'running'): InstanceEvent {
  return {
    type: 'DomainSaved',
    data: { instanceId: VM, imageId, priorPowerState, startedAt: T0, durationMs: 1200 },
  };
}

function domainRestored(imageId = IMG, powerState: PowerState = 'running'): InstanceEvent {
  return {
    type: 'DomainRestored',
    data: { instanceId: VM, imageId, powerState, startedAt: T0, durationMs: 800 },
  };
}

const given = deciderSpecification(foldInstance);

/** A registered instance in the given vm_state / power_state. */
const instanceIn = (
  vmState: VmState,
  powerState: PowerState = 'running',
  ...later: InstanceEvent[]
) => given(registered({ vmState, powerState }), ...later);

/** A running instance whose task state is held by IMG at `task`. */
function heldAt(task: TaskState, ...later: InstanceEvent[]) {
  const path: InstanceEvent[] = [taskChanged(null, 'image_snapshot_pending')];
  const order: TaskState[] = [
    'image_snapshot_pending',
    'image_snapshot',
    'image_pending_upload',
    'image_uploading',
  ];
  for (let i = 1; i <= order.indexOf(task); i++) path.push(taskChanged(order[i - 1], order[i]));
  return instanceIn('active', 'running', ...path, ...later);
}

const request = { instanceId: VM, imageId: IMG, action: 'createImage' } as const;

describe('instance state (evolveInstance / foldInstance)', () => {
  it('given no events, when folded, then the instance does not exist', () => {
    expect(foldInstance([])).toEqual(initialInstanceState);
    expect(foldInstance([]).exists).toBe(false);
  });

  it('given an InstanceRegistered event, when folded, then identity, disk and states are taken from it', () => {
    expect(given(registered({ powerState: 'paused', vmState: 'paused' })).state).toEqual({
      exists: true,
      deleted: false,
      instanceId: VM,
      domainName: 'vm-alpha',
      projectId: 'p-owner',
      userId: 'u-alice',
      powerState: 'paused',
      vmState: 'paused',
      taskState: null,
      taskImageId: null,
      savedForImageId: null,
      diskPath: '/var/lib/libvirt/images/vm-alpha.qcow2',
      diskFormat: 'qcow2',
      incrementalBackups: false,
      host: 'host-1',
    });
  });

  it('given a registered instance, when PowerStateSynced is applied, then power and vm state change', () => {
    const state = evolveInstance(instanceIn('active', 'running').state, {
      type: 'PowerStateSynced',
      data: { instanceId: VM, powerState: 'shutdown', vmState: 'stopped' },
    });
    expect(state.powerState).toBe('shutdown');
    expect(state.vmState).toBe('stopped');
  });

  it('given a task held by an image, when the task moves to None, then the holding image is cleared', () => {
    const held = heldAt('image_uploading').state;
    expect(held.taskState).toBe('image_uploading');
    expect(held.taskImageId).toBe(IMG);
    const released = evolveInstance(held, taskChanged('image_uploading', null));
    expect(released.taskState).toBeNull();
    expect(released.taskImageId).toBeNull();
  });

  it('given a running instance, when DomainSaved then DomainRestored apply, then power goes shutdown and back', () => {
    const saved = heldAt('image_snapshot', domainSaved()).state;
    expect(saved.powerState).toBe('shutdown');
    expect(saved.savedForImageId).toBe(IMG);
    const restored = evolveInstance(saved, domainRestored(IMG, 'paused'));
    expect(restored.powerState).toBe('paused');
    expect(restored.savedForImageId).toBeNull();
  });

  it('given a state, when an event is applied, then the previous state object is not mutated', () => {
    const before = instanceIn('active').state;
    const snapshot = { ...before };
    evolveInstance(before, taskChanged(null, 'image_snapshot_pending'));
    expect(before).toEqual(snapshot);
  });
});

describe('decideObservation', () => {
  it('given an unknown domain, when libvirt reports it, then it is registered with everything seen', () => {
    const seen = observed();
    given()
      .when(decideObservation, seen)
      .then([{ type: 'InstanceRegistered', data: seen }]);
    expect(decideObservation(initialInstanceState, seen)[0].data).not.toBe(seen);
  });

  it('given a registered instance, when the same power and vm state are seen, then nothing is recorded', () =>
    instanceIn('active', 'running').when(decideObservation, observed()).thenNothingHappened());

  it('given a running instance with no task, when it is seen shut off, then PowerStateSynced is recorded', () =>
    instanceIn('active', 'running')
      .when(decideObservation, observed({ powerState: 'shutdown', vmState: 'stopped' }))
      .then([
        {
          type: 'PowerStateSynced',
          data: { instanceId: VM, powerState: 'shutdown', vmState: 'stopped' },
        },
      ]));

  it('given an instance, when only the vm_state differs, then PowerStateSynced is recorded', () =>
    instanceIn('stopped', 'shutdown')
      .when(decideObservation, observed({ powerState: 'shutdown', vmState: 'suspended' }))
      .thenMatches([{ type: 'PowerStateSynced', data: { vmState: 'suspended' } }]));

  it('given an instance whose task_state is set, when a changed power state is seen, then nothing is synced', () =>
    heldAt('image_snapshot', domainSaved())
      .when(decideObservation, observed({ powerState: 'shutdown', vmState: 'suspended' }))
      .thenNothingHappened());
});

describe('decideSnapshotRequest (createImage)', () => {
  it('given a running instance with no task, when createImage is requested, then task_state moves to image_snapshot_pending', () =>
    instanceIn('active')
      .when(decideSnapshotRequest, request)
      .then([
        {
          type: 'TaskStateChanged',
          data: { instanceId: VM, from: null, to: 'image_snapshot_pending', imageId: IMG },
        },
      ]));

  it("given Nova's allowed vm_states, then they are exactly active, stopped, paused and suspended", () => {
    expect([...SNAPSHOT_ALLOWED_VM_STATES].sort()).toEqual([
      'active',
      'paused',
      'stopped',
      'suspended',
    ]);
  });

  it.each<[VmState, PowerState]>([
    ['active', 'running'],
    ['stopped', 'shutdown'],
    ['paused', 'paused'],
    ['suspended', 'shutdown'],
  ])(
    'given an instance in vm_state %s with no task, when createImage is requested, then it is accepted',
    (vmState, powerState) =>
      instanceIn(vmState, powerState)
        .when(decideSnapshotRequest, request)
        .thenMatches([{ data: { to: 'image_snapshot_pending' } }]),
  );

  it("given an instance in vm_state error, when createImage is requested, then a 409-style error with Nova's message is thrown", () =>
    instanceIn('error', 'crashed')
      .when(decideSnapshotRequest, request)
      .thenThrows(
        InstanceInvalidStateError,
        `Cannot 'createImage' instance ${VM} while it is in vm_state error`,
      ));

  it("given an instance whose task_state is image_snapshot_pending, when createImage is requested again, then Nova's task_state message is thrown", () =>
    heldAt('image_snapshot_pending')
      .when(decideSnapshotRequest, { ...request, imageId: OTHER_IMG })
      .thenThrows(InstanceInvalidStateError, {
        message: `Cannot 'createImage' instance ${VM} while it is in task_state image_snapshot_pending`,
        attribute: 'task_state',
        state: 'image_snapshot_pending',
        action: 'createImage',
      }));

  it('given an instance in vm_state error that also has a task_state, when createImage is requested, then vm_state is reported first', () => {
    const erroredWithTask = given(
      registered({ vmState: 'error', powerState: 'crashed' }),
      taskChanged(null, 'image_snapshot_pending', OTHER_IMG),
    );
    expect(erroredWithTask.state.taskState).toBe('image_snapshot_pending');
    erroredWithTask
      .when(decideSnapshotRequest, request)
      .thenThrows(`Cannot 'createImage' instance ${VM} while it is in vm_state error`);
  });

  it('given no registered instance, when createImage is requested, then InstanceNotFoundError is thrown', () =>
    given()
      .when(decideSnapshotRequest, request)
      .thenThrows(InstanceNotFoundError, `Instance ${VM} could not be found.`));
});

describe('decideTaskTransition', () => {
  it('given a task at image_snapshot_pending for the image, when it moves to image_snapshot, then TaskStateChanged is decided', () =>
    heldAt('image_snapshot_pending')
      .when(decideTaskTransition, {
        imageId: IMG,
        from: 'image_snapshot_pending',
        to: 'image_snapshot',
      })
      .then([
        {
          type: 'TaskStateChanged',
          data: {
            instanceId: VM,
            from: 'image_snapshot_pending',
            to: 'image_snapshot',
            imageId: IMG,
          },
        },
      ]));

  it('given a task at image_uploading, when it moves to None with a reason, then the reason is carried', () =>
    heldAt('image_uploading')
      .when(decideTaskTransition, {
        imageId: IMG,
        from: 'image_uploading',
        to: null,
        reason: 'done early',
      })
      .then([
        {
          type: 'TaskStateChanged',
          data: {
            instanceId: VM,
            from: 'image_uploading',
            to: null,
            imageId: IMG,
            reason: 'done early',
          },
        },
      ]));

  it('given a transition without a reason, when decided, then the event has no reason key at all', () => {
    // toEqual would take a `reason: undefined` for no reason: the keys themselves are checked
    const [event] = decideTaskTransition(heldAt('image_snapshot').state, {
      imageId: IMG,
      from: 'image_snapshot',
      to: 'image_pending_upload',
    });
    expect(Object.keys(event.data)).not.toContain('reason');
  });

  it('given a task at image_snapshot, when a transition from image_snapshot_pending is asked, then InvalidTransitionError is thrown', () =>
    heldAt('image_snapshot')
      .when(decideTaskTransition, {
        imageId: IMG,
        from: 'image_snapshot_pending',
        to: 'image_snapshot',
      })
      .thenThrows(InvalidTransitionError));

  it('given a task held by another image, when this image asks for a transition, then InvalidTransitionError is thrown', () =>
    heldAt('image_snapshot')
      .when(decideTaskTransition, {
        imageId: OTHER_IMG,
        from: 'image_snapshot',
        to: 'image_pending_upload',
      })
      .thenThrows(InvalidTransitionError));

  it('given no task, when a transition is asked, then InvalidTransitionError is thrown', () =>
    instanceIn('active')
      .when(decideTaskTransition, {
        imageId: IMG,
        from: 'image_snapshot_pending',
        to: 'image_snapshot',
      })
      .thenThrows(/expected image_snapshot_pending for image/));
});

describe('decideTaskRelease', () => {
  it('given a task held by the image at image_pending_upload, when released, then it moves from there to None with the reason', () =>
    heldAt('image_pending_upload')
      .when(decideTaskRelease, { imageId: IMG, reason: 'failed' })
      .then([
        {
          type: 'TaskStateChanged',
          data: {
            instanceId: VM,
            from: 'image_pending_upload',
            to: null,
            imageId: IMG,
            reason: 'failed',
          },
        },
      ]));

  it('given a task held by another image, when this image releases, then nothing is decided', () =>
    heldAt('image_snapshot').when(decideTaskRelease, { imageId: OTHER_IMG }).thenNothingHappened());

  it('given no task at all, when released, then nothing is decided', () =>
    instanceIn('active').when(decideTaskRelease, { imageId: IMG }).thenNothingHappened());

  it('given a task already released, when released again, then nothing is decided', () =>
    heldAt('image_snapshot', taskChanged('image_snapshot', null, IMG, 'failed'))
      .when(decideTaskRelease, { imageId: IMG })
      .thenNothingHappened());
});

describe('decideDomainSaved / decideDomainRestored', () => {
  const saved = {
    imageId: IMG,
    priorPowerState: 'running' as const,
    startedAt: T0,
    durationMs: 1200,
  };
  const restored = { imageId: IMG, powerState: 'running' as const, startedAt: T0, durationMs: 800 };

  it('given a task held by the image, when the domain is saved, then DomainSaved is decided', () =>
    heldAt('image_snapshot')
      .when(decideDomainSaved, saved)
      .then([{ type: 'DomainSaved', data: { instanceId: VM, ...saved } }]));

  it('given the domain already saved for the image, when it is saved again, then nothing is decided', () =>
    heldAt('image_snapshot', domainSaved()).when(decideDomainSaved, saved).thenNothingHappened());

  it('given a task held by another image, when this image saves the domain, then InvalidTransitionError is thrown', () =>
    heldAt('image_snapshot')
      .when(decideDomainSaved, { ...saved, imageId: OTHER_IMG })
      .thenThrows(InvalidTransitionError));

  it('given a domain saved for the image, when it is restored, then DomainRestored is decided', () =>
    heldAt('image_pending_upload', domainSaved())
      .when(decideDomainRestored, restored)
      .then([{ type: 'DomainRestored', data: { instanceId: VM, ...restored } }]));

  it('given a domain already restored, when it is restored again, then nothing is decided', () =>
    heldAt('image_pending_upload', domainSaved(), domainRestored())
      .when(decideDomainRestored, restored)
      .thenNothingHappened());

  it('given a domain never saved, when a restore is decided, then nothing is decided', () =>
    heldAt('image_pending_upload').when(decideDomainRestored, restored).thenNothingHappened());

  it('given a domain saved for another image, when this image restores it, then nothing is decided', () =>
    heldAt('image_pending_upload', domainSaved(OTHER_IMG))
      .when(decideDomainRestored, restored)
      .thenNothingHappened());

  it('given a released task but a domain still saved for the image (compensation), when restored, then DomainRestored is still decided', () => {
    const released = heldAt(
      'image_snapshot',
      domainSaved(),
      taskChanged('image_snapshot', null, IMG, 'failed'),
    );
    expect(released.state.taskState).toBeNull();
    released.when(decideDomainRestored, restored).thenMatches([{ type: 'DomainRestored' }]);
  });
});

describe('an instance whose domain leaves libvirt', () => {
  const deleted: InstanceEvent = {
    type: 'InstanceDeleted',
    data: { instanceId: VM, domainName: 'vm-alpha', seen: 'undefined' },
  };

  it('given a known instance, when its domain is gone, then it is deleted once', () => {
    given(registered()).when(decideDisappearance, null).then([deleted]);
    given(registered(), deleted).when(decideDisappearance, null).thenNothingHappened();
  });

  it('given another domain now holds the name, then it says so', () => {
    const holder = '44444444-4444-4444-8444-444444444444';
    given(registered())
      .when(decideDisappearance, holder)
      .then([
        {
          type: 'InstanceDeleted',
          data: { instanceId: VM, domainName: 'vm-alpha', seen: 'replaced', replacedBy: holder },
        },
      ]);
  });

  it('given a snapshot holds the task state, then the deletion waits for it to end', () => {
    given(registered(), taskChanged(null, 'image_snapshot_pending'))
      .when(decideDisappearance, null)
      .thenNothingHappened();
    given(
      registered(),
      taskChanged(null, 'image_snapshot_pending'),
      taskChanged('image_snapshot_pending', null, IMG, 'domain gone'),
    )
      .when(decideDisappearance, null)
      .then([deleted]);
  });

  it('given an unknown instance, then nothing happens', () =>
    given().when(decideDisappearance, null).thenNothingHappened());

  it('given a deleted instance, then createImage is a 404, as in Nova', () => {
    const gone = given(registered(), deleted);
    gone
      .when(decideSnapshotRequest, { instanceId: VM, imageId: IMG, action: 'createImage' })
      .thenThrows(InstanceNotFoundError);
    gone
      .when(decideSnapshotRequest, { instanceId: VM, imageId: IMG, action: 'createBackup' })
      .thenThrows(InstanceNotFoundError);
  });

  it('given its uuid is defined again, then the same instance is restored, as libvirt sees it', () => {
    const seen = observed({ powerState: 'shutdown', vmState: 'stopped' });
    given(registered(), deleted)
      .when(decideObservation, seen)
      .then([{ type: 'InstanceRestored', data: seen }]);
    const back = given(registered(), deleted, { type: 'InstanceRestored', data: seen });
    expect(back.state).toMatchObject({ exists: true, deleted: false, vmState: 'stopped' });
    back.when(decideObservation, seen).thenNothingHappened();
  });
});
