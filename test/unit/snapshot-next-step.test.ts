import { describe, expect, it } from 'vitest';
import {
  SYSTEM_ACTOR,
  imageStream,
  instanceStream,
  snapshotStream,
  type Actor,
  type EventMetadata,
  type EventOfType,
  type PowerState,
  type RecordedEvent,
  type SnapledgerEventType,
  type SnapshotMode,
  type SnapshotStep,
  type TaskState,
} from '../../src/events';
import {
  nextStep,
  stepOf,
  type NextStepOptions,
  type SnapshotAction,
} from '../../src/sagas/snapshot-next-step';
import {
  foldSnapshotProcess,
  type SnapshotProcessState,
} from '../../src/sagas/snapshot-process.state';

const VM = '11111111-1111-4111-8111-111111111111';
const IMG = '22222222-2222-4222-8222-222222222222';
const OTHER_IMG = '33333333-3333-4333-8333-333333333333';
const T0 = '2030-01-02T03:04:05.000Z';
const USER: Actor = { userId: 'u-alice', projectId: 'p-owner', roles: ['member'] };

/**
 * Builds the three streams of one snapshot as RecordedEvents: each stream has its own
 * 0-based revisions, all share one 1-based global position, and each event is caused by
 * the one before it.
 */
class History {
  readonly instanceEvents: RecordedEvent[] = [];
  readonly imageEvents: RecordedEvent[] = [];
  readonly snapshotEvents: RecordedEvent[] = [];
  private position = 0;
  private previousId = 'req-1';
  private task: TaskState | null = null;
  private taskImage = IMG;

  constructor(private readonly imageId = IMG) {}

  private record<T extends SnapledgerEventType>(
    into: RecordedEvent[],
    streamName: string,
    type: T,
    data: EventOfType<T>['data'],
    actor: Actor = SYSTEM_ACTOR,
  ): this {
    this.position += 1;
    const eventId = `evt-${String(this.position).padStart(4, '0')}`;
    const metadata: EventMetadata = {
      eventId,
      correlationId: 'req-1',
      causationId: this.previousId,
      actor,
      requestId: 'req-1',
      occurredAt: T0,
      schemaVersion: 1,
    };
    into.push({ streamName, revision: into.length, position: this.position, type, data, metadata });
    this.previousId = eventId;
    return this;
  }

  private instance<T extends SnapledgerEventType>(type: T, data: EventOfType<T>['data']): this {
    return this.record(this.instanceEvents, instanceStream(VM), type, data);
  }

  private image<T extends SnapledgerEventType>(type: T, data: EventOfType<T>['data']): this {
    return this.record(this.imageEvents, imageStream(this.imageId), type, data, USER);
  }

  registered(powerState: PowerState = 'running'): this {
    return this.instance('InstanceRegistered', {
      instanceId: VM,
      domainName: 'vm-alpha',
      projectId: 'p-owner',
      userId: 'u-alice',
      ownerSource: 'snapledger',
      diskPath: '/var/lib/libvirt/images/vm-alpha.qcow2',
      diskFormat: 'qcow2',
      powerState,
      vmState: powerState === 'running' ? 'active' : powerState === 'paused' ? 'paused' : 'stopped',
      vcpus: 1,
      memoryMiB: 512,
      host: 'host-1',
    });
  }

  reserved(): this {
    return this.image('ImageReserved', {
      imageId: this.imageId,
      name: 'nightly',
      instanceId: VM,
      projectId: 'p-owner',
      userId: 'u-alice',
      imageType: 'snapshot',
      properties: {},
    });
  }

