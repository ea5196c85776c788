import type { ImageCompression } from '../domain/image-compression';

export type { ImageCompression };

export interface DiskImageInfo {
  readonly format: string;
  readonly virtualSize: number;
  readonly actualSize: number | null;
  readonly backingFile: string | null;
}

export interface ConvertOptions {
  readonly source: string;
  readonly sourceFormat: string;
  readonly target: string;
  readonly targetFormat: string;
  /** Called with 0..100 as qemu-img convert -p reports progress. */
  readonly onProgress?: (percent: number) => void;
  readonly signal?: AbortSignal;
  /** Bytes per second to read at most (`qemu-img convert -r`); absent means no limit. */
  readonly rateLimit?: number;
  /**
   * Compress the output's clusters (`-c -o compression_type=...`); qcow2 output only. zstd
   * needs QEMU 5.1 or later and qcow2 compat 1.1 (the default).
   */
  readonly compression?: ImageCompression;
}

export interface MeasureOptions {
  readonly source: string;
  readonly sourceFormat: string;
  readonly targetFormat: string;
  /** As the conversion will be asked; measure gives the uncompressed upper bound anyway. */
  readonly compression?: ImageCompression;
  /** -U (force share): read an image that a running domain holds. */
  readonly shared?: boolean;
}

/** `qemu-img measure` of converting an image, in bytes. */
export interface ImageMeasure {
  /** What the converted file needs on disk (for raw, its full virtual size). */
  readonly required: number;
  /** What it would need fully allocated (preallocation=full). */
  readonly fullyAllocated: number;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly output: string;
}

/** The qemu-img port. */
export interface DiskImageTool {
  /**
   * qemu-img info --output=json; `shared` adds -U, needed while a running domain holds the
   * image. `format` (-f) stops qemu-img from probing: a guest can write any header into a
   * raw disk, so a disk's format must come from libvirt, never from its content.
   */
  info(path: string, options?: { shared?: boolean; format?: string }): Promise<DiskImageInfo>;
  convert(options: ConvertOptions): Promise<void>;
  /** qemu-img measure --output=json: the space converting `source` to `targetFormat` needs. */
  measure(options: MeasureOptions): Promise<ImageMeasure>;
  check(path: string, format: string): Promise<CheckResult>;
}

export class DiskImageToolError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'DiskImageToolError';
  }
}

export const DISK_IMAGE_TOOL = Symbol('DiskImageTool');
