import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { projectionsCaughtUp } from '../../src/api/health/projection-lag';
import { AppMetrics } from '../../src/api/metrics/app-metrics';
import { routeLabel, UNMATCHED_ROUTE } from '../../src/api/metrics/route-label';
import { SnapshotStatsReader } from '../../src/api/metrics/snapshot-stats';
import { tagAndSecureOperations } from '../../src/api/openapi/openapi-tags';
import { SnapshotHistory } from '../../src/projections/entities/snapshot-history.entity';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import { sqliteTarget } from '../../src/database/database-target';

describe('routeLabel', () => {
  it('uses the matched route pattern, never the raw URL', () => {
    expect(routeLabel({ baseUrl: '', route: { path: '/v1/instances/:id/snapshots' } })).toBe(
      '/v1/instances/:id/snapshots',
    );
    expect(routeLabel({ baseUrl: '/v2', route: { path: '/images/:id' } })).toBe('/v2/images/:id');
    expect(routeLabel({})).toBe(UNMATCHED_ROUTE);
  });
});

describe('projectionsCaughtUp', () => {
  const base = { lastPosition: 100, position: 100, running: true, failing: false };
  it('is ready when running, not failing and within the lag', () => {
    expect(projectionsCaughtUp(base)).toEqual({ ready: true, lag: 0 });
    expect(projectionsCaughtUp({ ...base, position: 90 }, 10)).toEqual({ ready: true, lag: 10 });
  });
  it('is not ready when behind, stopped or failing', () => {
    expect(projectionsCaughtUp({ ...base, position: 89 }, 10)).toEqual({ ready: false, lag: 11 });
    expect(projectionsCaughtUp({ ...base, running: false }).ready).toBe(false);
    expect(projectionsCaughtUp({ ...base, failing: true }).ready).toBe(false);
  });
});

describe('tagAndSecureOperations', () => {
  it('tags untagged operations by API family and marks public ones as tokenless', () => {
    const doc = {
      paths: {
        '/v2.1/servers/{id}/action': { post: { operationId: 'A_act' } },
        '/v2/images/{id}': { get: { operationId: 'G_show' } },
        '/v1/audit': { get: { operationId: 'N_list' } },
        '/healthz': { get: { operationId: 'H_live', tags: ['operations'] } },
      } as Record<string, Record<string, { operationId: string; tags?: string[] }>>,
    };
    tagAndSecureOperations(doc, new Set(['H_live']));
    expect(doc.paths['/v2.1/servers/{id}/action']!.post!.tags).toEqual(['compute']);
    expect(doc.paths['/v2/images/{id}']!.get!.tags).toEqual(['image']);
    expect(doc.paths['/v1/audit']!.get!.tags).toEqual(['snapledger']);
    expect(doc.paths['/healthz']!.get).toMatchObject({ tags: ['operations'], security: [] });
    expect(doc.paths['/v1/audit']!.get).not.toHaveProperty('security');
    expect((doc as { tags?: { name: string }[] }).tags?.map((t) => t.name).sort()).toEqual([
      'compute',
      'image',
      'operations',
      'snapledger',
    ]);
  });
});

describe('AppMetrics over a real views database', () => {
  let views: DataSource;
  const projections = { position: 1 };

  beforeAll(async () => {
    views = createViewsDataSource(sqliteTarget(':memory:'));
    await views.initialize();
    const row = (imageId: string, result: 'active' | 'killed', mode: string | null) => ({
      imageId,
      instanceId: 'i-1',
      projectId: 'p',
      userId: 'u',
      imageName: imageId,
      imageType: 'snapshot',
      requestId: `req-${imageId}`,
      mode,
      result,
      taskState: null,
      progress: null,
      failedStep: null,
      failureReason: null,
      steps:
        mode === null
          ? []
          : [
              { step: 'begin' as const, startedAt: 'x', finishedAt: 'y', durationMs: 4 },
              { step: 'extract' as const, startedAt: 'x', finishedAt: 'y', durationMs: 1500 },
            ],
      downtimeMs: 0,
      retries: 0,
      requestedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: null,
      durationMs: null,
    });
    await views
      .getRepository(SnapshotHistory)
      .insert([row('a', 'active', 'cold'), row('b', 'active', 'cold'), row('c', 'killed', null)]);
  });
  afterAll(async () => {
    await views?.destroy();
  });

  it('counts snapshots by result and mode and fills the step histogram from the history', async () => {
    const lag = { lastPosition: () => Promise.resolve(7), position: 5 };
    const one = new AppMetrics(new SnapshotStatsReader(views, projections), lag);
    // A second app instance in the same process has a registry of its own.
    const two = new AppMetrics(new SnapshotStatsReader(views, projections), lag);
    one.httpDuration.observe({ method: 'GET', route: '/healthz', status: '200' }, 0.002);

    const text = (await one.render()).body;
    expect(text).toContain('snapledger_snapshots{result="active",mode="cold"} 2');
    expect(text).toContain('snapledger_snapshots{result="killed",mode="unplanned"} 1');
    expect(text).toContain('snapledger_snapshot_step_duration_seconds_count{step="extract"} 2');
    expect(text).toContain(
      'snapledger_snapshot_step_duration_seconds_bucket{le="2.5",step="extract"} 2',
    );
    expect(text).toContain(
      'snapledger_snapshot_step_duration_seconds_bucket{le="1",step="extract"} 0',
    );
    expect(text).toContain('snapledger_projection_lag_events 2');
    expect(text).toContain(
      'snapledger_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1',
    );
    expect(text).toContain('process_cpu_user_seconds_total');
    expect((await two.render()).body).not.toContain('route="/healthz"');

    // A scrape does not double-count: the histogram is rebuilt from the view each time.
    const again = (await one.render()).body;
    expect(again).toContain('snapledger_snapshot_step_duration_seconds_count{step="extract"} 2');
  });
});
