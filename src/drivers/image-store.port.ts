export interface StoredImage {
  readonly size: number;
  /** md5, hex: Glance's `checksum`. */
  readonly checksum: string;
  /** sha512, hex: Glance's `os_hash_value`. */
  readonly osHashValue: string;
}

/**
 * Where image data lives. Files are named by image uuid only; no user string ever becomes
 * part of a path. The local file store stages conversions in a directory on the same
 * filesystem, so storing is an atomic rename, with no extra copy.
 */
export interface ImageStore {
  /** The path a conversion for this image should write to (a partial file, not yet visible). */
  stagingPath(imageId: string): string;
  /**
   * The partial file path for a new conversion, with any partial file of an earlier try
   * unlinked first: a qemu-img orphaned by a crashed service may still be writing it and
   * holding its write lock; the new conversion gets a new file, the orphan keeps the old one.
   */
  prepareStaging(imageId: string): Promise<string>;
  /** True when a finished conversion is staged for this image. */
  hasStaged(imageId: string): Promise<boolean>;
  /**
   * Marks the partial file as a finished conversion (atomic rename within staging). It need
   * not be durable yet: commit makes it so before it moves it into the store.
   */
  markStaged(imageId: string): Promise<void>;
  /**
   * Makes the staged file durable, hashes it and moves it into the store by atomic rename.
   * Idempotent: if the image is already stored, returns what is stored.
   */
  commit(imageId: string): Promise<StoredImage>;
  /** Is the image's data in the store? */
  has(imageId: string): Promise<boolean>;
  /** Absolute path of the stored data, for streaming; null when absent. */
  dataPath(imageId: string): Promise<string | null>;
  /** Removes staged, partial and stored data for the image; absent files are fine. */
  discard(imageId: string): Promise<void>;
  /** Removes partial and staged files of images that are not in `keep` (crash leftovers). */
  sweepStaging(keep: ReadonlySet<string>): Promise<string[]>;
}

export const IMAGE_STORE = Symbol('ImageStore');
