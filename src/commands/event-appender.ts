import {
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  WrongExpectedRevisionError,
} from '../event-store/event-store.port';
import type { CausationContext, SnapledgerEvent } from '../events';
import { loadAggregate } from './aggregate-loader';
import type { Clock, IdGenerator } from './clock';
import { stampEvents } from './event-stamping';
import type { FaultInjector } from './fault-injection';

/** Stamps decided events with metadata and appends them; the one write path of the service. */
export class EventAppender {
  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly faults: FaultInjector,
  ) {}

  async append(
    stream: string,
    events: readonly SnapledgerEvent[],
    expected: ExpectedRevision,
    context: CausationContext,
  ): Promise<AppendResult | null> {
    if (events.length === 0) return null;
    const stamped = stampEvents(events, context, this.clock, this.ids);
    const result = await this.store.append(stream, stamped, expected);
    this.faults.afterAppend(events);
    return result;
  }

  /**
   * Load → decide → append on one stream, expecting the revision that was read. When a
   * concurrent append took that revision, the stream is read and the decision made again,
   * up to `attempts` times; a decider that refuses the new state (Nova's 409) throws then.
   */
  async decideAndAppend<S, E>(
    stream: string,
    fold: (events: readonly E[]) => S,
    decide: (state: S) => readonly SnapledgerEvent[],
    context: CausationContext,
    attempts: number,
  ): Promise<{ state: S; events: readonly SnapledgerEvent[]; appended: AppendResult | null }> {
    for (let attempt = 1; ; attempt += 1) {
      const loaded = await loadAggregate(this.store, stream, fold);
      const events = decide(loaded.state);
      try {
        const appended = await this.append(stream, events, loaded.revision, context);
        return { state: loaded.state, events, appended };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= attempts) throw error;
      }
    }
  }
}
