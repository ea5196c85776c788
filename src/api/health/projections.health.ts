import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { EVENT_STORE, type EventStore } from '../../event-store/event-store.port';
import { PROJECTION_RUNNER } from '../../di-tokens';
import { projectionsCaughtUp, READY_MAX_PROJECTION_LAG } from './projection-lag';

/** What readiness needs of the projection runner. */
export interface ProjectionRunnerStatus {
  readonly position: number;
  readonly isRunning: boolean;
  readonly lastError: Error | undefined;
}

/** Ready when the projections run, are not failing, and lag the log by a few events at most. */
@Injectable()
export class ProjectionsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PROJECTION_RUNNER) private readonly runner: ProjectionRunnerStatus,
  ) {}

  async check(key = 'projections') {
    const session = this.health.check(key);
    let lastPosition: number;
    try {
      lastPosition = await this.store.lastPosition();
    } catch {
      return session.down({ message: 'the event store does not answer' });
    }
    const failing = this.runner.lastError !== undefined;
    const { ready, lag } = projectionsCaughtUp({
      lastPosition,
      position: this.runner.position,
      running: this.runner.isRunning,
      failing,
    });
    const details = {
      lag,
      maxLag: READY_MAX_PROJECTION_LAG,
      running: this.runner.isRunning,
      failing,
    };
    return ready ? session.up(details) : session.down(details);
  }
}
