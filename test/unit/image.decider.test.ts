import { describe, expect, it } from 'vitest';
import { authorizeImageDeletion } from '../../src/domain/image-deletion.authorization';
import {
  ActionForbiddenError,
  ImageNotFoundError,
  InvalidTransitionError,
} from '../../src/domain/domain-errors';
import {
  decideDeletion,
  decideExtracted,
  decideFailure,
  decideProgress,
  decideReservation,
  decideUploaded,
  decideChecksummed,
  decideChecksumFailure,
} from '../../src/domain/image.decider';
import { evolveImage, foldImage, initialImageState, isSettled } from '../../src/domain/image.state';
import type { ImageEvent, ImageReserved, SnapshotStep } from '../../src/events';
import { deciderSpecification } from '../support/decider-specification';

const VM = '11111111-1111-4111-8111-111111111111';
const IMG = '22222222-2222-4222-8222-222222222222';
const T0 = '2030-01-02T03:04:05.000Z';

const reservation: ImageReserved['data'] = {
  imageId: IMG,
  name: 'nightly',
  instanceId: VM,
  projectId: 'p-owner',
  userId: 'u-alice',
  imageType: 'snapshot',
  properties: { image_type: 'snapshot', instance_uuid: VM },
};

const extraction = {
  diskFormat: 'qcow2',
  virtualSize: 1_073_741_824,
  startedAt: T0,
  durationMs: 5000,
};

const upload = {
  size: 123_456,
  virtualSize: 1_073_741_824,
  checksum: 'd41d8cd98f00b204e9800998ecf8427e',
  osHashAlgo: 'sha512' as const,
  osHashValue: 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce',
  diskFormat: 'qcow2',
  containerFormat: 'bare' as const,
  startedAt: T0,
  durationMs: 300,
};

const reserved: ImageEvent = { type: 'ImageReserved', data: reservation };
const progressed = (percent: number): ImageEvent => ({
  type: 'ConversionProgressed',
  data: { imageId: IMG, percent },
});
const extracted: ImageEvent = { type: 'ImageExtracted', data: { imageId: IMG, ...extraction } };
const uploaded: ImageEvent = { type: 'Uploaded', data: { imageId: IMG, ...upload } };
const failed = (step: SnapshotStep = 'extract', reason = 'qemu-img exited 1'): ImageEvent => ({
  type: 'SnapshotFailed',
  data: { imageId: IMG, step, reason },
});
const deleted: ImageEvent = { type: 'ImageDeleted', data: { imageId: IMG, reason: 'user' } };

const given = deciderSpecification(foldImage);

describe('image state (evolveImage / foldImage)', () => {
  it('given no events, when folded, then the image does not exist and is not settled', () => {
    expect(given().state).toEqual(initialImageState);
    expect(isSettled(given().state)).toBe(false);
  });

  it('given ImageReserved, when folded, then the image is queued with its owner and type', () => {
    expect(given(reserved).state).toMatchObject({
      exists: true,
      imageId: IMG,
      instanceId: VM,
      projectId: 'p-owner',
      imageType: 'snapshot',
      status: 'queued',
      extracted: false,
      uploaded: false,
    });
  });

  it('given a full successful stream, when folded, then the image is active, uploaded, with progress 100', () => {
    const { state } = given(reserved, progressed(40), extracted, uploaded);
    expect(state.status).toBe('active');
    expect(state.extracted).toBe(true);
    expect(state.uploaded).toBe(true);
    expect(state.lastProgress).toBe(100);
    expect(isSettled(state)).toBe(true);
  });

  it('given SnapshotFailed, when folded, then the image is killed with the step and reason', () => {
    const { state } = given(reserved, failed('save', 'managedsave timed out'));
    expect(state.status).toBe('killed');
    expect(state.failure).toEqual({ step: 'save', reason: 'managedsave timed out' });
    expect(isSettled(state)).toBe(true);
  });

  it('given ImageDeleted, when folded, then the image is deleted and settled', () => {
    const state = evolveImage(given(reserved, failed()).state, deleted);
    expect(state.status).toBe('deleted');
    expect(isSettled(state)).toBe(true);
  });
});

describe('decideReservation', () => {
  it('given no image, when reserved, then ImageReserved is decided with the reservation', () =>
    given()
      .when(decideReservation, reservation)
      .then([{ type: 'ImageReserved', data: reservation }]));

  it('given an image already reserved, when reserved again, then nothing is decided', () =>
    given(reserved).when(decideReservation, reservation).thenNothingHappened());
});

