import type { PowerState, VmState } from './instance.events';

/**
 * How a snapshot is taken. `live`: the running (or paused) domain's disk is mirrored into a
 * qcow2 delta with a shallow block copy, and the delta is converted; the domain never stops.
 * `cold`: the domain is managed-saved for the conversion and restored after. `offline`: the
 * domain is shut off (or suspended), so the disk is converted with no save.
 */
export type SnapshotMode = 'live' | 'cold' | 'offline';

/**
 * The snapshot process manager records its plan before it touches the domain, so a
 * restarted service knows what it was doing and what it must put back.
 */
export type SnapshotPlanned = {
  readonly type: 'SnapshotPlanned';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    readonly mode: SnapshotMode;
    readonly priorPowerState: PowerState;
    readonly priorVmState: VmState;
    readonly domainName: string;
    readonly diskPath: string;
    /** The disk is a file or a block device (an LVM volume...). Since schema version 2. */
    readonly diskKind: 'file' | 'block';
    readonly sourceFormat: string;
    readonly targetFormat: string;
    readonly virtualSize: number;
    /** qcow2 compression the conversion uses; absent: none (and in events before it existed). */
    readonly compression?: 'zlib' | 'zstd';
    /** Compression was configured but cannot apply to this target format, and why. */
    readonly compressionNotApplied?: string;
    /** The disk's target device (vda), for the live path's block copy. Absent in older events. */
    readonly diskTarget?: string;
    /** A backup asked to be incremental: how it is made (see BackupChainPlan). */
    readonly chain?: BackupChainPlan;
    /**
     * A backup asked to be incremental that cannot be part of a chain at all (the store or
     * the disk cannot hold one), and why: it is made as a plain whole image.
     */
    readonly notIncremental?: string;
  };
};

/**
 * How a backup asked to be incremental is made.
 * - `backup-job` (a running domain): libvirt's push-mode backup job (`virsh backup-begin`)
 *   copies the disk, whole or only the blocks written since `parentCheckpoint`, into a
 *   qcow2, and creates `checkpoint` at the same instant. The guest never pauses.
 * - `compare` (a shut-off domain, with a parent): qemu-img rebase onto the parent writes
 *   into a new layer only the clusters in which the disk differs from the parent.
 * - `convert` (a shut-off domain, no parent): the usual whole conversion, a chain's root.
 */
export interface BackupChainPlan {
  readonly method: 'backup-job' | 'compare' | 'convert';
  readonly backupType: string;
  /** `snapshot` for an incremental createImage's chain; absent for a backup's. */
  readonly imageType?: 'snapshot';
  /** The chain this backup joins: its root's image id (this image's, for a new chain). */
  readonly chainId: string;
  readonly parentImageId: string | null;
  /** Chain length of the parent (0 without one). */
  readonly parentChainLength: number;
  /** The checkpoint the copy starts from (backup-job with a parent). */
  readonly parentCheckpoint: string | null;
  /** The checkpoint this backup creates (backup-job), or inherits from its parent (compare). */
  readonly checkpoint: string | null;
  /** A full backup although an incremental one was asked for: why. */
  readonly fullReason: string | null;
}

/**
 * A backup's copy finished: what it wrote, as observed in the file it wrote (qemu-img map),
 * and whether libvirt's job created the checkpoint.
 */
export type BlocksCopied = {
  readonly type: 'BlocksCopied';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    readonly method: BackupChainPlan['method'];
    readonly incremental: boolean;
    readonly checkpointCreated: string | null;
    /** Guest bytes written into the layer. */
    readonly bytesCopied: number;
    /** Bytes the layer file takes on disk. */
    readonly bytesStored: number;
    readonly startedAt: string;
    readonly durationMs: number;
  };
};

/** A step failed but will be retried; kept so the history shows transient faults. */
export type SnapshotStepRetried = {
  readonly type: 'SnapshotStepRetried';
  readonly data: {
    readonly imageId: string;
    readonly step: string;
    readonly attempt: number;
    readonly reason: string;
  };
};

