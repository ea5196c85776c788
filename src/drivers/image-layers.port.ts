/**
 * qcow2 layers: what incremental backups need of qemu-img beyond converting. A layer is a
 * qcow2 whose backing file is its parent's stored file; a chain reads as one whole image.
 * Every path is absolute and made by snapledger (image ids, its own directories).
 */
export interface ImageLayers {
  /** `qemu-img create -f qcow2 <path> <virtual size>`: an empty qcow2 with no backing file. */
  createEmpty(path: string, virtualSize: number): Promise<void>;
  /** An empty qcow2 over `backing` (of `backingFormat`, stated, never probed). */
  createOver(path: string, backing: string, backingFormat: string): Promise<void>;
  /**
   * `qemu-img rebase`: the layer reads the same afterwards, over `backing` (null: over
   * nothing, whole). Clusters where the old and new backing differ are copied into the layer
   * first; run again after a crash, it copies what is left and changes nothing else.
   */
  rebase(path: string, backing: string | null): Promise<void>;
  /**
   * `qemu-img rebase -u`: only the header changes. For a layer whose clusters were written
   * knowing they lie over `backing` (a backup job's incremental output).
   */
  setBackingUnsafe(path: string, backing: string): Promise<void>;
  /**
   * The whole image the chain ending at `layer` reads as, converted to a standalone qcow2.
   * Aborting `signal` stops qemu-img and rejects with the signal's reason.
   */
  flatten(layer: string, target: string, signal?: AbortSignal): Promise<void>;
  /** Guest bytes held in the top layer itself (qemu-img map, depth 0), data and zeros. */
  topLayerBytes(path: string): Promise<number>;
  /** qemu-img check of one file; ok false with qemu-img's words when it finds a fault. */
  check(path: string): Promise<{ ok: boolean; output: string }>;
  /** The file's backing file as its header names it; null when none. */
  backingOf(path: string): Promise<string | null>;
}

export const IMAGE_LAYERS = Symbol('ImageLayers');