describe('decideProgress', () => {
  it('given a reserved image with no progress, when 12.5% is reported, then ConversionProgressed 12.5 is decided', () =>
    given(reserved)
      .when(decideProgress, 12.5)
      .then([{ type: 'ConversionProgressed', data: { imageId: IMG, percent: 12.5 } }]));

  it('given progress at 40, when a higher percentage is reported, then it is recorded', () =>
    given(reserved, progressed(40))
      .when(decideProgress, 41)
      .then([{ type: 'ConversionProgressed', data: { imageId: IMG, percent: 41 } }]));

  it('given progress at 40, when the same or a lower percentage is reported, then nothing is decided', () => {
    const at40 = given(reserved, progressed(40));
    at40.when(decideProgress, 40).thenNothingHappened();
    at40.when(decideProgress, 39.99).thenNothingHappened();
    at40.when(decideProgress, 0).thenNothingHappened();
  });

  it('given no progress yet, when over 100% is reported, then it is clamped to 100', () =>
    given(reserved)
      .when(decideProgress, 250)
      .thenMatches([{ data: { percent: 100 } }]));

  it('given no progress yet, when a negative percentage is reported, then it is clamped to 0', () =>
    given(reserved)
      .when(decideProgress, -5)
      .thenMatches([{ data: { percent: 0 } }]));

  it('given progress at 100, when over 100% is reported, then the clamped value does not increase so nothing is decided', () =>
    given(reserved, progressed(100)).when(decideProgress, 180).thenNothingHappened());

  it('given progress at 33.33, when 33.339 is reported, then it rounds down to two decimals and is not an increase', () => {
    given(reserved, progressed(33.33)).when(decideProgress, 33.339).thenNothingHappened();
    given(reserved)
      .when(decideProgress, 33.339)
      .thenMatches([{ data: { percent: 33.33 } }]);
  });

  it('given no image, when progress is reported, then nothing is decided', () =>
    given().when(decideProgress, 50).thenNothingHappened());

  it('given an extracted image, when progress is reported, then nothing is decided', () =>
    given(reserved, progressed(90), extracted).when(decideProgress, 95).thenNothingHappened());

  it.each<[string, ImageEvent[]]>([
    ['killed', [reserved, failed()]],
    ['deleted', [reserved, failed(), deleted]],
  ])('given a %s image, when progress is reported, then nothing is decided', (_label, events) =>
    given(...events)
      .when(decideProgress, 50)
      .thenNothingHappened(),
  );
});

describe('decideExtracted', () => {
  it('given a reserved image, when extraction finishes, then ImageExtracted is decided', () =>
    given(reserved, progressed(100))
      .when(decideExtracted, extraction)
      .then([{ type: 'ImageExtracted', data: { imageId: IMG, ...extraction } }]));

  it('given an image already extracted, when extraction is reported again, then nothing is decided', () =>
    given(reserved, extracted).when(decideExtracted, extraction).thenNothingHappened());

  it('given no image, when extraction is reported, then InvalidTransitionError is thrown', () =>
    given().when(decideExtracted, extraction).thenThrows(InvalidTransitionError));

  it('given a killed image, when extraction is reported, then InvalidTransitionError is thrown', () =>
    given(reserved, failed())
      .when(decideExtracted, extraction)
      .thenThrows(/is killed/));
});

describe('decideUploaded', () => {
  it('given an extracted image, when the upload finishes, then Uploaded is decided', () =>
    given(reserved, extracted)
      .when(decideUploaded, upload)
      .then([{ type: 'Uploaded', data: { imageId: IMG, ...upload } }]));

  it('given an image already uploaded, when upload is reported again, then nothing is decided', () =>
    given(reserved, extracted, uploaded).when(decideUploaded, upload).thenNothingHappened());

  it('given a reserved image not yet extracted, when upload is reported, then InvalidTransitionError is thrown', () =>
    given(reserved)
      .when(decideUploaded, upload)
      .thenThrows(InvalidTransitionError, /no extracted data/));

  it('given an extracted image that was then killed, when upload is reported, then InvalidTransitionError is thrown', () =>
    given(reserved, extracted, failed('restore'))
      .when(decideUploaded, upload)
      .thenThrows(InvalidTransitionError));

  it('given no image, when upload is reported, then InvalidTransitionError is thrown', () =>
    given()
      .when(decideUploaded, upload)
      .thenThrows(/not reserved/));
});

