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

export interface StreamSubscription {
  /** Stops delivery; resolves when the handler is no longer running. */
  stop(): Promise<void>;
  /** Resolves when the subscription ends by itself because the handler threw. */
  readonly done: Promise<void>;
}

export interface SubscribeOptions {
  /** Deliver events with a position strictly greater than this. */
  readonly after: number;
  /** Called once the subscription has delivered everything stored so far. */
  readonly onCaughtUp?: (position: number) => void;
}

/**
 * The event store port. The SQLite adapter is the embedded default; every adapter must
 * pass test/contract/event-store.contract.ts.
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
  /** Events of every stream in position order. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** The position of the last stored event, 0 when the log is empty. */
  lastPosition(): Promise<number>;
  /**
   * Delivers every event after `after`, then tails the log. The handler is awaited: events
   * are delivered one at a time, in order. A handler that throws ends the subscription.
   */
  subscribe(
    handler: (event: RecordedEvent) => Promise<void>,
    options: SubscribeOptions,
  ): StreamSubscription;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EventStore');
