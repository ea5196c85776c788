/** The disk a live snapshot mirrors, as libvirt describes it. */
export interface DeltaSource {
  /** Absolute path of the domain's disk file. */
  readonly diskPath: string;
  /** Its format from the domain XML (qcow2 or raw): never probed. */
  readonly diskFormat: string;
}

export interface CreatedDelta {
  /** Absolute path of the delta (derived from the image id). */
  readonly path: string;
  /** The disk has a backing file and the delta is created over it (shallow copy). */
  readonly overBackingFile: boolean;
}

/**
 * The qcow2 deltas of live snapshots. A delta is created over the disk's backing file (none
 * for a flat disk), QEMU mirrors the disk's top layer into it, and it is converted and then
 * removed. Deltas live in a directory of their own that QEMU's user can traverse, one file
 * per image, named by the image uuid only.
 */
export interface LiveDeltaStore {
  /** Where the image's delta lives; refuses anything but a uuid. */
  pathOf(imageId: string): string;
  /** Creates the delta afresh (a leftover of an earlier try is replaced). */
  create(imageId: string, source: DeltaSource): Promise<CreatedDelta>;
  /**
   * An empty qcow2 with no backing file, in the delta's place: the output of a live backup
   * job (an incremental backup), which QEMU writes as it writes a delta. Returns its path.
   */
  createEmpty(imageId: string, virtualSize: number): Promise<string>;
  exists(imageId: string): Promise<boolean>;
  /** Removes the delta; true when there was one. */
  remove(imageId: string): Promise<boolean>;
}
