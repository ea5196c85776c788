import { describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/events';
import { nextStep, stepOf, type SnapshotAction } from '../../src/domain/snapshot-next-step';
import {
  EventHistory,
  INSTANCE_ID,
  OTHER_IMAGE_ID as OTHER_IMG,
  OWNER as USER,
} from '../support/event-history';
import { givenSnapshotProcess as given } from '../support/snapshot-process.specification';

/** The instance and snapshot streams are written by the service, the image's by the user. */
const history = () => new EventHistory({ actor: SYSTEM_ACTOR, actors: { image: USER } });

/** A running instance whose createImage was accepted: image reserved, task pending. */
const requested = () => history().registered('running').reserved().taskTo('image_snapshot_pending');

/** Each step's next action, from the history before the first step to the end. */
function walk(start: EventHistory, steps: ((h: EventHistory) => EventHistory)[]) {
  const kindOf = (h: EventHistory) => nextStep(given(h).state).kind;
  const seen: SnapshotAction['kind'][] = [kindOf(start)];
  for (const step of steps) seen.push(kindOf(step(start)));
  return seen;
}

describe('nextStep: the cold path, in order', () => {
  const saved = () => requested().taskTo('image_snapshot').planned('cold').saved();
  const extracted = () => saved().taskTo('image_pending_upload').extracted();
  const uploading = () => extracted().restored().taskTo('image_uploading');

  it('given a reserved image and task image_snapshot_pending, when asked, then the next step is begin', () =>
    given(requested()).when(nextStep).then({ kind: 'begin' }));

  it('given task image_snapshot and no plan, when asked, then the next step is plan', () =>
    given(requested().taskTo('image_snapshot')).when(nextStep).then({ kind: 'plan' }));

  it('given a cold plan and the domain not yet saved, when asked, then the next step is save', () =>
    given(requested().taskTo('image_snapshot').planned('cold'))
      .when(nextStep)
      .then({ kind: 'save' }));

  it('given a cold plan and the domain saved, when asked, then the next step is mark-pending-upload', () =>
    given(saved()).when(nextStep).then({ kind: 'mark-pending-upload' }));

  it('given task image_pending_upload and nothing extracted, when asked, then the next step is extract', () =>
    given(saved().taskTo('image_pending_upload')).when(nextStep).then({ kind: 'extract' }));

  it('given extraction in progress (progress events only), when asked, then the next step is still extract', () =>
    given(saved().taskTo('image_pending_upload').progressed(42))
      .when(nextStep)
      .then({ kind: 'extract' }));

  it('given the image extracted and the domain still saved by us, when asked, then the next step is restore', () =>
    given(extracted()).when(nextStep).then({ kind: 'restore' }));

  it('given the domain restored after extraction, when asked, then the next step is mark-uploading', () =>
    given(extracted().restored()).when(nextStep).then({ kind: 'mark-uploading' }));

  it('given task image_uploading and no upload yet, when asked, then the next step is upload', () =>
    given(uploading()).when(nextStep).then({ kind: 'upload' }));

  it('given the image uploaded and the task still image_uploading, when asked, then the next step is finish', () =>
    given(uploading().uploaded()).when(nextStep).then({ kind: 'finish' }));

  it('given task None and the image active, when asked, then the snapshot is done', () =>
    given(uploading().uploaded().taskTo(null)).when(nextStep).then({ kind: 'done' }));

  it('given a chain backup stored without checksums and task image_uploading, when asked, then the next step is finish (the task state goes first)', () =>
    given(uploading().uploadedAsLayer()).when(nextStep).then({ kind: 'finish' }));

  it('given a chain backup stored without checksums and task None, when asked, then the next step is checksum', () =>
    given(uploading().uploadedAsLayer().taskTo(null)).when(nextStep).then({ kind: 'checksum' }));

  it('given a chain backup hashed after task None, when asked, then the snapshot is done', () =>
    given(uploading().uploadedAsLayer().taskTo(null).checksummed())
      .when(nextStep)
      .then({ kind: 'done' }));

  it('given a chain backup deleted before it was hashed, when asked, then the snapshot is done (its data goes with the deletion)', () =>
    given(uploading().uploadedAsLayer().taskTo(null).deleted())
      .when(nextStep)
      .then({ kind: 'done' }));

  it('given hashing a chain backup given up (ImageChecksumFailed), when asked, then the snapshot is done', () =>
    given(uploading().uploadedAsLayer().taskTo(null).checksumFailed('no room to flatten'))
      .when(nextStep)
      .then({ kind: 'done' }));

  it("given the cold path walked step by step, when each step is asked, then the actions follow Nova's order", () => {
    expect(
      walk(requested(), [
        (h) => h.taskTo('image_snapshot'),
        (h) => h.planned('cold'),
        (h) => h.saved(),
        (h) => h.taskTo('image_pending_upload'),
        (h) => h.extracted(),
        (h) => h.restored(),
        (h) => h.taskTo('image_uploading'),
        (h) => h.uploaded(),
        (h) => h.taskTo(null),
      ]),
    ).toEqual([
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

  it('given a live plan, when asked, then the domain is not saved: the next step is mark-pending-upload', () =>
    given(live()).when(nextStep).then({ kind: 'mark-pending-upload' }));

  it('given a live plan in image_pending_upload and no mirror yet, when asked, then the next step is mirror', () =>
    given(live().taskTo('image_pending_upload')).when(nextStep).then({ kind: 'mirror' }));

  it('given the disk mirrored, when asked, then the next step is extract (from the delta)', () =>
    given(live().taskTo('image_pending_upload').mirrored())
      .when(nextStep)
      .then({ kind: 'extract' }));

  it('given the delta extracted, when asked, then the delta is removed before the upload, with no restore', () => {
    const extracted = live().taskTo('image_pending_upload').mirrored().extracted();
    given(extracted).when(nextStep).then({ kind: 'cleanup' });
    given(extracted.deltaRemoved()).when(nextStep).then({ kind: 'mark-uploading' });
  });

  it('given the live path walked step by step, when each step is asked, then save and restore never appear', () => {
    expect(
      walk(requested(), [
        (h) => h.taskTo('image_snapshot'),
        (h) => h.planned('live'),
        (h) => h.taskTo('image_pending_upload'),
        (h) => h.mirrored(),
        (h) => h.extracted(),
        (h) => h.deltaRemoved(),
        (h) => h.taskTo('image_uploading'),
        (h) => h.uploaded(),
        (h) => h.taskTo(null),
      ]),
    ).toEqual([
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
    given(failed).when(nextStep).then({ kind: 'cleanup' });
    given(failed.deltaRemoved())
      .when(nextStep)
      .then({ kind: 'release', reason: 'snapshot failed at mirror: blockcopy timed out' });
  });

  it('given a live snapshot whose image is deleted after the mirror, when asked, then the delta is removed, then the task released', () => {
    const deleted = live().taskTo('image_pending_upload').mirrored().deleted();
    given(deleted).when(nextStep).then({ kind: 'cleanup' });
    given(deleted.deltaRemoved()).when(nextStep).thenMatches({ kind: 'release' });
  });

  it('given a cold plan, when the snapshot fails, then no delta cleanup is asked for', () =>
    given(requested().taskTo('image_snapshot').planned('cold').failed('save', 'managedsave failed'))
      .when(nextStep)
      .thenMatches({ kind: 'release' }));
});

describe('nextStep: the offline path (shut-off domain)', () => {
  const offline = () =>
    history().registered('shutdown').reserved().taskTo('image_snapshot_pending');

  it('given an offline plan, when asked, then the domain is not saved: the next step is mark-pending-upload', () =>
    given(offline().taskTo('image_snapshot').planned('offline'))
      .when(nextStep)
      .then({ kind: 'mark-pending-upload' }));

  it('given an offline snapshot extracted, when asked, then there is no restore: the next step is mark-uploading', () =>
    given(
      offline()
        .taskTo('image_snapshot')
        .planned('offline')
        .taskTo('image_pending_upload')
        .extracted(),
    )
      .when(nextStep)
      .then({ kind: 'mark-uploading' }));

  it('given the offline path walked step by step, when each step is asked, then save and restore never appear', () => {
    expect(
      walk(offline(), [
        (h) => h.taskTo('image_snapshot'),
        (h) => h.planned('offline'),
        (h) => h.taskTo('image_pending_upload'),
        (h) => h.extracted(),
        (h) => h.taskTo('image_uploading'),
        (h) => h.uploaded(),
        (h) => h.taskTo(null),
      ]),
    ).toEqual([
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

  it('given a killed image and a domain still saved by us, when asked, then the domain is restored first', () =>
    given(savedThenKilled()).when(nextStep).then({ kind: 'restore' }));

  it('given a killed image whose domain was restored, when asked, then the task is released with the failing step in the reason', () =>
    given(savedThenKilled().restored())
      .when(nextStep)
      .then({ kind: 'release', reason: 'snapshot failed at extract: qemu-img exited with 1' }));

  it('given a killed image whose task was released, when asked, then the process is done', () =>
    given(
      savedThenKilled()
        .restored()
        .taskTo(null, { reason: 'snapshot failed at extract: qemu-img exited with 1' }),
    )
      .when(nextStep)
      .then({ kind: 'done' }));

  it('given a killed image still saved but restore given up, when asked, then the task is released without restoring', () =>
    given(savedThenKilled())
      .when(nextStep, { restoreGivenUp: true })
      .thenMatches({ kind: 'release', reason: expect.stringContaining('extract') }));

  it('given restore given up with its reason, when asked, then the release reason says the domain was not restored and why', () =>
    given(savedThenKilled())
      .when(nextStep, { restoreGivenUp: true, restoreGivenUpReason: 'domain vm-1 not found' })
      .then({
        kind: 'release',
        reason:
          'snapshot failed at extract: qemu-img exited with 1; the domain was not restored, restoring it was given up: domain vm-1 not found',
      }));

  it('given a killed image never saved (offline), when asked, then the task is released directly', () =>
    given(
      history()
        .registered('shutdown')
        .reserved()
        .taskTo('image_snapshot_pending')
        .taskTo('image_snapshot')
        .failed('plan', 'no file-backed disk'),
    )
      .when(nextStep)
      .then({ kind: 'release', reason: 'snapshot failed at plan: no file-backed disk' }));

  it('given an image deleted while its snapshot ran, when asked, then the task is released saying so', () =>
    given(requested().taskTo('image_snapshot').deleted())
      .when(nextStep)
      .then({ kind: 'release', reason: 'image was deleted while its snapshot ran' }));

  it('given a killed image with the task held and the domain saved for it, when restore is given up and the task released, then it is done', () =>
    given(savedThenKilled().taskTo(null, { reason: 'given up' }))
      .when(nextStep, { restoreGivenUp: true })
      .then({ kind: 'done' }));
});

describe('nextStep: lost or foreign ownership', () => {
  it('given the task held for this image but no ImageReserved, when asked, then the task is released', () =>
    given(history().registered().taskTo('image_snapshot_pending'))
      .when(nextStep)
      .thenMatches({ kind: 'release', reason: expect.stringMatching(/reservation was lost/) }));

  it('given the task held but no ImageReserved, when folded, then the origin comes from the request that took the task state', () => {
    const taken = history().registered().taskTo('image_snapshot_pending');
    const { metadata } = taken.instanceEvents.at(-1)!;
    expect(given(taken).state.origin).toMatchObject({
      actor: metadata.actor,
      requestId: metadata.requestId,
      correlationId: metadata.correlationId,
      causationId: metadata.eventId,
    });
  });

  it('given no ImageReserved and no task held, when asked, then there is nothing to do', () =>
    given(history().registered()).when(nextStep).then({ kind: 'done' }));

  it('given a reserved image but the task held by another image, when asked, then this snapshot fails at begin', () =>
    given(
      history().registered().reserved().taskTo('image_snapshot_pending', { imageId: OTHER_IMG }),
    )
      .when(nextStep)
      .then({
        kind: 'fail',
        step: 'begin',
        reason: 'the instance task state no longer belongs to this snapshot',
      }));

  it('given a reserved image and the task released by someone else mid-flight, when asked, then this snapshot fails', () =>
    given(requested().taskTo('image_snapshot').planned('cold').taskTo(null))
      .when(nextStep)
      .thenMatches({ kind: 'fail', step: 'begin' }));
});

describe('foldSnapshotProcess', () => {
  it('given three streams, when folded, then revisions are the last revision of each stream', () => {
    const { state } = given(requested().taskTo('image_snapshot').planned('cold'));
    expect(state.instanceRevision).toBe(2);
    expect(state.imageRevision).toBe(0);
    expect(state.snapshotRevision).toBe(0);
    expect(state.plan?.mode).toBe('cold');
  });

  it('given empty streams, when folded, then every revision is no_stream and there is no origin', () => {
    const { state } = given(history());
    expect(state.imageRevision).toBe('no_stream');
    expect(state.instanceRevision).toBe('no_stream');
    expect(state.snapshotRevision).toBe('no_stream');
    expect(state.origin).toBeNull();
  });

  it("given a reserved image, when folded, then the origin carries the reservation's actor and request, caused by the latest related event", () => {
    const planned = requested().taskTo('image_snapshot').planned('cold');
    expect(given(planned).state.origin).toEqual({
      actor: USER,
      requestId: planned.requestId,
      correlationId: planned.requestId,
      causationId: planned.snapshotEvents[0].metadata.eventId,
    });
  });

  it('given no request in the log, when folded, then the snapshot is unrequested, with no plan', () => {
    const state = given(history().registered('running').planned('cold')).state;
    expect(state.phase).toBe('unrequested');
    expect(state.plan).toBeNull();
    expect(nextStep(state)).toEqual({ kind: 'done' });
  });

  it('given a reserved image not yet planned, when folded, then it is unplanned, for the instance the request named', () => {
    const unplanned = requested().taskTo('image_snapshot');
    const state = given(unplanned).state;
    expect(state.phase).toBe('unplanned');
    expect(state.phase !== 'unrequested' && state.instanceId).toBe(INSTANCE_ID);
  });

  it('given the task state taken but the image never reserved, when folded, then the take is the request', () => {
    const taken = history().registered('running').taskTo('image_snapshot_pending');
    const state = given(taken).state;
    expect(state.phase).toBe('unplanned');
    expect(state.phase !== 'unrequested' && state.instanceId).toBe(INSTANCE_ID);
    expect(state.origin?.causationId).toBe(taken.instanceEvents[1].metadata.eventId);
  });

  it('given a plan, when folded, then it is planned, with the plan recorded', () => {
    const state = given(requested().taskTo('image_snapshot').planned('live')).state;
    expect(state.phase).toBe('planned');
    expect(state.plan?.mode).toBe('live');
  });

  it("given another image's events on the instance stream, when folded, then they are not taken as the cause", () => {
    const foreign = requested()
      .taskTo(null)
      .taskTo('image_snapshot_pending', { imageId: OTHER_IMG });
    const [ownRelease, othersTask] = foreign.instanceEvents.slice(-2);
    const { origin } = given(foreign).state;
    expect(origin?.causationId).toBe(ownRelease.metadata.eventId);
    expect(origin?.causationId).not.toBe(othersTask.metadata.eventId);
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
      checksum: 'checksum',
    });
  });
});
