/**
 * The only module that builds or parses stream names.
 * One stream per aggregate: instance-<uuid>, image-<uuid>, and the snapshot
 * process manager's own stream, snapshot-<image uuid>, an instance's backup chains,
 * backup-chain-<instance uuid>, and the log's own stream, log-integrity.
 */
export const StreamCategory = {
  Instance: 'instance',
  Image: 'image',
  Snapshot: 'snapshot',
  BackupChain: 'backup-chain',
  Log: 'log',
} as const;
export type StreamCategory = (typeof StreamCategory)[keyof typeof StreamCategory];

export const instanceStream = (instanceId: string): string =>
  `${StreamCategory.Instance}-${instanceId}`;
export const imageStream = (imageId: string): string => `${StreamCategory.Image}-${imageId}`;
export const snapshotStream = (imageId: string): string => `${StreamCategory.Snapshot}-${imageId}`;
export const backupChainStream = (instanceId: string): string =>
  `${StreamCategory.BackupChain}-${instanceId}`;

/** Events about the log as a whole (log.events.ts). */
export const logIntegrityStream = `${StreamCategory.Log}-integrity`;

export interface ParsedStreamName {
  readonly category: StreamCategory;
  readonly id: string;
}

export function parseStreamName(stream: string): ParsedStreamName {
  // The longest category first: `backup-chain-` holds a dash of its own.
  const known = (Object.values(StreamCategory) as string[]).sort((a, b) => b.length - a.length);
  const category = known.find((c) => stream.startsWith(`${c}-`) && stream.length > c.length + 1);
  if (!category) {
    if (stream.indexOf('-') <= 0) throw new Error(`not a snapledger stream name: ${stream}`);
    throw new Error(`unknown stream category: ${stream.slice(0, stream.indexOf('-'))}`);
  }
  return { category: category as StreamCategory, id: stream.slice(category.length + 1) };
}
