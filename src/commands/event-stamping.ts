import type { CausationContext, NewEvent, SnapledgerEvent } from '../events';
import { schemaVersionOf } from '../events';
import type { Clock, IdGenerator } from './clock';

/**
 * Gives decided events their metadata. The first event is caused by the context's cause;
 * each later event in the batch is caused by the one before it.
 */
export function stampEvents(
  events: readonly SnapledgerEvent[],
  context: CausationContext,
  clock: Clock,
  ids: IdGenerator,
): NewEvent[] {
  let causationId = context.causationId;
  const occurredAt = clock.now().toISOString();
  return events.map((event) => {
    const eventId = ids.uuid();
    const stamped: NewEvent = {
      type: event.type,
      data: event.data,
      metadata: {
        eventId,
        correlationId: context.correlationId,
        causationId,
        actor: context.actor,
        requestId: context.requestId,
        occurredAt,
        schemaVersion: schemaVersionOf(event.type),
      },
    };
    causationId = eventId;
    return stamped;
  });
}
