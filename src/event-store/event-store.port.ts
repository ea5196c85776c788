import type { ExpectedRevision, NewEvent, RecordedEvent } from '../events/recorded-event';

export type { ExpectedRevision };

export interface AppendResult {
  /** Revision of the last event appended. */
  readonly nextExpectedRevision: number;
  /** Global position of the last event appended. */
  readonly position: number;
}

export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(
      `wrong expected revision on ${streamName}: expected ${String(expected)}, actual ${String(actual)}`,
    );
    this.name = 'WrongExpectedRevisionError';
  }
}

export class DuplicateEventError extends Error {
  constructor(readonly eventId: string) {
    super(`event ${eventId} is already in the log`);
    this.name = 'DuplicateEventError';
  }
}

export interface ReadAllOptions {
  /** Only events with a position strictly greater than this (0 reads from the start). */
  readonly after?: number;
  readonly limit?: number;
}

/** Thrown by every call on a store after close(); a subscription ends on it. */
export class EventStoreClosedError extends Error {
  constructor() {
    super('the event store is closed');
    this.name = 'EventStoreClosedError';
  }
}

/**
 * The event store port. An adapter stores and reads; following the log from a checkpoint is
 * built once on top of readAll and onAppended (checkpointed-subscription.ts). The SQLite
 * adapter is the embedded default; every adapter must pass test/contract/event-store.contract.ts.
 */
export interface EventStore {
  /** Appends atomically: all the events land on the stream, or none do. */
  append(
    streamName: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult>;
  /** The stream's events in revision order; [] when the stream does not exist. */
  readStream(streamName: string): Promise<RecordedEvent[]>;
  /**
   * Events of every stream in position order: the global log, read in batches with `after`
   * and `limit`.
   */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** The position of the last stored event, 0 when the log is empty. */
  lastPosition(): Promise<number>;
  /**
   * Calls `listener` after events are appended, through this store or by another writer (a
   * poll, a database notification): what wakes a caught-up subscription. Wake-ups may come
   * late, be merged or be spurious, so a listener re-reads from its own position instead of
   * counting them. An append through this store has called the listeners when it resolves;
   * close() calls them once more. Returns the function that removes the listener.
   */
  onAppended(listener: () => void): () => void;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EventStore');
