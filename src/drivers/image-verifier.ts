import { basename, dirname } from 'node:path';
import type { DiskImageTool } from './disk-image.port';
import { digestFile } from './file-digest';
import type { ImageLayers } from './image-layers.port';
import type { LocalImageStore } from './local-image-store';

/** A `.layer` file of the image directory, by the image id it is named after. */
const LAYER_NAME = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.layer$/;
/** A chain longer than this is not one snapledger made. */
const MAX_CHAIN = 10_000;

/** What the image's record says its data is. */
export interface RecordedImage {
  readonly imageId: string;
  readonly size: number | null;
  readonly checksum: string | null;
  readonly osHashValue: string | null;
  readonly diskFormat: string | null;
}

export interface FileCheck {
  /** The image the file belongs to. */
  readonly imageId: string;
  readonly ok: boolean;
  /** qemu-img check's words, or why the file is not what it should be. */
  readonly output: string;
}

export interface VerifyReport {
  readonly imageId: string;
  readonly ok: boolean;
  /** The image's own file first, then each file under it down to its chain's root. */
  readonly files: readonly FileCheck[];
  readonly size: { readonly expected: number | null; readonly actual: number | null };
  readonly checksum: { readonly expected: string | null; readonly actual: string | null };
  readonly osHashValue: { readonly expected: string | null; readonly actual: string | null };
}

/**
 * Checks a stored image as an auditor would: qemu-img check on its file and, for a backup
 * of a chain, on every layer under it (each must be another image's .layer file in the
 * image directory); then the whole image a download returns is hashed again and compared
 * with the checksums recorded when it was stored.
 */
export class ImageVerifier {
  constructor(
    private readonly store: LocalImageStore,
    private readonly layers: ImageLayers,
    private readonly disks: DiskImageTool,
  ) {}

  async verify(recorded: RecordedImage): Promise<VerifyReport> {
    const { imageId } = recorded;
    let files: FileCheck[];
    let digest: { size: number; checksum: string; osHashValue: string } | null = null;
    if (await this.store.isLayer(imageId)) {
      files = await this.checkChain(imageId);
      if (files.every((f) => f.ok)) digest = await this.store.wholeDigest(imageId);
    } else {
      const path = await this.store.dataPath(imageId);
      if (path === null) {
        files = [{ imageId, ok: false, output: 'the image has no data in the image store' }];
      } else {
        const check = await this.disks.check(path, recorded.diskFormat ?? 'raw');
        files = [{ imageId, ok: check.ok, output: check.output }];
        digest = await digestFile(path);
      }
    }
    const size = { expected: recorded.size, actual: digest?.size ?? null };
    const checksum = { expected: recorded.checksum, actual: digest?.checksum ?? null };
    const osHashValue = { expected: recorded.osHashValue, actual: digest?.osHashValue ?? null };
    const ok =
      files.every((f) => f.ok) &&
      digest !== null &&
      size.expected === size.actual &&
      checksum.expected === checksum.actual &&
      osHashValue.expected === osHashValue.actual;
    return { imageId, ok, files, size, checksum, osHashValue };
  }

  /** qemu-img check of each file from the image's layer down to its root. */
  private async checkChain(imageId: string): Promise<FileCheck[]> {
    const files: FileCheck[] = [];
    const top = this.store.layerPath(imageId);
    const directory = dirname(top);
    let path: string | null = top;
    let id = imageId;
    while (path !== null && files.length < MAX_CHAIN) {
      const check = await this.layers.check(path);
      files.push({ imageId: id, ok: check.ok, output: check.output });
      if (!check.ok) break;
      const backing: string | null = await this.layers.backingOf(path);
      if (backing === null) break;
      const name = LAYER_NAME.exec(basename(backing));
      if (!name || dirname(backing) !== directory) {
        files.push({
          imageId: id,
          ok: false,
          output: `the layer lies over ${backing}, which is not an image of this store`,
        });
        break;
      }
      path = backing;
      id = name[1];
    }
    return files;
  }
}
