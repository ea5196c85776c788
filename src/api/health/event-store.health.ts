import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { EVENT_STORE, type EventStore } from '../../event-store/event-store.port';

/** Ready when the event store is open and answers a read, within a second. */
@Injectable()
export class EventStoreHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  check(key = 'eventStore') {
    return this.health
      .check(key)
      .attempt(async () => {
        try {
          return { position: await this.store.lastPosition() };
        } catch {
          throw new Error('the event store does not answer');
        }
      })
      .withTimeout(1000);
  }
}
