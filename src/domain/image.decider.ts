import type {
  ConversionProgressed,
  ImageDeleted,
  ImageExtracted,
  ImageReserved,
  SnapshotFailed,
  SnapshotStep,
  Uploaded,
  ImageChecksummed,
  ImageChecksumFailed,
  UploadProgressed,
} from '../events';
import { ImageNotFoundError, InvalidTransitionError } from './domain-errors';
import type { ImageState } from './image.state';
import { isSettled } from './image.state';

export function decideReservation(
  state: ImageState,
  reservation: ImageReserved['data'],
): ImageReserved[] {
  if (state.exists) return [];
  return [{ type: 'ImageReserved', data: reservation }];
}

/** Progress is recorded only while the image is being made, and only when it moved. */
export function decideProgress(state: ImageState, percent: number): ConversionProgressed[] {
  if (!state.exists || isSettled(state) || state.extracted || !Number.isFinite(percent)) return [];
  const rounded = Math.floor(Math.max(0, Math.min(100, percent)) * 100) / 100;
  if (state.lastProgress !== null && rounded <= state.lastProgress) return [];
  return [
    { type: 'ConversionProgressed', data: { imageId: state.imageId as string, percent: rounded } },
  ];
}

export function decideExtracted(
  state: ImageState,
  extracted: Omit<ImageExtracted['data'], 'imageId'>,
): ImageExtracted[] {
  requireInFlight(state, 'extract');
  if (state.extracted) return [];
  return [{ type: 'ImageExtracted', data: { imageId: state.imageId as string, ...extracted } }];
}

/** Upload progress is recorded while the image is extracted and not yet uploaded. */
export function decideUploadProgress(
  state: ImageState,
  bytesSent: number,
  totalBytes: number,
): UploadProgressed[] {
  if (!state.exists || isSettled(state) || !state.extracted) return [];
  return [
    {
      type: 'UploadProgressed',
      data: { imageId: state.imageId as string, bytesSent, totalBytes },
    },
  ];
}

export function decideUploaded(
  state: ImageState,
  uploaded: Omit<Uploaded['data'], 'imageId'>,
): Uploaded[] {
  if (state.uploaded) return [];
  requireInFlight(state, 'upload');
  if (!state.extracted)
    throw new InvalidTransitionError(
      `image ${String(state.imageId)} has no extracted data to upload`,
    );
  return [{ type: 'Uploaded', data: { imageId: state.imageId as string, ...uploaded } }];
}

/**
 * The checksums of a chain's backup, once its whole image was hashed: recorded once, and only
 * while the image is active (a deleted image's hash is of no use to anyone).
 */
export function decideChecksummed(
  state: ImageState,
  digest: Omit<ImageChecksummed['data'], 'imageId'>,
): ImageChecksummed[] {
  if (!state.exists || state.status !== 'active' || !state.checksumsPending) return [];
  return [{ type: 'ImageChecksummed', data: { imageId: state.imageId as string, ...digest } }];
}

/** Hashing a chain's backup was given up: recorded once, while the hash is still pending. */
export function decideChecksumFailure(state: ImageState, reason: string): ImageChecksumFailed[] {
  if (!state.exists || state.status !== 'active' || !state.checksumsPending) return [];
  return [{ type: 'ImageChecksumFailed', data: { imageId: state.imageId as string, reason } }];
}

/** A snapshot fails once: the image is killed with the step and reason; a second failure adds nothing. */
export function decideFailure(
  state: ImageState,
  failure: { step: SnapshotStep; reason: string },
): SnapshotFailed[] {
  if (!state.exists || isSettled(state)) return [];
  return [{ type: 'SnapshotFailed', data: { imageId: state.imageId as string, ...failure } }];
}

export function decideDeletion(
  state: ImageState,
  deletion: { imageId: string; reason: ImageDeleted['data']['reason'] },
): ImageDeleted[] {
  if (!state.exists || state.status === 'deleted') throw new ImageNotFoundError(deletion.imageId);
  return [{ type: 'ImageDeleted', data: deletion }];
}

function requireInFlight(state: ImageState, step: string): void {
  if (!state.exists) throw new InvalidTransitionError(`cannot ${step}: image is not reserved`);
  if (isSettled(state))
    throw new InvalidTransitionError(
      `cannot ${step}: image ${String(state.imageId)} is ${String(state.status)}`,
    );
}
