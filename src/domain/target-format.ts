import type { ImageCompression } from './image-compression';

/** What the plan records about the snapshot's output. */
export interface TargetFormatPlan {
  readonly targetFormat: string;
  /** Set only when the conversion compresses. */
  readonly compression?: ImageCompression;
  /** Set only when compression was configured but cannot apply, with the reason. */
  readonly compressionNotApplied?: string;
}

/**
 * Picks the snapshot's format as Nova does (`snapshot_image_format`, else the source disk's
 * format) and whether it is compressed. Compression is a qcow2 feature: when the format is
 * left to the source's and the source is not qcow2, the snapshot is taken uncompressed and
 * the plan says why (an explicit raw format with compression is refused at start-up).
 */
export function planTargetFormat(
  sourceFormat: string,
  config: {
    readonly snapshotFormat: string | null;
    readonly snapshotCompression: ImageCompression | null;
  },
): TargetFormatPlan {
  const targetFormat = config.snapshotFormat ?? sourceFormat;
  const compression = config.snapshotCompression;
  if (compression === null) return { targetFormat };
  if (targetFormat === 'qcow2') return { targetFormat, compression };
  return {
    targetFormat,
    compressionNotApplied: `${compression} compression needs qcow2 output; the snapshot keeps the source's ${targetFormat} format (set SNAPLEDGER_SNAPSHOT_FORMAT=qcow2 to compress)`,
  };
}
