import type { BackupChainEvent } from './backup-chain.events';
import type { ImageEvent } from './image.events';
import type { InstanceEvent } from './instance.events';
import type { LogEvent } from './log.events';
import type { SnapshotProcessEvent } from './snapshot.events';

export * from './backup-chain.events';
export * from './event-metadata';
export * from './image.events';
export * from './instance.events';
export * from './log.events';
export * from './snapshot.events';
export * from './stream-names';
export * from './recorded-event';

/** Every event snapledger writes. `type` is a stable string, never a class name. */
export type SnapledgerEvent =
  InstanceEvent | ImageEvent | SnapshotProcessEvent | BackupChainEvent | LogEvent;
export type SnapledgerEventType = SnapledgerEvent['type'];
export type EventOfType<T extends SnapledgerEventType> = Extract<SnapledgerEvent, { type: T }>;

export { schemaVersionOf } from './schema-versions';
