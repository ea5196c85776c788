import { describe, expect, it } from 'vitest';
import { InvalidTransitionError } from '../../src/domain/domain-errors';
import { decideExtracted, decideProgress } from '../../src/domain/image.decider';
import { foldImage } from '../../src/domain/image.state';
import {
  SYSTEM_ACTOR,
  imageStream,
  instanceStream,
  type ConversionProgressed,
  type ImageEvent,
} from '../../src/events';
import { ImageView } from '../../src/projections/entities/image-view.entity';
import { InstanceView } from '../../src/projections/entities/instance-view.entity';
import { deciderSpecification } from '../support/decider-specification';
import { EventHistory, IMAGE_ID as IMG, INSTANCE_ID as VM, OWNER } from '../support/event-history';
import { row, useProjectionSpecification } from '../support/projection-specification';

const reserved: ImageEvent = {
  type: 'ImageReserved',
  data: {
    imageId: IMG,
    name: 'n',
    instanceId: VM,
    projectId: 'p',
    userId: 'u',
    imageType: 'snapshot',
    properties: {},
  },
};
const killed: ImageEvent = {
  type: 'SnapshotFailed',
  data: { imageId: IMG, step: 'extract', reason: 'x' },
};
const extraction = { diskFormat: 'qcow2', virtualSize: 1, startedAt: 'T', durationMs: 1 };
const progressedTo = (percent: number): ConversionProgressed[] => [
  { type: 'ConversionProgressed', data: { imageId: IMG, percent } },
];

const given = deciderSpecification(foldImage);

describe('the decider specification', () => {
  it('folds the given events in order into the state the decider sees', () => {
    expect(given().state.exists).toBe(false);
    expect(given(reserved, killed).state.status).toBe('killed');
  });

  it('then passes on the decided events and throws on any other', () => {
    given(reserved).when(decideProgress, 12.5).then(progressedTo(12.5));
    expect(() => given(reserved).when(decideProgress, 12.5).then(progressedTo(13))).toThrow();
    expect(() => given(reserved).when(decideProgress, 12.5).then([])).toThrow();
    expect(() =>
      given(reserved)
        .when(decideProgress, 12.5)
        .then([...progressedTo(12.5), ...progressedTo(12.5)]),
    ).toThrow();
  });

  it('then lets the error through when the decider throws', () => {
    expect(() => given(reserved, killed).when(decideExtracted, extraction).then([])).toThrow(
      InvalidTransitionError,
    );
  });

  it('thenMatches needs every field given and the same number of events', () => {
    given(reserved)
      .when(decideProgress, 12.5)
      .thenMatches([{ data: { percent: 12.5 } }]);
    expect(() =>
      given(reserved)
        .when(decideProgress, 12.5)
        .thenMatches([{ data: { percent: 12 } }]),
    ).toThrow();
    expect(() =>
      given(reserved)
        .when(decideProgress, 12.5)
        .thenMatches([{ data: { percent: 12.5 } }, { data: { percent: 12.5 } }]),
    ).toThrow();
  });

  it('thenNothingHappened throws when something was decided', () => {
    given(reserved, killed).when(decideProgress, 50).thenNothingHappened();
    expect(() => given(reserved).when(decideProgress, 50).thenNothingHappened()).toThrow();
  });

  it('thenThrows throws when the decider decides instead, or throws another error', () => {
    const refused = given(reserved, killed).when(decideExtracted, extraction);
    refused.thenThrows(InvalidTransitionError, /is killed/, { name: 'InvalidTransitionError' });
    expect(() => given(reserved).when(decideExtracted, extraction).thenThrows()).toThrow(
      'the decider decided instead of throwing',
    );
    expect(() => refused.thenThrows(TypeError)).toThrow();
    expect(() => refused.thenThrows(/is active/)).toThrow();
    expect(() => refused.thenThrows('is queued')).toThrow();
    expect(() => refused.thenThrows({ name: 'ImageNotFoundError' })).toThrow();
  });

  it('thenDoesNotThrow throws when the decider throws', () => {
    given(reserved).when(decideExtracted, extraction).thenDoesNotThrow();
    expect(() =>
      given(reserved, killed).when(decideExtracted, extraction).thenDoesNotThrow(),
    ).toThrow();
  });
});

describe('the event history', () => {
  it('numbers revisions per stream and positions across them, each event caused by the last', () => {
    const history = new EventHistory({ requestId: 'req-abcdefgh-0000' })
      .registered()
      .reserved()
      .taskTo('image_snapshot_pending');
    expect(history.events.map((e) => [e.streamName, e.revision, e.position])).toEqual([
      [instanceStream(VM), 0, 1],
      [imageStream(IMG), 0, 2],
      [instanceStream(VM), 1, 3],
    ]);
    expect(history.events.map((e) => e.metadata.causationId)).toEqual([
      'req-abcdefgh-0000',
      history.events[0].metadata.eventId,
      history.events[1].metadata.eventId,
    ]);
    expect(new Set(history.events.map((e) => e.metadata.eventId)).size).toBe(3);
  });

  it('moves the task state from where it is, and takes each stream’s actor', () => {
    const history = new EventHistory({ actor: SYSTEM_ACTOR, actors: { image: OWNER } })
      .registered()
      .taskTo('image_snapshot_pending')
      .reserved()
      .taskTo('image_snapshot');
    expect(history.instanceEvents.slice(1).map((e) => e.data)).toMatchObject([
      { from: null, to: 'image_snapshot_pending' },
      { from: 'image_snapshot_pending', to: 'image_snapshot' },
    ]);
    expect(history.instanceEvents[0].metadata.actor).toBe(SYSTEM_ACTOR);
    expect(history.imageEvents[0].metadata.actor).toBe(OWNER);
  });
});

describe('the projection specification', () => {
  const spec = useProjectionSpecification();

  it('then passes when the views hold the rows, and rejects when a field differs or a row is missing', async () => {
    const history = new EventHistory().registered().coldSnapshot();
    await spec.given(history).then(row(ImageView, { id: IMG }, { status: 'active' }));
    await expect(
      spec.given(history).then(row(ImageView, { id: IMG }, { status: 'killed' })),
    ).rejects.toThrow();
    await expect(
      spec.given(history).then(row(ImageView, { id: 'no-such-image' }, {})),
    ).rejects.toThrow();
  });

  it('appends only what a history gained since it was last given, and the runner catches up', async () => {
    const history = new EventHistory().registered('running');
    await spec.given(history).then(row(InstanceView, { id: VM }, { powerState: 'running' }));
    history.powerSynced('paused', 'paused');
    await spec.given(history).then(row(InstanceView, { id: VM }, { powerState: 'paused' }));
    expect(await spec.store.lastPosition()).toBe(2);
  });
});