describe('decideChecksummed (a chain backup hashed after it is active)', () => {
  const asLayer: ImageEvent = {
    type: 'Uploaded',
    data: {
      imageId: IMG,
      ...upload,
      size: null,
      checksum: null,
      osHashAlgo: null,
      osHashValue: null,
    },
  };
  const digest = {
    size: 327_680,
    checksum: 'e'.repeat(32),
    osHashAlgo: 'sha512' as const,
    osHashValue: 'f'.repeat(128),
    startedAt: T0,
    durationMs: 700,
  };
  const hashed: ImageEvent = { type: 'ImageChecksummed', data: { imageId: IMG, ...digest } };

  it('given a layer uploaded without checksums, when folded, then the image is active with its checksums pending', () =>
    expect(given(reserved, extracted, asLayer).state).toMatchObject({
      status: 'active',
      checksumsPending: true,
    }));

  it('given a layer uploaded without checksums, when hashed, then ImageChecksummed is decided', () =>
    given(reserved, extracted, asLayer)
      .when(decideChecksummed, digest)
      .then([{ type: 'ImageChecksummed', data: { imageId: IMG, ...digest } }]));

  it('given a layer already hashed, when hashed again, then nothing is decided', () =>
    given(reserved, extracted, asLayer, hashed)
      .when(decideChecksummed, digest)
      .thenNothingHappened());

  it('given an image uploaded with its checksums, when hashed, then nothing is decided', () =>
    given(reserved, extracted, uploaded).when(decideChecksummed, digest).thenNothingHappened());

  it('given a layer deleted before it was hashed, when hashed, then nothing is decided', () =>
    given(reserved, extracted, asLayer, deleted)
      .when(decideChecksummed, digest)
      .thenNothingHappened());

  it('given a layer uploaded without checksums, when hashing is given up, then ImageChecksumFailed is decided once', () => {
    given(reserved, extracted, asLayer)
      .when(decideChecksumFailure, 'no room')
      .then([{ type: 'ImageChecksumFailed', data: { imageId: IMG, reason: 'no room' } }]);
    given(reserved, extracted, asLayer, {
      type: 'ImageChecksumFailed',
      data: { imageId: IMG, reason: 'no room' },
    })
      .when(decideChecksumFailure, 'again')
      .thenNothingHappened();
  });
});

describe('decideFailure', () => {
  it('given an image in flight, when the snapshot fails, then SnapshotFailed carries step and reason', () =>
    given(reserved, extracted)
      .when(decideFailure, { step: 'upload', reason: 'disk full' })
      .then([
        { type: 'SnapshotFailed', data: { imageId: IMG, step: 'upload', reason: 'disk full' } },
      ]));

  it('given an image already killed, when it fails again, then nothing is decided', () =>
    given(reserved, failed())
      .when(decideFailure, { step: 'restore', reason: 'again' })
      .thenNothingHappened());

  it('given an active image, when a failure is reported, then nothing is decided', () =>
    given(reserved, extracted, uploaded)
      .when(decideFailure, { step: 'upload', reason: 'late' })
      .thenNothingHappened());

  it('given no image, when a failure is reported, then nothing is decided', () =>
    given().when(decideFailure, { step: 'reserve', reason: 'x' }).thenNothingHappened());
});

describe('decideDeletion', () => {
  it.each<[string, ImageEvent[]]>([
    ['active', [reserved, extracted, uploaded]],
    ['killed', [reserved, failed()]],
    ['queued', [reserved]],
  ])('given a %s image, when deleted, then ImageDeleted is decided', (_label, events) =>
    given(...events)
      .when(decideDeletion, { imageId: IMG, reason: 'rotation' })
      .then([{ type: 'ImageDeleted', data: { imageId: IMG, reason: 'rotation' } }]),
  );

  it('given no image, when deleted, then ImageNotFoundError is thrown', () =>
    given()
      .when(decideDeletion, { imageId: IMG, reason: 'user' })
      .thenThrows(ImageNotFoundError, `No image found with ID ${IMG}`));

  it('given an image already deleted, when deleted again, then ImageNotFoundError is thrown', () =>
    given(reserved, extracted, uploaded, deleted)
      .when(decideDeletion, { imageId: IMG, reason: 'user' })
      .thenThrows(ImageNotFoundError));
});

describe('authorizeImageDeletion', () => {
  const member = (projectId: string, roles = ['member']) => ({
    actor: { userId: 'u', projectId, roles },
    requestId: 'req-1',
  });
  const shared = given({
    type: 'ImageReserved',
    data: { ...reservation, visibility: 'shared', properties: { instance_owner: 'p-tenant' } },
  });

  it('lets a member or an admin of the owning project delete', () => {
    given(reserved).when(authorizeImageDeletion, IMG, member('p-owner')).thenDoesNotThrow();
    given(reserved)
      .when(authorizeImageDeletion, IMG, member('p-other', ['admin']))
      .thenDoesNotThrow();
  });

  it('hides the image from other projects (404), also when it does not exist', () => {
    given(reserved)
      .when(authorizeImageDeletion, IMG, member('p-other'))
      .thenThrows(ImageNotFoundError);
    given().when(authorizeImageDeletion, IMG, member('p-owner')).thenThrows(ImageNotFoundError);
  });

  it('refuses a reader of the owning project, and the project a snapshot is shared with (403)', () => {
    given(reserved)
      .when(authorizeImageDeletion, IMG, member('p-owner', ['reader']))
      .thenThrows(ActionForbiddenError);
    expect(shared.state.sharedWithProjectId).toBe('p-tenant');
    shared.when(authorizeImageDeletion, IMG, member('p-tenant')).thenThrows(ActionForbiddenError);
  });
});
