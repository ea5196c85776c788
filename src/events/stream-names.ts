/**
 * The only module that builds or parses stream names.
 * One stream per aggregate: instance-<uuid>, image-<uuid>, and the snapshot
 * process manager's own stream, snapshot-<image uuid>.
 */
export const StreamCategory = {
  Instance: 'instance',
  Image: 'image',
  Snapshot: 'snapshot',
} as const;
export type StreamCategory = (typeof StreamCategory)[keyof typeof StreamCategory];

export const instanceStream = (instanceId: string): string =>
  `${StreamCategory.Instance}-${instanceId}`;
export const imageStream = (imageId: string): string => `${StreamCategory.Image}-${imageId}`;
export const snapshotStream = (imageId: string): string => `${StreamCategory.Snapshot}-${imageId}`;

export interface ParsedStreamName {
  readonly category: StreamCategory;
  readonly id: string;
}

export function parseStreamName(stream: string): ParsedStreamName {
  const dash = stream.indexOf('-');
  if (dash <= 0) throw new Error(`not a snapledger stream name: ${stream}`);
  const category = stream.slice(0, dash);
  const known = Object.values(StreamCategory) as string[];
  if (!known.includes(category)) throw new Error(`unknown stream category: ${category}`);
  return { category: category as StreamCategory, id: stream.slice(dash + 1) };
}
