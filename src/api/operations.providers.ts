import type { Provider, Type } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { DataSource } from 'typeorm';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import type { ProjectionRunner } from '../projections/projection-runner';
import { PROJECTION_RUNNER, VIEWS_DB } from '../di-tokens';
import { EventStoreHealthIndicator } from './health/event-store.health';
import { LibvirtHealthIndicator } from './health/libvirt.health';
import { ProjectionsHealthIndicator } from './health/projections.health';
import { AppMetrics } from './metrics/app-metrics';
import { SnapshotStatsReader } from './metrics/snapshot-stats';
import { OpenApiDocumentHolder } from './openapi/openapi-document';
import { HealthController } from './rest/health.controller';
import { MetricsController } from './rest/metrics.controller';
import { OpenApiController } from './rest/openapi.controller';

/** Operations routes: /healthz, /readyz, /metrics, /openapi.json (HTTP apps only). */
export const OPERATIONS_CONTROLLERS: Type<unknown>[] = [
  HealthController,
  MetricsController,
  OpenApiController,
];

/** Terminus, without its own console logging (readiness failures are answered, not logged). */
export const operationsImports = () => [TerminusModule.forRoot({ logger: false })];

export const OPERATIONS_PROVIDERS: Provider[] = [
  EventStoreHealthIndicator,
  LibvirtHealthIndicator,
  ProjectionsHealthIndicator,
  OpenApiDocumentHolder,
  {
    provide: AppMetrics,
    inject: [VIEWS_DB, EVENT_STORE, PROJECTION_RUNNER],
    useFactory: (views: DataSource, store: EventStore, runner: ProjectionRunner) =>
      new AppMetrics(new SnapshotStatsReader(views, runner), {
        lastPosition: () => store.lastPosition(),
        get position() {
          return runner.position;
        },
      }),
  },
];
