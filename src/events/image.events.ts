export type ImageType = 'snapshot' | 'backup';

export type ImageReserved = {
  readonly type: 'ImageReserved';
  readonly data: {
    readonly imageId: string;
    readonly name: string;
    readonly instanceId: string;
    readonly projectId: string;
    readonly userId: string;
    readonly imageType: ImageType;
    /**
     * Glance visibility. Nova makes a snapshot `shared` when the caller's project is not the
     * instance's (an admin snapshotting a tenant's server), so that the instance's project,
     * named in the `instance_owner` property, can still see it. Absent means private.
     */
    readonly visibility?: 'private' | 'shared';
    /** Glance properties: Nova's snapshot properties overlaid with the user's metadata. */
    readonly properties: Readonly<Record<string, string>>;
    /** createBackup only: the backup type (daily, weekly...) the backup is rotated within. */
    readonly backupType?: string;
    /** createBackup only: how many backups of this type to keep once this one is active. */
    readonly rotation?: number;
    /**
     * The image was asked to be incremental: a createBackup by the request's `incremental` or
     * the instance's backup policy, a createImage by the request's `incremental` only. It
     * becomes a layer over its series' newest chain image when the plan can make one.
     * Absent: a whole image, as Nova makes.
     */
    readonly incremental?: boolean;
  };
};

/** qemu-img convert -p progress, throttled (at most one event a second). */
export type ConversionProgressed = {
  readonly type: 'ConversionProgressed';
  readonly data: { readonly imageId: string; readonly percent: number };
};

export type ImageExtracted = {
  readonly type: 'ImageExtracted';
  readonly data: {
    readonly imageId: string;
    readonly diskFormat: string;
    readonly virtualSize: number;
    readonly startedAt: string;
    readonly durationMs: number;
    /**
     * The host's boot id when the data was extracted. The staged file is made durable only
     * before upload; if the host has rebooted since, the data may be incomplete.
     */
    readonly bootId?: string;
  };
};

export type Uploaded = {
  readonly type: 'Uploaded';
  readonly data: {
    readonly imageId: string;
    /**
     * The size and checksums of what a download returns. Null for a backup of a chain, whose
     * whole image is hashed after it is active: ImageChecksummed records them then.
     */
    readonly size: number | null;
    readonly virtualSize: number;
    readonly checksum: string | null;
    readonly osHashAlgo: 'sha512' | null;
    readonly osHashValue: string | null;
    readonly diskFormat: string;
    readonly containerFormat: 'bare';
    readonly startedAt: string;
    readonly durationMs: number;
    /**
     * Where the data went: the local file store, or the Glance named by SNAPLEDGER_GLANCE_URL
     * (whose checksum and os_hash_value were checked against ours). Absent in older events: local.
     */
    readonly store?: 'local' | 'glance';
    /**
     * A backup that belongs to a chain (see backup-chain.events.ts). Its `size`, `checksum`
     * and `osHashValue` are null (older logs: those of the whole image a download returns):
     * ImageChecksummed follows with them.
     */
    readonly chain?: UploadedChainLayer;
  };
};

/** What an incremental (or a chain's first, full) backup stored, as observed after it. */
export interface UploadedChainLayer {
  readonly chainId: string;
  /** `full`: a whole image, the chain's root; `incremental`: a layer over `parentImageId`. */
  readonly kind: 'full' | 'incremental';
  readonly parentImageId: string | null;
  /** Images from the root to this one, both included. */
  readonly chainLength: number;
  /** Guest bytes the layer holds (read from qemu-img map: what the copy wrote). */
  readonly bytesCopied: number;
  /** Bytes the layer's file takes on disk. */
  readonly bytesStored: number;
  /** A full backup asked to be incremental, and why it could not be. */
  readonly fullReason?: string;
}

/**
 * The whole image a download of a chain's backup returns was made (flattened) and hashed,
 * after the backup became active: Glance's size, md5 `checksum` and sha512 `os_hash_value`.
 * Until this event the image is active with those fields null, as a Glance image whose hash
 * is computed in the background is.
 */
export type ImageChecksummed = {
  readonly type: 'ImageChecksummed';
  readonly data: {
    readonly imageId: string;
    readonly size: number;
    readonly checksum: string;
    readonly osHashAlgo: 'sha512';
    readonly osHashValue: string;
    readonly startedAt: string;
    readonly durationMs: number;
  };
};

/**
 * The whole image of a chain's backup could not be hashed, after the tries the step policy
 * allows. The image stays active and downloadable, with no checksums.
 */
export type ImageChecksumFailed = {
  readonly type: 'ImageChecksumFailed';
  readonly data: {
    readonly imageId: string;
    readonly reason: string;
  };
};

/**
 * The upload to Glance sent this much of the image's data so far: written at most once a
 * second while the data streams, so a long upload shows its progress.
 */
export type UploadProgressed = {
  readonly type: 'UploadProgressed';
  readonly data: {
    readonly imageId: string;
    readonly bytesSent: number;
    readonly totalBytes: number;
  };
};

export type SnapshotStep =
  | 'reserve'
  | 'begin'
  | 'plan'
  | 'save'
  | 'mirror'
  | 'extract'
  | 'restore'
  | 'cleanup'
  | 'upload'
  | 'checksum';

export type SnapshotFailed = {
  readonly type: 'SnapshotFailed';
  readonly data: {
    readonly imageId: string;
    readonly step: SnapshotStep;
    readonly reason: string;
  };
};

export type ImageDeleted = {
  readonly type: 'ImageDeleted';
  readonly data: { readonly imageId: string; readonly reason: 'user' | 'rotation' };
};

export type ImageEvent =
  | ImageReserved
  | ConversionProgressed
  | ImageExtracted
  | UploadProgressed
  | Uploaded
  | ImageChecksummed
  | ImageChecksumFailed
  | SnapshotFailed
  | ImageDeleted;
