import type { ImageEvent, ImageType, SnapshotStep } from '../events';

export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deleted';

/** What the request said the image is: what an image store that keeps metadata records. */
export interface ImageDescription {
  readonly name: string;
  readonly userId: string;
  readonly visibility: 'private' | 'shared';
  /** Glance properties: Nova's snapshot properties overlaid with the user's metadata. */
  readonly properties: Readonly<Record<string, string>>;
}

/** The image aggregate's state, folded from its stream. */
export interface ImageState {
  readonly exists: boolean;
  readonly imageId: string | null;
  readonly instanceId: string | null;
  readonly projectId: string | null;
  /** The project a `shared` snapshot is shared with (its instance_owner), else null. */
  readonly sharedWithProjectId: string | null;
  readonly imageType: ImageType | null;
  readonly status: ImageStatus | null;
  readonly extracted: boolean;
  /** Boot id of the host when the data was extracted, when the event recorded it. */
  readonly extractedOnBoot: string | null;
  readonly uploaded: boolean;
  /**
   * Active, and its whole image not yet hashed: a backup of a chain between Uploaded (with
   * null checksums) and ImageChecksummed.
   */
  readonly checksumsPending: boolean;
  readonly failure: { readonly step: SnapshotStep; readonly reason: string } | null;
  readonly lastProgress: number | null;
  /** From ImageReserved; null before it. */
  readonly description: ImageDescription | null;
  /** createBackup's backup_type (the rotation series); null for a snapshot. */
  readonly backupType: string | null;
  /** The backup was asked to be incremental (ImageReserved.incremental). */
  readonly incrementalRequested: boolean;
}

export const initialImageState: ImageState = Object.freeze({
  exists: false,
  imageId: null,
  instanceId: null,
  projectId: null,
  sharedWithProjectId: null,
  imageType: null,
  status: null,
  extracted: false,
  extractedOnBoot: null,
  uploaded: false,
  checksumsPending: false,
  failure: null,
  lastProgress: null,
  description: null,
  backupType: null,
  incrementalRequested: false,
});

export function evolveImage(state: ImageState, event: ImageEvent): ImageState {
  switch (event.type) {
    case 'ImageReserved':
      return {
        ...state,
        exists: true,
        imageId: event.data.imageId,
        instanceId: event.data.instanceId,
        projectId: event.data.projectId,
        sharedWithProjectId:
          event.data.visibility === 'shared'
            ? (event.data.properties['instance_owner'] ?? null)
            : null,
        imageType: event.data.imageType,
        status: 'queued',
        description: {
          name: event.data.name,
          userId: event.data.userId,
          visibility: event.data.visibility ?? 'private',
          properties: event.data.properties,
        },
        backupType: event.data.backupType ?? null,
        incrementalRequested: event.data.incremental === true,
      };
    case 'ConversionProgressed':
      return { ...state, lastProgress: event.data.percent };
    case 'ImageExtracted':
      return { ...state, extracted: true, extractedOnBoot: event.data.bootId ?? null };
    case 'Uploaded':
      return {
        ...state,
        uploaded: true,
        status: 'active',
        lastProgress: 100,
        checksumsPending: event.data.checksum === null,
      };
    case 'ImageChecksummed':
    case 'ImageChecksumFailed':
      return { ...state, checksumsPending: false };
    case 'SnapshotFailed':
      return {
        ...state,
        status: 'killed',
        failure: { step: event.data.step, reason: event.data.reason },
      };
    case 'ImageDeleted':
      return { ...state, status: 'deleted' };
    default:
      return state;
  }
}

export function foldImage(events: readonly ImageEvent[]): ImageState {
  return events.reduce(evolveImage, initialImageState);
}

/** True once the image can change no more through its snapshot. */
export function isSettled(state: ImageState): boolean {
  return state.status === 'active' || state.status === 'killed' || state.status === 'deleted';
}