/**
 * Live path: the guest's filesystems were frozen through the QEMU guest agent for the
 * mirror, and thawed after it (startedAt = freeze, durationMs = until the thaw).
 */
export type GuestQuiesced = {
  readonly type: 'GuestQuiesced';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    readonly frozenFilesystems: number;
    readonly startedAt: string;
    readonly durationMs: number;
  };
};

/** Live path: the mirror ran without freezing the guest, and why (no agent, agent refused). */
export type QuiesceSkipped = {
  readonly type: 'QuiesceSkipped';
  readonly data: { readonly imageId: string; readonly instanceId: string; readonly reason: string };
};

/**
 * Live path: the disk's top layer was mirrored into the snapshot's delta (a qcow2 over the
 * disk's backing file, in the delta directory, named by the image id) with a shallow,
 * transient block copy that was then ended without pivoting. The domain kept running.
 */
export type DiskMirrored = {
  readonly type: 'DiskMirrored';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    /**
     * The disk has a backing file: the delta holds only its top layer and reads the rest
     * through that backing file. False: the delta holds the whole disk.
     */
    readonly overBackingFile: boolean;
    readonly startedAt: string;
    readonly durationMs: number;
  };
};

/**
 * Live path: the delta is gone (removed now, or found absent) and no block job of ours is left
 * on the disk: after extraction, or while compensating a failure.
 */
export type DeltaRemoved = {
  readonly type: 'DeltaRemoved';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    /** A delta file existed and was removed. */
    readonly removedFile: boolean;
    /** A leftover block job (of a crash mid-mirror) was aborted. */
    readonly abortedJob: boolean;
    readonly startedAt: string;
    readonly durationMs: number;
  };
};

/**
 * Every slot of the host's concurrency limit (SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS) was taken
 * when this snapshot was ready to begin: it waits, holding its instance's task state, until
 * an older one finishes. The wait ends with the snapshot's `begin` (task_state →
 * image_snapshot), or with its release if it is stopped while waiting. At most once per
 * snapshot.
 */
export type SnapshotQueued = {
  readonly type: 'SnapshotQueued';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    /** 1-based place in the queue when it started waiting. */
    readonly position: number;
    /** The limit in force. */
    readonly limit: number;
  };
};

/**
 * Cold path: managedsave is about to start. Recorded before the driver call, so that a
 * service killed during the save still knows when the domain's downtime began.
 */
export type DomainSaveStarted = {
  readonly type: 'DomainSaveStarted';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    readonly startedAt: string;
  };
};

/**
 * One stretch of time during a snapshot in which libvirt reported the domain as not in the
 * state it had when the snapshot began (paused, saved, shut off, crashed), from its
 * lifecycle events. Times are libvirt's event timestamps.
 */
export interface DowntimeInterval {
  /** What libvirt reported when the stretch began, e.g. "Suspended Paused", "Stopped Saved". */
  readonly cause: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  /** The domain had not come back when the snapshot ended: endedAt is when the watch ended. */
  readonly ongoing: boolean;
}

/**
 * What the snapshot's watch on libvirt's lifecycle events saw: the stretches in which the
 * domain was down, recorded as they close (at the next step boundary) and once more when
 * the snapshot ends (possibly with none). The history's downtime is computed from these and
 * from the save/restore steps, never from the mode.
 */
export type DowntimeObserved = {
  readonly type: 'DowntimeObserved';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    readonly intervals: readonly DowntimeInterval[];
    /** The watch ran from here to `watchedUntil` (this worker's share of the snapshot). */
    readonly watchedFrom: string;
    readonly watchedUntil: string;
    /** The lifecycle event stream was interrupted while watching (libvirtd restarted). */
    readonly gaps: number;
  };
};

export type SnapshotProcessEvent =
  | SnapshotPlanned
  | DomainSaveStarted
  | DowntimeObserved
  | SnapshotStepRetried
  | SnapshotQueued
  | GuestQuiesced
  | QuiesceSkipped
  | DiskMirrored
  | DeltaRemoved
  | BlocksCopied;
