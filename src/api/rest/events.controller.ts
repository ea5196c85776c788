import { Controller, Get, Inject, Query } from '@nestjs/common';
import type { RequestContext } from '../../domain/request-context';
import { EVENT_STORE, type EventStore } from '../../event-store/event-store.port';
import { AdminCaller } from '../auth/request-context.decorator';
import { parseEventsQuery } from './events-query.parser';
import type { RawQuery } from './query-params.parser';

/**
 * GET /v1/events?from=POSITION&limit=N: the raw log, for admins. The only route that reads
 * the event store; every other route answers from the read models.
 */
@Controller('v1')
export class EventsController {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @Get('events')
  async list(@Query() query: RawQuery, @AdminCaller() _caller: RequestContext) {
    const { from, limit } = parseEventsQuery(query);
    const [events, lastPosition] = await Promise.all([
      this.store.readAll({ after: from, limit }),
      this.store.lastPosition(),
    ]);
    const nextFrom = events.length > 0 ? events[events.length - 1]!.position : from;
    return {
      events: events.map((e) => ({
        position: e.position,
        stream: e.streamName,
        revision: e.revision,
        type: e.type,
        data: e.data,
        metadata: e.metadata,
      })),
      // Pass as `from` to read on; equal to `from` when nothing newer is stored yet.
      next_from: nextFrom,
      last_position: lastPosition,
      next: `/v1/events?from=${nextFrom}&limit=${limit}`,
    };
  }
}
