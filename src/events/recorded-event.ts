import type { EventMetadata } from './event-metadata';

/** An event to append: type, data and metadata; the store assigns revision and position. */
export interface NewEvent<T extends string = string, D = unknown> {
  readonly type: T;
  readonly data: D;
  readonly metadata: EventMetadata;
}

/** An event as read back from a store. */
export interface RecordedEvent<T extends string = string, D = unknown> {
  readonly streamName: string;
  /** 0-based revision within the stream. */
  readonly revision: number;
  /** 1-based position in the global log. */
  readonly position: number;
  readonly type: T;
  readonly data: D;
  readonly metadata: EventMetadata;
}

/**
 * What an append expects of the stream:
 * - 'no_stream': the stream must not exist yet;
 * - 'any': no check;
 * - a number: the revision of the stream's last event, exactly (the optimistic-concurrency check).
 */
export type ExpectedRevision = 'no_stream' | 'any' | number;
