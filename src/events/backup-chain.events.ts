/**
 * Incremental backups. The backups of one instance that are layered on each other form a
 * chain: the first is a whole qcow2 image (its root), each later one a qcow2 layer holding
 * only the blocks that changed, over its parent. The chains of an instance are recorded in
 * its own stream, backup-chain-<instance uuid>, so that the plan finds a series' newest
 * backup, and a deletion finds the layer over the image it removes, without a view.
 */

/**
 * A backup became part of a chain: recorded by the upload step before the image's Uploaded,
 * so an active chain image is always in its chain's stream.
 */
export type ChainLayerAdded = {
  readonly type: 'ChainLayerAdded';
  readonly data: {
    readonly instanceId: string;
    readonly imageId: string;
    /**
     * The series the image belongs to: createBackup's backup_type (its rotation series), or,
     * for createImage (`imageType` snapshot), the one series of the instance's incremental
     * snapshots.
     */
    readonly backupType: string;
    /** `snapshot` for an incremental createImage; absent for a backup (and in older logs). */
    readonly imageType?: 'snapshot';
    /** The chain's first image, which names the chain for as long as it lasts. */
    readonly chainId: string;
    /** The image this layer lies over; null for a chain's root (a whole image). */
    readonly parentImageId: string | null;
    /**
     * The libvirt checkpoint that marks this image's moment: blocks the guest has not written
     * since it are the same in this image as on the disk. Created with a live backup;
     * inherited from the parent by a backup of a shut-off domain; null when there is none.
     */
    readonly checkpoint: string | null;
  };
};

/**
 * An image of a chain was deleted: before its data goes, the layer over it (its child) is
 * rebased onto the deleted image's parent (or made whole, if the deleted image was the
 * root), so that the child stays complete. Recorded before the rebase starts; a restarted
 * service finds it without its LayerMerged and runs the rebase again (it is idempotent).
 */
export type LayerMergeStarted = {
  readonly type: 'LayerMergeStarted';
  readonly data: {
    readonly instanceId: string;
    readonly removedImageId: string;
    /** The layer over the removed image; null when none is (the removed image was the newest). */
    readonly childImageId: string | null;
    /** What the child lies over from now on; null: nothing (it becomes the root). */
    readonly newParentImageId: string | null;
  };
};

/** The merge is done: the removed image has left its chain, and its data can go. */
export type LayerMerged = {
  readonly type: 'LayerMerged';
  readonly data: {
    readonly instanceId: string;
    readonly removedImageId: string;
    readonly childImageId: string | null;
    readonly newParentImageId: string | null;
    /** The child's layer file after the rebase, in bytes on disk; null without a child. */
    readonly childBytesStored: number | null;
    /**
     * The removed image's libvirt checkpoint, deleted because no image left in a chain uses
     * it; absent when it was kept (another image uses it, or it was already gone).
     */
    readonly checkpointDeleted?: string;
    /**
     * The removed image's checkpoint could not be deleted, and why (libvirt deletes
     * checkpoints of running domains only): it stays in libvirt, unused.
     */
    readonly checkpointKept?: { readonly checkpoint: string; readonly reason: string };
    readonly startedAt: string;
    readonly durationMs: number;
  };
};

export type BackupChainEvent = ChainLayerAdded | LayerMergeStarted | LayerMerged;