  /** Moves the task state from wherever it is to `to`, held by `imageId`. */
  taskTo(to: TaskState | null, imageId = this.imageId, reason?: string): this {
    const from = this.task;
    this.task = to;
    this.taskImage = imageId;
    return this.instance('TaskStateChanged', {
      instanceId: VM,
      from,
      to,
      imageId: this.taskImage,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  planned(mode: SnapshotMode, priorPowerState: PowerState = 'running'): this {
    return this.record(this.snapshotEvents, snapshotStream(this.imageId), 'SnapshotPlanned', {
      imageId: this.imageId,
      instanceId: VM,
      mode,
      priorPowerState,
      priorVmState: priorPowerState === 'running' ? 'active' : 'stopped',
      domainName: 'vm-alpha',
      diskPath: '/var/lib/libvirt/images/vm-alpha.qcow2',
      sourceFormat: 'qcow2',
      targetFormat: 'qcow2',
      virtualSize: 1_073_741_824,
    });
  }

  saved(): this {
    return this.instance('DomainSaved', {
      instanceId: VM,
      imageId: this.imageId,
      priorPowerState: 'running',
      startedAt: T0,
      durationMs: 1500,
    });
  }

  /** Live path: QuiesceSkipped and DiskMirrored, appended together by the mirror step. */
  mirrored(): this {
    this.record(this.snapshotEvents, snapshotStream(this.imageId), 'QuiesceSkipped', {
      imageId: this.imageId,
      instanceId: VM,
      reason: 'the domain has no QEMU guest agent channel',
    });
    return this.record(this.snapshotEvents, snapshotStream(this.imageId), 'DiskMirrored', {
      imageId: this.imageId,
      instanceId: VM,
      overBackingFile: false,
      startedAt: T0,
      durationMs: 600,
    });
  }

  deltaRemoved(): this {
    return this.record(this.snapshotEvents, snapshotStream(this.imageId), 'DeltaRemoved', {
      imageId: this.imageId,
      instanceId: VM,
      removedFile: true,
      abortedJob: false,
      startedAt: T0,
      durationMs: 2,
    });
  }

  progressed(percent: number): this {
    return this.image('ConversionProgressed', { imageId: this.imageId, percent });
  }

  extracted(): this {
    return this.image('ImageExtracted', {
      imageId: this.imageId,
      diskFormat: 'qcow2',
      virtualSize: 1_073_741_824,
      startedAt: T0,
      durationMs: 4000,
    });
  }

  restored(): this {
    return this.instance('DomainRestored', {
      instanceId: VM,
      imageId: this.imageId,
      powerState: 'running',
      startedAt: T0,
      durationMs: 900,
    });
  }

  uploaded(): this {
    return this.image('Uploaded', {
      imageId: this.imageId,
      size: 4096,
      virtualSize: 1_073_741_824,
      checksum: 'd41d8cd98f00b204e9800998ecf8427e',
      osHashAlgo: 'sha512',
      osHashValue: 'cf83e135',
      diskFormat: 'qcow2',
      containerFormat: 'bare',
      startedAt: T0,
      durationMs: 200,
    });
  }

  failed(step: SnapshotStep, reason: string): this {
    return this.image('SnapshotFailed', { imageId: this.imageId, step, reason });
  }

  deleted(): this {
    return this.image('ImageDeleted', { imageId: this.imageId, reason: 'user' });
  }

  state(): SnapshotProcessState {
    return foldSnapshotProcess({
      imageId: this.imageId,
      imageEvents: this.imageEvents,
      instanceEvents: this.instanceEvents,
      snapshotEvents: this.snapshotEvents,
    });
  }

  next(options?: NextStepOptions): SnapshotAction {
    return nextStep(this.state(), options);
  }
}

/** A running instance whose createImage was accepted: image reserved, task pending. */
const requested = () =>
  new History().registered('running').reserved().taskTo('image_snapshot_pending');

describe('nextStep: the cold path, in order', () => {
  it('given a reserved image and task image_snapshot_pending, when asked, then the next step is begin', () => {
    expect(requested().next()).toEqual({ kind: 'begin' });
  });

  it('given task image_snapshot and no plan, when asked, then the next step is plan', () => {
    expect(requested().taskTo('image_snapshot').next()).toEqual({ kind: 'plan' });
  });

  it('given a cold plan and the domain not yet saved, when asked, then the next step is save', () => {
    expect(requested().taskTo('image_snapshot').planned('cold').next()).toEqual({ kind: 'save' });
  });

  it('given a cold plan and the domain saved, when asked, then the next step is mark-pending-upload', () => {
    expect(requested().taskTo('image_snapshot').planned('cold').saved().next()).toEqual({
      kind: 'mark-pending-upload',
    });
  });

  it('given task image_pending_upload and nothing extracted, when asked, then the next step is extract', () => {
    const history = requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .saved()
      .taskTo('image_pending_upload');
    expect(history.next()).toEqual({ kind: 'extract' });
  });

  it('given extraction in progress (progress events only), when asked, then the next step is still extract', () => {
    const history = requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .saved()
      .taskTo('image_pending_upload')
      .progressed(42);
    expect(history.next()).toEqual({ kind: 'extract' });
  });

  it('given the image extracted and the domain still saved by us, when asked, then the next step is restore', () => {
    const history = requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .saved()
      .taskTo('image_pending_upload')
      .extracted();
    expect(history.next()).toEqual({ kind: 'restore' });
  });

  it('given the domain restored after extraction, when asked, then the next step is mark-uploading', () => {
    const history = requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .saved()
      .taskTo('image_pending_upload')
      .extracted()
      .restored();
    expect(history.next()).toEqual({ kind: 'mark-uploading' });
  });

  it('given task image_uploading and no upload yet, when asked, then the next step is upload', () => {
    const history = requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .saved()
      .taskTo('image_pending_upload')
      .extracted()
      .restored()
      .taskTo('image_uploading');
    expect(history.next()).toEqual({ kind: 'upload' });
  });

  it('given the image uploaded and the task still image_uploading, when asked, then the next step is finish', () => {
    const history = requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .saved()
      .taskTo('image_pending_upload')
      .extracted()
      .restored()
      .taskTo('image_uploading')
      .uploaded();
    expect(history.next()).toEqual({ kind: 'finish' });
  });

  it('given task None and the image active, when asked, then the snapshot is done', () => {
    const history = requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .saved()
      .taskTo('image_pending_upload')
      .extracted()
      .restored()
      .taskTo('image_uploading')
      .uploaded()
      .taskTo(null);
    expect(history.next()).toEqual({ kind: 'done' });
  });

  it("given the cold path walked step by step, when each step is asked, then the actions follow Nova's order", () => {
    const history = requested();
    const seen: SnapshotAction['kind'][] = [history.next().kind];
    const steps: ((h: History) => History)[] = [
      (h) => h.taskTo('image_snapshot'),
      (h) => h.planned('cold'),
      (h) => h.saved(),
      (h) => h.taskTo('image_pending_upload'),
      (h) => h.extracted(),
      (h) => h.restored(),
      (h) => h.taskTo('image_uploading'),
      (h) => h.uploaded(),
      (h) => h.taskTo(null),
    ];
    for (const step of steps) seen.push(step(history).next().kind);
    expect(seen).toEqual([
      'begin',
      'plan',
      'save',
      'mark-pending-upload',
      'extract',
      'restore',
      'mark-uploading',
      'upload',
      'finish',
      'done',
    ]);
  });
});

describe('nextStep: the live path (running or paused domain, no downtime)', () => {
  const live = () => requested().taskTo('image_snapshot').planned('live');

  it('given a live plan, when asked, then the domain is not saved: the next step is mark-pending-upload', () => {
    expect(live().next()).toEqual({ kind: 'mark-pending-upload' });
  });

  it('given a live plan in image_pending_upload and no mirror yet, when asked, then the next step is mirror', () => {
    expect(live().taskTo('image_pending_upload').next()).toEqual({ kind: 'mirror' });
  });

  it('given the disk mirrored, when asked, then the next step is extract (from the delta)', () => {
    expect(live().taskTo('image_pending_upload').mirrored().next()).toEqual({ kind: 'extract' });
  });

  it('given the delta extracted, when asked, then the delta is removed before the upload, with no restore', () => {
    const history = live().taskTo('image_pending_upload').mirrored().extracted();
    expect(history.next()).toEqual({ kind: 'cleanup' });
    expect(history.deltaRemoved().next()).toEqual({ kind: 'mark-uploading' });
  });

  it('given the live path walked step by step, when each step is asked, then save and restore never appear', () => {
    const history = requested();
    const seen: SnapshotAction['kind'][] = [history.next().kind];
    const steps: ((h: History) => History)[] = [
      (h) => h.taskTo('image_snapshot'),
      (h) => h.planned('live'),
      (h) => h.taskTo('image_pending_upload'),
      (h) => h.mirrored(),
      (h) => h.extracted(),
      (h) => h.deltaRemoved(),
      (h) => h.taskTo('image_uploading'),
      (h) => h.uploaded(),
      (h) => h.taskTo(null),
    ];
    for (const step of steps) seen.push(step(history).next().kind);
    expect(seen).toEqual([
      'begin',
      'plan',
      'mark-pending-upload',
      'mirror',
      'extract',
      'cleanup',
      'mark-uploading',
      'upload',
      'finish',
      'done',
    ]);
  });

  it('given the mirror failed, when asked, then the delta and any block job are cleaned up before the task is released', () => {
    const failed = live().taskTo('image_pending_upload').failed('mirror', 'blockcopy timed out');
    expect(failed.next()).toEqual({ kind: 'cleanup' });
    expect(failed.deltaRemoved().next()).toEqual({
      kind: 'release',
      reason: 'snapshot failed at mirror: blockcopy timed out',
    });
  });

  it('given a live snapshot whose image is deleted after the mirror, when asked, then the delta is removed, then the task released', () => {
    const deleted = live().taskTo('image_pending_upload').mirrored().deleted();
    expect(deleted.next()).toEqual({ kind: 'cleanup' });
    expect(deleted.deltaRemoved().next().kind).toBe('release');
  });

  it('given a cold plan, when the snapshot fails, then no delta cleanup is asked for', () => {
    const failed = requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .failed('save', 'managedsave failed');
    expect(failed.next().kind).toBe('release');
  });
});

describe('nextStep: the offline path (shut-off domain)', () => {
  const offline = () =>
    new History().registered('shutdown').reserved().taskTo('image_snapshot_pending');

  it('given an offline plan, when asked, then the domain is not saved: the next step is mark-pending-upload', () => {
    expect(offline().taskTo('image_snapshot').planned('offline', 'shutdown').next()).toEqual({
      kind: 'mark-pending-upload',
    });
  });

  it('given an offline snapshot extracted, when asked, then there is no restore: the next step is mark-uploading', () => {
    const history = offline()
      .taskTo('image_snapshot')
      .planned('offline', 'shutdown')
      .taskTo('image_pending_upload')
      .extracted();
    expect(history.next()).toEqual({ kind: 'mark-uploading' });
  });

  it('given the offline path walked step by step, when each step is asked, then save and restore never appear', () => {
    const history = offline();
    const seen: SnapshotAction['kind'][] = [history.next().kind];
    const steps: ((h: History) => History)[] = [
      (h) => h.taskTo('image_snapshot'),
      (h) => h.planned('offline', 'shutdown'),
      (h) => h.taskTo('image_pending_upload'),
      (h) => h.extracted(),
      (h) => h.taskTo('image_uploading'),
      (h) => h.uploaded(),
      (h) => h.taskTo(null),
    ];
    for (const step of steps) seen.push(step(history).next().kind);
    expect(seen).toEqual([
      'begin',
      'plan',
      'mark-pending-upload',
      'extract',
      'mark-uploading',
      'upload',
      'finish',
      'done',
    ]);
  });
});

describe('nextStep: failure compensation', () => {
  const savedThenKilled = () =>
    requested()
      .taskTo('image_snapshot')
      .planned('cold')
      .saved()
      .taskTo('image_pending_upload')
      .failed('extract', 'qemu-img exited with 1');

  it('given a killed image and a domain still saved by us, when asked, then the domain is restored first', () => {
    expect(savedThenKilled().next()).toEqual({ kind: 'restore' });
  });

  it('given a killed image whose domain was restored, when asked, then the task is released with the failing step in the reason', () => {
    const action = savedThenKilled().restored().next();
    expect(action.kind).toBe('release');
    expect(action).toEqual({
      kind: 'release',
      reason: 'snapshot failed at extract: qemu-img exited with 1',
    });
  });

  it('given a killed image whose task was released, when asked, then the process is done', () => {
    const history = savedThenKilled()
      .restored()
      .taskTo(null, IMG, 'snapshot failed at extract: qemu-img exited with 1');
    expect(history.next()).toEqual({ kind: 'done' });
  });

  it('given a killed image still saved but restore given up, when asked, then the task is released without restoring', () => {
    const action = savedThenKilled().next({ restoreGivenUp: true });
    expect(action).toMatchObject({ kind: 'release' });
    expect((action as { reason: string }).reason).toContain('extract');
  });

  it('given restore given up with its reason, when asked, then the release reason says the domain was not restored and why', () => {
    const action = savedThenKilled().next({
      restoreGivenUp: true,
      restoreGivenUpReason: 'domain vm-1 not found',
    });
    expect(action).toEqual({
      kind: 'release',
      reason:
        'snapshot failed at extract: qemu-img exited with 1; the domain was not restored, restoring it was given up: domain vm-1 not found',
    });
  });

  it('given a killed image never saved (offline), when asked, then the task is released directly', () => {
    const history = new History()
      .registered('shutdown')
      .reserved()
      .taskTo('image_snapshot_pending')
      .taskTo('image_snapshot')
      .failed('plan', 'no file-backed disk');
    expect(history.next()).toEqual({
      kind: 'release',
      reason: 'snapshot failed at plan: no file-backed disk',
    });
  });

  it('given an image deleted while its snapshot ran, when asked, then the task is released saying so', () => {
    const history = requested().taskTo('image_snapshot').deleted();
    expect(history.next()).toEqual({
      kind: 'release',
      reason: 'image was deleted while its snapshot ran',
    });
  });

  it('given a killed image with the task held and the domain saved for it, when restore is given up and the task released, then it is done', () => {
    const history = savedThenKilled().taskTo(null, IMG, 'given up');
    expect(history.next({ restoreGivenUp: true })).toEqual({ kind: 'done' });
  });
});

describe('nextStep: lost or foreign ownership', () => {
  it('given the task held for this image but no ImageReserved, when asked, then the task is released', () => {
    const history = new History().registered().taskTo('image_snapshot_pending');
    const action = history.next();
    expect(action.kind).toBe('release');
    expect((action as { reason: string }).reason).toMatch(/reservation was lost/);
  });

  it('given the task held but no ImageReserved, when folded, then the origin comes from the request that took the task state', () => {
    const history = new History().registered().taskTo('image_snapshot_pending');
    const taken = history.instanceEvents.at(-1);
    expect(history.state().origin).toMatchObject({
      actor: taken?.metadata.actor,
      requestId: taken?.metadata.requestId,
      correlationId: taken?.metadata.correlationId,
      causationId: taken?.metadata.eventId,
    });
  });

  it('given no ImageReserved and no task held, when asked, then there is nothing to do', () => {
    expect(new History().registered().next()).toEqual({ kind: 'done' });
  });

  it('given a reserved image but the task held by another image, when asked, then this snapshot fails at begin', () => {
    const history = new History()
      .registered()
      .reserved()
      .taskTo('image_snapshot_pending', OTHER_IMG);
    expect(history.next()).toEqual({
      kind: 'fail',
      step: 'begin',
      reason: 'the instance task state no longer belongs to this snapshot',
    });
  });

  it('given a reserved image and the task released by someone else mid-flight, when asked, then this snapshot fails', () => {
    const history = requested().taskTo('image_snapshot').planned('cold').taskTo(null);
    expect(history.next()).toMatchObject({ kind: 'fail', step: 'begin' });
  });
});

describe('foldSnapshotProcess', () => {
  it('given three streams, when folded, then revisions are the last revision of each stream', () => {
    const state = requested().taskTo('image_snapshot').planned('cold').state();
    expect(state.instanceRevision).toBe(2);
    expect(state.imageRevision).toBe(0);
    expect(state.snapshotRevision).toBe(0);
    expect(state.plan?.mode).toBe('cold');
  });

  it('given empty streams, when folded, then every revision is no_stream and there is no origin', () => {
    const state = new History().state();
    expect(state.imageRevision).toBe('no_stream');
    expect(state.instanceRevision).toBe('no_stream');
    expect(state.snapshotRevision).toBe('no_stream');
    expect(state.origin).toBeNull();
  });

  it("given a reserved image, when folded, then the origin carries the reservation's actor and request, caused by the latest related event", () => {
    const history = requested().taskTo('image_snapshot').planned('cold');
    const state = history.state();
    expect(state.origin).toEqual({
      actor: USER,
      requestId: 'req-1',
      correlationId: 'req-1',
      causationId: history.snapshotEvents[0].metadata.eventId,
    });
  });

  it('given no request in the log, when folded, then the snapshot is unrequested, with no plan', () => {
    const state = new History().registered('running').planned('cold').state();
    expect(state.phase).toBe('unrequested');
    expect(state.plan).toBeNull();
    expect(nextStep(state)).toEqual({ kind: 'done' });
  });

  it('given a reserved image not yet planned, when folded, then it is unplanned, for the instance the request named', () => {
    const state = requested().taskTo('image_snapshot').state();
    expect(state.phase).toBe('unplanned');
    expect(state.phase !== 'unrequested' && state.instanceId).toBe(VM);
  });

  it('given the task state taken but the image never reserved, when folded, then the take is the request', () => {
    const history = new History().registered('running').taskTo('image_snapshot_pending');
    const state = history.state();
    expect(state.phase).toBe('unplanned');
    expect(state.phase !== 'unrequested' && state.instanceId).toBe(VM);
    expect(state.origin?.causationId).toBe(history.instanceEvents[1].metadata.eventId);
  });

  it('given a plan, when folded, then it is planned, with the plan recorded', () => {
    const state = requested().taskTo('image_snapshot').planned('live').state();
    expect(state.phase).toBe('planned');
    expect(state.plan?.mode).toBe('live');
  });

  it("given another image's events on the instance stream, when folded, then they are not taken as the cause", () => {
    const history = requested().taskTo(null, IMG).taskTo('image_snapshot_pending', OTHER_IMG);
    const [ownRelease, foreign] = history.instanceEvents.slice(-2);
    const state = history.state();
    expect(state.origin?.causationId).toBe(ownRelease.metadata.eventId);
    expect(state.origin?.causationId).not.toBe(foreign.metadata.eventId);
  });
});

describe('stepOf', () => {
  it('given each forward action, when mapped, then it belongs to the SnapshotFailed step Nova would report', () => {
    expect(stepOf).toEqual({
      begin: 'begin',
      plan: 'plan',
      save: 'save',
      'mark-pending-upload': 'save',
      mirror: 'mirror',
      extract: 'extract',
      cleanup: 'cleanup',
      restore: 'restore',
      'mark-uploading': 'upload',
      upload: 'upload',
      finish: 'upload',
    });
  });
});
