import type { Readable } from 'node:stream';
import type { ImageDescription } from '../domain/image.state';

export interface StoredImage {
  readonly size: number;
  /** md5, hex: Glance's `checksum`. */
  readonly checksum: string;
  /** sha512, hex: Glance's `os_hash_value`. */
  readonly osHashValue: string;
}

/** What a store that keeps image metadata (Glance) is told of the image it stores. */
export interface ImageRecord extends ImageDescription {
  readonly imageId: string;
  /** The project that owns it: Glance's `owner`. */
  readonly projectId: string;
  readonly diskFormat: string;
  readonly containerFormat: 'bare';
}

/** Bytes of the image's data sent to a remote store so far. */
export type UploadProgress = (bytesSent: number, totalBytes: number) => void;

/**
 * The image exists but its data cannot be read right now: the remote store cannot be reached,
 * or a chain image cannot be made whole for lack of space. The API answers 503 with the
 * reason; trying later may work.
 */
export class ImageDataUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDataUnavailableError';
  }
}

/** A stored image's data, opened for a download. */
export interface ImageData {
  readonly size: number;
  /**
   * The bytes from start to end (inclusive), or all of them. Call it once: the stream owns
   * what was opened and releases it when it ends or is destroyed.
   */
  read(range?: { readonly start: number; readonly end: number }): Promise<Readable>;
  /** Releases what was opened when read is not called. */
  close(): Promise<void>;
}

/** How a finished conversion is staged. */
export interface StagingOptions {
  /**
   * The domain is restored while the staged file is made durable and hashed (a cold
   * snapshot): the hashing keeps to one thread, so that QEMU has a core of its own.
   */
  readonly restoreFollows?: boolean;
}

/**
 * Where image data lives. Files are named by image uuid only; no user string ever becomes
 * part of a path. The local file store stages conversions in a directory on the same
 * filesystem, so storing is an atomic rename, with no extra copy.
 */
export interface ImageStore {
  /** Where stored data lives: local files, or a Glance (SNAPLEDGER_IMAGE_STORE). */
  readonly kind: 'local' | 'glance';
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
  markStaged(imageId: string, options?: StagingOptions): Promise<void>;
  /**
   * Makes the staged file durable, hashes it and moves it into the store (the local store:
   * an atomic rename; Glance: created with the record, uploaded from the staged file, its
   * checksums checked against ours). Idempotent: if the image is already stored, returns
   * what is stored.
   */
  commit(imageId: string, record: ImageRecord, onProgress?: UploadProgress): Promise<StoredImage>;
  /** Is the image's data in the store? */
  has(imageId: string): Promise<boolean>;
  /** The stored data, opened for streaming; null when absent. */
  openData(imageId: string): Promise<ImageData | null>;
  /** Removes staged, partial and stored data for the image; absent data is fine. */
  discard(imageId: string): Promise<void>;
  /**
   * Removes crash leftovers: partial and staged files of images that are not in `keep`, and
   * every scratch copy (a chain made whole to hash or download it), which only the process
   * that made it reads. Called at start, before anything of this process reads.
   */
  sweepStaging(keep: ReadonlySet<string>): Promise<string[]>;
}

export const IMAGE_STORE = Symbol('ImageStore');
