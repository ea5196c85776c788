import type { AppendResult, EventStore, ExpectedRevision } from '../event-store/event-store.port';
import type { CausationContext, SnapledgerEvent } from '../events';
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
    for (const e of events) this.faults.hit(`after-append:${e.type}`);
    return result;
  }
}
