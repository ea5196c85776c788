import type { EntityManager } from 'typeorm';
import type { EventOfType, SnapledgerEventType } from '../events';
import type { RecordedEvent } from '../events/recorded-event';

/**
 * A read model fed from the log. The runner calls apply() once per event, in position
 * order, inside the transaction that also writes the projection's checkpoint: a projection
 * is exactly-once because its rows and its checkpoint commit together, so apply() need not
 * (and should not) guess whether it has seen an event before. Unknown event types are
 * ignored. apply() reads no clock and makes no ids: every value comes from the event.
 */
export interface Projection {
  /** Stable name; the key of the projection's checkpoint. */
  readonly name: string;
  /** The tables this projection owns (emptied by a rebuild). */
  readonly tables: string[];
  /**
   * True when no projection ever reads this one's tables (rows are only inserted): a
   * rebuild may then drop their secondary indexes while it replays and build them at the end.
   */
  readonly writeOnly?: boolean;
  apply(event: RecordedEvent, manager: EntityManager): Promise<void>;
}

/** A recorded event narrowed to one snapledger event type. */
export type RecordedOf<T extends SnapledgerEventType> = RecordedEvent<T, EventOfType<T>['data']>;

/** Any recorded snapledger event, discriminated by `type` (switch on it to narrow `data`). */
export type KnownRecordedEvent = { [T in SnapledgerEventType]: RecordedOf<T> }[SnapledgerEventType];

/**
 * Views a recorded event as a known snapledger event so that a switch on `type` narrows
 * its data. Events of other types simply match no case.
 */
export function asKnownEvent(event: RecordedEvent): KnownRecordedEvent {
  return event as KnownRecordedEvent;
}

/** Narrows a recorded event by its type string. */
export function isEventOfType<T extends SnapledgerEventType>(
  event: RecordedEvent,
  type: T,
): event is RecordedOf<T> {
  return event.type === type;
}

/** Milliseconds from `from` to `to` (ISO-8601 strings). */
export function msBetween(from: string, to: string): number {
  return Date.parse(to) - Date.parse(from);
}

/** A conversion percentage as a whole number in 0..100 (rounded down). */
export function wholePercent(percent: number): number {
  if (!Number.isFinite(percent)) return 0;
  return Math.min(100, Math.max(0, Math.floor(percent)));
}
