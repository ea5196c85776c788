import { setTimeout as sleep } from 'node:timers/promises';
import {
  GlanceClient,
  GlanceRefusedError,
  GlanceUnavailableError,
  type GlanceImage,
} from './glance-client';
import {
  ImageDataUnavailableError,
  type ImageData,
  type ImageRecord,
  type ImageStore,
  type StagingOptions,
  type StoredImage,
  type UploadProgress,
} from './image-store.port';
import { canonicalImageId, type LocalImageStore } from './local-image-store';

/**
 * Glance's checksums of the uploaded data differ from the ones computed of the staged file,
 * or Glance left the image in a state it cannot be uploaded from. The Glance image has been
 * deleted; the snapshot fails with this reason.
 */
export class GlanceUploadRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GlanceUploadRejectedError';
  }
}

/** How long an image that Glance shows as `saving` (an upload cut off) may take to settle. */
const SAVING_SETTLE_MS = 15_000;

/**
 * SNAPLEDGER_IMAGE_STORE=glance: the image's data and record live in a real Glance. The
 * conversion is staged locally (qemu-img needs a file), then the store creates the image in
 * Glance with the same id, name, owner and Nova's properties, streams the staged file to it,
 * checks Glance's checksum and os_hash_value against its own, and removes the staged file:
 * no second local copy is ever made. Downloads and deletes go to Glance.
 *
 * A crash between the create and the end of the upload is picked up by the next try: a
 * `queued` image is uploaded, an `active` one is checked, one left `saving` by a cut-off
 * upload is given time to fall back to `queued`, else deleted and the snapshot failed.
 */
export class GlanceImageStore implements ImageStore {
  readonly kind = 'glance';

  constructor(
    private readonly staging: LocalImageStore,
    private readonly glance: GlanceClient,
    /**
     * Named points of commit for the crash tests: `glance-created` (the record, no data),
     * `glance-uploading` (the first bytes sent), `glance-uploaded` (Glance has all of it).
     */
    private readonly onCommitPoint: (point: string) => void = () => undefined,
  ) {}

  stagingPath(imageId: string): string {
    return this.staging.stagingPath(imageId);
  }

  prepareStaging(imageId: string): Promise<string> {
    return this.staging.prepareStaging(imageId);
  }

  hasStaged(imageId: string): Promise<boolean> {
    return this.staging.hasStaged(imageId);
  }

  markStaged(imageId: string, options?: StagingOptions): Promise<void> {
    return this.staging.markStaged(imageId, options);
  }

  sweepStaging(keep: ReadonlySet<string>): Promise<string[]> {
    return this.staging.sweepStaging(keep);
  }

  async commit(
    imageId: string,
    record: ImageRecord,
    onProgress?: UploadProgress,
  ): Promise<StoredImage> {
    const id = canonicalImageId(imageId);
    const staged = await this.staging.settledStaged(id);
    let image = await this.glance.get(id);
    if (image?.status === 'saving') image = await this.settle(id);
    if (image?.status === 'active') {
      if (!staged) return storedFrom(image);
      await this.checkAgainst(image, staged.digest);
      await this.staging.discard(id);
      return staged.digest;
    }
    if (!staged) throw new Error(`image ${id}: nothing staged and nothing stored in Glance`);
    if (image === null) {
      await this.create(record);
      this.onCommitPoint('glance-created');
    } else if (image.status !== 'queued') {
      await this.glance.delete(id).catch(() => false);
      throw new GlanceUploadRejectedError(
        `Glance holds image ${id} as ${image.status}; it cannot take the data (the Glance image was deleted)`,
      );
    }
    let reported = false;
    await this.glance.upload(id, staged.path, staged.digest.size, (sent, total) => {
      if (!reported) this.onCommitPoint('glance-uploading'); // the first bytes are on their way
      reported = true;
      onProgress?.(sent, total);
    });
    this.onCommitPoint('glance-uploaded');
    const uploaded = await this.glance.get(id);
    if (uploaded?.status !== 'active') {
      throw new GlanceUploadRejectedError(
        `Glance shows image ${id} as ${uploaded?.status ?? 'missing'} after its upload`,
      );
    }
    await this.checkAgainst(uploaded, staged.digest);
    await this.staging.discard(id);
    return staged.digest;
  }

  async has(imageId: string): Promise<boolean> {
    const image = await this.glance.get(canonicalImageId(imageId));
    return image?.status === 'active';
  }

  async openData(imageId: string): Promise<ImageData | null> {
    const id = canonicalImageId(imageId);
    const image = await unavailableAs503(() => this.glance.get(id));
    if (image?.status !== 'active' || image.size === null) return null;
    return {
      size: image.size,
      read: (range) => unavailableAs503(() => this.glance.download(id, range)),
      close: async () => undefined,
    };
  }

  async discard(imageId: string): Promise<void> {
    const id = canonicalImageId(imageId);
    await this.staging.discard(id);
    await this.glance.delete(id);
  }

  /**
   * Creates the record. A 409 means Glance has, or once had, an image with this id: Glance
   * never reuses a deleted image's id, so only an image that exists now can be carried on.
   */
  private async create(record: ImageRecord): Promise<void> {
    try {
      await this.glance.create(record);
    } catch (error) {
      if (!(error instanceof GlanceRefusedError) || error.status !== 409) throw error;
      if ((await this.glance.get(record.imageId))?.status === 'queued') return;
      throw new GlanceUploadRejectedError(
        `Glance already had an image ${record.imageId} (deleted ids are never reused); the snapshot cannot be stored there`,
      );
    }
  }

  /** Waits for an image left `saving` by a cut-off upload to become queued (or active). */
  private async settle(id: string): Promise<GlanceImage | null> {
    const until = Date.now() + SAVING_SETTLE_MS;
    for (;;) {
      const image = await this.glance.get(id);
      if (image?.status !== 'saving' || Date.now() >= until) return image;
      await sleep(500);
    }
  }

  /** Glance's hashes must be ours; on a difference the Glance image is deleted. */
  private async checkAgainst(image: GlanceImage, ours: StoredImage): Promise<void> {
    const differences = [
      image.size !== ours.size ? `size ${image.size} ≠ ${ours.size}` : null,
      image.checksum !== ours.checksum ? `checksum ${image.checksum} ≠ ${ours.checksum}` : null,
      image.os_hash_algo !== 'sha512' || image.os_hash_value !== ours.osHashValue
        ? `os_hash_value (${image.os_hash_algo}) ${image.os_hash_value?.slice(0, 16)}… ≠ ${ours.osHashValue.slice(0, 16)}…`
        : null,
    ].filter((d): d is string => d !== null);
    if (differences.length === 0) return;
    await this.glance.delete(image.id).catch(() => false);
    throw new GlanceUploadRejectedError(
      `Glance stored other data than was uploaded (Glance's ≠ ours: ${differences.join('; ')}); the Glance image was deleted`,
    );
  }
}

/** A Glance that cannot be reached makes the data unavailable (503), not the request wrong. */
async function unavailableAs503<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GlanceUnavailableError) throw new ImageDataUnavailableError(error.message);
    throw error;
  }
}

function storedFrom(image: GlanceImage): StoredImage {
  if (image.size === null || !image.checksum || !image.os_hash_value) {
    throw new GlanceUploadRejectedError(`Glance's active image ${image.id} has no checksums`);
  }
  return { size: image.size, checksum: image.checksum, osHashValue: image.os_hash_value };
}
