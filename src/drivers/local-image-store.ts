import { randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { copyFile, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { digestFile, type HashThreads } from './file-digest';
import type { ImageLayers } from './image-layers.port';
import {
  ImageDataUnavailableError,
  type ImageData,
  type ImageStore,
  type StagingOptions,
  type StoredImage,
} from './image-store.port';

/** A canonical uuid (any version); ids are lower-cased before they become file names. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STAGING_ENTRY =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(partial|staged|[0-9a-f-]{36}\.(?:flat|download))$/;

export class InvalidImageIdError extends Error {
  constructor(readonly imageId: unknown) {
    super(`invalid image id ${JSON.stringify(imageId)}: expected a uuid`);
    this.name = 'InvalidImageIdError';
  }
}

/** Validates an image id and returns its canonical (lower-case) form. */
export function canonicalImageId(imageId: string): string {
  if (typeof imageId !== 'string' || !UUID.test(imageId)) throw new InvalidImageIdError(imageId);
  return imageId.toLowerCase();
}

/**
 * The local file store (the image directory, SNAPLEDGER_IMAGE_DIR, is <data dir>/images by
 * default):
 *   <image dir>/<uuid>                    stored data
 *   <image dir>/<uuid>.layer              a backup of a chain: a qcow2 over its parent's
 *                                         .layer file (or whole, for a chain's root)
 *   <image dir>/.staging/<uuid>.partial   a conversion in progress
 *   <image dir>/.staging/<uuid>.staged    a finished conversion
 *   <image dir>/.staging/<uuid>.<uuid>.flat (or .download)
 *                                         a chain image made whole, to hash or to download
 * Staging and store are on the same filesystem, so committing is a rename, never a copy.
 * An agent stages in .staging/<its host name>/ instead: the image directory is shared by
 * every agent, and each sweeps only its own leftovers. Directories are created (0700) on
 * first use.
 */
export class LocalImageStore implements ImageStore {
  readonly kind = 'local';
  private readonly imagesDir: string;
  private readonly stagingDir: string;
  private dirsReady = false;
  /**
   * Started when a conversion is staged: the fsync that makes it durable and its checksums,
   * so that commit need not wait for a full read of the file.
   */
  private readonly settling = new Map<string, Promise<StoredImage>>();

  constructor(
    imageDir: string,
    /**
     * Called at named points of commit (`commit-settled`: durable and hashed, not yet
     * renamed; `commit-renamed`: in the store, directories not yet fsynced), for the crash
     * tests' `kill-at:<point>` fault injection.
     */
    private readonly onCommitPoint: (point: string) => void = () => undefined,
    /** An agent's host name (validated by hostNameFrom): its own staging directory. */
    stagingName: string | null = null,
    /** qemu-img's layer operations, for the backups of chains (incremental backups). */
    private readonly layers: ImageLayers | null = null,
  ) {
    if (!imageDir) throw new Error('LocalImageStore needs an image directory');
    this.imagesDir = resolve(imageDir);
    this.stagingDir = join(this.imagesDir, '.staging', ...(stagingName ? [stagingName] : []));
  }

  stagingPath(imageId: string): string {
    const id = canonicalImageId(imageId);
    this.ensureDirs();
    return this.partialFile(id);
  }

  /** The staged file of a finished conversion (it may not exist). */
  stagedPath(imageId: string): string {
    return this.stagedFile(canonicalImageId(imageId));
  }

  async prepareStaging(imageId: string): Promise<string> {
    const partial = this.stagingPath(imageId);
    await rm(partial, { force: true });
    return partial;
  }

  async hasStaged(imageId: string): Promise<boolean> {
    return isFile(this.stagedFile(canonicalImageId(imageId)));
  }

  /**
   * Renames <uuid>.partial to <uuid>.staged. Idempotent. From here on, while the saga goes on
   * (restoring the domain), the file is fsynced and its checksums computed in a worker thread
   * of low priority (see file-digest.ts); commit waits for both, so the data is durable before
   * the image can become active. The staged file does not change until commit renames it.
   */
  async markStaged(
    imageId: string,
    options: StagingOptions & { readonly layer?: boolean } = {},
  ): Promise<void> {
    const id = canonicalImageId(imageId);
    const partial = this.partialFile(id);
    const staged = this.stagedFile(id);
    if (!(await isFile(partial))) {
      if ((await isFile(staged)) || (await this.has(id))) return;
      throw new Error(`image ${id}: no partial conversion to mark as staged`);
    }
    await rename(partial, staged);
    // A layer's own bytes are not what a download returns: commitLayer hashes the whole image.
    if (options.layer) return;
    const settle = this.settle(staged, options.restoreFollows ? 'one' : 'both');
    settle.catch(() => undefined); // commit settles the file again if this failed
    this.settling.set(id, settle);
  }

  /** Makes a staged file durable and computes its checksums, side by side. */
  private async settle(staged: string, threads: HashThreads = 'both'): Promise<StoredImage> {
    const [digest] = await Promise.all([
      digestFile(staged, { threads }),
      fsyncPath(staged).then(() => fsyncPath(this.stagingDir)),
    ]);
    return digest;
  }

  /** The checksums of a durable staged file: from the work begun at markStaged, or done now. */
  private async settledDigest(id: string): Promise<StoredImage> {
    const started = this.settling.get(id);
    this.settling.delete(id);
    if (started) {
      try {
        return await started;
      } catch {
        // fall through and do it again
      }
    }
    return this.settle(this.stagedFile(id));
  }

  /**
   * The staged file of a finished conversion, durable, with its checksums; null when nothing
   * is staged. For a store that sends the staged file elsewhere (Glance) instead of renaming it.
   */
  async settledStaged(imageId: string): Promise<{ path: string; digest: StoredImage } | null> {
    const id = canonicalImageId(imageId);
    const staged = this.stagedFile(id);
    if (!(await isFile(staged))) return null;
    return { path: staged, digest: await this.settledDigest(id) };
  }

  /**
   * Hashes the staged file (md5 and sha512 in one pass), makes it durable and renames it into
   * the store. Idempotent: when nothing is staged but the image is stored, hashes what is stored.
   * The file keeps no metadata: the record is not needed here.
   */
  async commit(imageId: string): Promise<StoredImage> {
    const id = canonicalImageId(imageId);
    const staged = this.stagedFile(id);
    const stored = this.storedFile(id);
    if (await isFile(staged)) {
      const digest = await this.settledDigest(id);
      this.onCommitPoint('commit-settled');
      try {
        await rename(staged, stored);
      } catch (error) {
        // A concurrent commit of the same image may have moved it first.
        if (!isNotFound(error) || !(await isFile(stored))) throw error;
        return digestFile(stored);
      }
      this.onCommitPoint('commit-renamed');
      await fsyncPath(this.imagesDir);
      await fsyncPath(this.stagingDir);
      return digest;
    }
    if (await isFile(stored)) return digestFile(stored);
    throw new Error(`image ${id}: nothing staged and nothing stored`);
  }

  async has(imageId: string): Promise<boolean> {
    const id = canonicalImageId(imageId);
    return (await isFile(this.storedFile(id))) || (await isFile(this.layerFile(id)));
  }

  /**
   * Moves a file written elsewhere (a backup job's output, in the delta directory QEMU can
   * reach) in as the image's partial file: a rename, or a copy across filesystems.
   */
  async adoptStaging(imageId: string, path: string): Promise<void> {
    const partial = await this.prepareStaging(imageId);
    try {
      await rename(path, partial);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyFile(path, partial);
      await rm(path, { force: true });
    }
  }

  /** What a staged file takes on disk. */
  async stagedBytes(imageId: string): Promise<number> {
    return bytesOnDisk(this.stagedFile(canonicalImageId(imageId)));
  }

  /** The stored file of a chain's image (what a layer over it names as its backing file). */
  layerPath(imageId: string): string {
    return this.layerFile(canonicalImageId(imageId));
  }

  /** What a stored layer takes on disk. */
  async layerBytes(imageId: string): Promise<number> {
    return bytesOnDisk(this.layerFile(canonicalImageId(imageId)));
  }

  /** Is the image stored as a chain's layer? */
  async isLayer(imageId: string): Promise<boolean> {
    return isFile(this.layerFile(canonicalImageId(imageId)));
  }

  /**
   * Stores a staged chain image: made durable and renamed to <uuid>.layer. A layer must
   * already name its parent's .layer file as its backing file. Its checksums are those of
   * the whole image a download returns: wholeDigest computes them, after the image is active.
   * Idempotent: an image already stored is left as it is.
   */
  async commitLayer(imageId: string): Promise<{ bytesStored: number }> {
    const id = canonicalImageId(imageId);
    const staged = this.stagedFile(id);
    const stored = this.layerFile(id);
    if (await isFile(staged)) {
      await fsyncPath(staged);
      await fsyncPath(this.stagingDir);
      this.onCommitPoint('commit-settled');
      await rename(staged, stored);
      this.onCommitPoint('commit-renamed');
      await fsyncPath(this.imagesDir);
      await fsyncPath(this.stagingDir);
      return { bytesStored: await bytesOnDisk(stored) };
    }
    if (await isFile(stored)) return { bytesStored: await bytesOnDisk(stored) };
    throw new Error(`image ${id}: nothing staged and nothing stored`);
  }

  /**
   * The checksums and size of the whole image the chain ending at `layer` reads as: the
   * chain flattened into a scratch qcow2 (what a download returns), hashed, removed.
   * Aborting `signal` stops the flattening or the hashing.
   */
  async wholeDigest(
    imageId: string,
    layer = this.layerPath(imageId),
    signal?: AbortSignal,
  ): Promise<StoredImage> {
    const id = canonicalImageId(imageId);
    this.ensureDirs();
    // A name of its own per reader: a verify may run beside the checksum step or a verify.
    const flat = join(this.stagingDir, `${id}.${randomUUID()}.flat`);
    await rm(flat, { force: true });
    try {
      await this.requireLayers().flatten(layer, flat, signal);
      return await digestFile(flat, { signal });
    } finally {
      await rm(flat, { force: true });
    }
  }

  private requireLayers(): ImageLayers {
    if (!this.layers) throw new Error('this image store was built without qemu-img layers');
    return this.layers;
  }

  /** Absolute path of the stored data; null when absent. */
  async dataPath(imageId: string): Promise<string | null> {
    const stored = this.storedFile(canonicalImageId(imageId));
    return (await isFile(stored)) ? stored : null;
  }

  /**
   * A chain image, made whole into a scratch file that is unlinked once open: what a
   * download of it returns, the same bytes its checksums were computed from.
   */
  private async openLayer(id: string): Promise<ImageData | null> {
    if (!(await isFile(this.layerFile(id)))) return null;
    this.ensureDirs();
    // A name of its own per download: two downloads of one image never share a file.
    const scratch = join(this.stagingDir, `${id}.${randomUUID()}.download`);
    try {
      try {
        await this.requireLayers().flatten(this.layerFile(id), scratch);
      } catch (error) {
        throw new ImageDataUnavailableError(
          `image ${id} could not be made whole for download in ${this.stagingDir}: ${(error as Error).message}`,
        );
      }
      return await openForReading(scratch);
    } finally {
      await rm(scratch, { force: true });
    }
  }

  /**
   * Opens the stored file, or a chain's image made whole (see openLayer). The descriptor is
   * held from here, so an image deleted while it downloads still streams whole.
   */
  async openData(imageId: string): Promise<ImageData | null> {
    const id = canonicalImageId(imageId);
    return (await openForReading(this.storedFile(id))) ?? this.openLayer(id);
  }

  async discard(imageId: string): Promise<void> {
    const id = canonicalImageId(imageId);
    this.settling.delete(id);
    await Promise.all(
      [this.partialFile(id), this.stagedFile(id), this.storedFile(id), this.layerFile(id)].map(
        (f) => rm(f, { force: true }),
      ),
    );
  }

  async sweepStaging(keep: ReadonlySet<string>): Promise<string[]> {
    const keepIds = new Set([...keep].map((id) => id.toLowerCase()));
    let entries: string[];
    try {
      entries = await readdir(this.stagingDir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const removed: string[] = [];
    for (const entry of entries.sort()) {
      const match = STAGING_ENTRY.exec(entry);
      if (!match) continue;
      // A scratch copy (flat, download) of a process that ended: no reader is left.
      const scratch = match[2]!.endsWith('.flat') || match[2]!.endsWith('.download');
      if (keepIds.has(match[1]!) && !scratch) continue;
      await rm(join(this.stagingDir, entry), { force: true });
      removed.push(entry);
    }
    return removed;
  }

  private partialFile(id: string): string {
    return join(this.stagingDir, `${id}.partial`);
  }

  private stagedFile(id: string): string {
    return join(this.stagingDir, `${id}.staged`);
  }

  private storedFile(id: string): string {
    return join(this.imagesDir, id);
  }

  private layerFile(id: string): string {
    return join(this.imagesDir, `${id}.layer`);
  }

  /** Synchronous because stagingPath is: the directory must exist before qemu-img writes. */
  private ensureDirs(): void {
    if (this.dirsReady) return;
    mkdirSync(this.stagingDir, { recursive: true, mode: 0o700 });
    this.dirsReady = true;
  }
}

/**
 * Opens a file for a download; null when absent. The descriptor is held from here, so a file
 * deleted (or unlinked scratch) while it downloads still streams whole.
 */
async function openForReading(path: string): Promise<ImageData | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  const fd = handle;
  const { size } = await fd.stat();
  return {
    size,
    read: async (range) =>
      // The stream owns the descriptor from here: it closes it when it ends or is destroyed.
      createReadStream('', { fd, autoClose: true, ...(range ?? {}) }),
    close: () => fd.close(),
  };
}

/** What a file takes on disk (allocated blocks), not its apparent size. */
async function bytesOnDisk(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

/** fsync of a file or a directory (opened read-only, which Linux allows for both). */
async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
