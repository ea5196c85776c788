import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SnapshotStatsReader } from './snapshot-stats';

/** Where the projection lag comes from: the store's last position and the runner's. */
export interface ProjectionLagSource {
  lastPosition(): Promise<number>;
  readonly position: number;
}

/** Buckets of the snapshot step histogram, in seconds: from a state change to a long convert. */
export const STEP_DURATION_BUCKETS = [
  0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
];

/** Buckets of the HTTP latency histogram, in seconds. */
export const HTTP_DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * The Prometheus metrics of one application instance, in a registry of its own (never the
 * global default registry, so several apps can live in one process, as in tests).
 *
 * - snapledger_snapshots{result,mode}: snapshots in the history by result and mode (a gauge:
 *   a running snapshot moves to active or killed);
 * - snapledger_snapshot_step_duration_seconds{step}: every recorded step of every snapshot;
 * - snapledger_projection_lag_events / snapledger_projection_position;
 * - snapledger_http_request_duration_seconds{method,route,status}, by route pattern;
 * - the default process metrics (CPU, memory, event loop, GC).
 *
 * Snapshot numbers are derived from the snapshot_history read model at scrape time, so they
 * survive restarts and always agree with the history the API shows.
 */
export class AppMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(snapshots: SnapshotStatsReader, lag: ProjectionLagSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'snapledger_snapshots',
      help: 'Snapshots in the snapshot history, by result (running, active, killed) and mode.',
      labelNames: ['result', 'mode'] as const,
      registers,
      async collect() {
        const stats = await snapshots.read();
        this.reset();
        for (const c of stats.counts) this.set({ result: c.result, mode: c.mode }, c.count);
      },
    });

    new Histogram({
      name: 'snapledger_snapshot_step_duration_seconds',
      help: 'Duration of each recorded snapshot step (queue, begin, plan, save, quiesce, mirror, extract, restore, cleanup, upload, checksum).',
      labelNames: ['step'] as const,
      buckets: STEP_DURATION_BUCKETS,
      registers,
      async collect() {
        const stats = await snapshots.read();
        this.reset();
        for (const s of stats.steps) this.observe({ step: s.step }, s.seconds);
      },
    });

    new Gauge({
      name: 'snapledger_projection_lag_events',
      help: 'Events stored but not yet applied by every projection.',
      registers,
      async collect() {
        this.set(Math.max(0, (await lag.lastPosition()) - lag.position));
      },
    });

    new Gauge({
      name: 'snapledger_projection_position',
      help: 'The last log position every projection has applied.',
      registers,
      collect() {
        this.set(lag.position);
      },
    });

    this.httpDuration = new Histogram({
      name: 'snapledger_http_request_duration_seconds',
      help: 'HTTP request latency, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: HTTP_DURATION_BUCKETS,
      registers,
    });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
