import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

interface HealthBody {
  status: string;
  info?: Record<string, { status: string }>;
  error?: Record<string, { status: string; message?: string }>;
  details?: Record<string, { status: string }>;
}

interface LogLine {
  msg?: string;
  requestId?: string;
  correlationId?: string;
  imageId?: string;
  method?: string;
  route?: string;
  path?: string;
  status?: number;
  durationMs?: number;
}

function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The value of one Prometheus sample, e.g. `name{a="b"}`; undefined when absent. */
function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('operations: logs, health probes, metrics and the OpenAPI document', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let memberToken: string;
  let imageId: string;
  let snapshotRequestId: string;

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start();
    domain = await createTestDomain({ name: 'ops', start: false });
    const known = await service.syncInstances();
    expect(known).toContain(domain.uuid);
    memberToken = await service.createToken('ops-project', 'ops-user', 'member');

    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createImage: { name: 'ops-snapshot' } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    imageId = res.body.image_id;
    snapshotRequestId = res.headers.get('x-openstack-request-id') ?? '';
    expect(snapshotRequestId).toMatch(/^req-/);
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('active');
  });

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
  });

  it('GET /healthz answers 200 without a token', async () => {
    const res = await service.api<HealthBody>('GET', '/healthz', { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 with every check up, without a token', async () => {
    const res = await service.api<HealthBody>('GET', '/readyz', { token: null });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.details?.eventStore?.status).toBe('up');
    expect(res.body.details?.libvirt?.status).toBe('up');
    expect(res.body.details?.projections).toMatchObject({ status: 'up', lag: 0 });
  });

  it('GET /metrics is for admins only', async () => {
    expect((await service.api('GET', '/metrics', { token: null })).status).toBe(401);
    expect((await service.api('GET', '/metrics', { token: memberToken })).status).toBe(403);
  });

  it('GET /metrics counts the snapshot by result and mode, with step durations, lag and HTTP latency', async () => {
    const res = await service.api<string>('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = res.body;
    expect(sample(text, 'snapledger_snapshots{result="active",mode="offline"}')).toBe(1);
    for (const step of ['begin', 'plan', 'extract', 'upload']) {
      expect(sample(text, `snapledger_snapshot_step_duration_seconds_count{step="${step}"}`)).toBe(
        1,
      );
    }
    expect(
      sample(text, 'snapledger_snapshot_step_duration_seconds_bucket{le="+Inf",step="extract"}'),
    ).toBe(1);
    expect(sample(text, 'snapledger_projection_lag_events')).toBe(0);
    // Latency by route pattern, not by URL: the instance id never becomes a label.
    expect(
      sample(
        text,
        'snapledger_http_request_duration_seconds_count{method="POST",route="/v2.1/servers/:id/action",status="202"}',
      ),
    ).toBe(1);
    expect(text).not.toContain(domain.uuid);
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('logs the snapshot request and the saga with its requestId and correlationId, never a token', () => {
    const lines = logLines(service.logs);
    const request = lines.find(
      (l) => l.msg === 'request completed' && l.path === `/v2.1/servers/${domain.uuid}/action`,
    );
    expect(request).toMatchObject({
      requestId: snapshotRequestId,
      correlationId: snapshotRequestId,
      method: 'POST',
      route: '/v2.1/servers/:id/action',
      status: 202,
    });
    expect(typeof request?.durationMs).toBe('number');
    const finished = lines.find((l) => l.msg === 'snapshot finished' && l.imageId === imageId);
    expect(finished?.correlationId).toBe(snapshotRequestId);
    expect(service.logs).not.toContain(service.adminToken);
    expect(service.logs).not.toContain(memberToken);
  });

  it('GET /openapi.json needs a token and lists the REST routes', async () => {
    expect((await service.api('GET', '/openapi.json', { token: null })).status).toBe(401);
    const res = await service.api<{
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>>;
      components: { securitySchemes: Record<string, { type: string; in: string; name: string }> };
    }>('GET', '/openapi.json', { token: memberToken });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const paths = Object.keys(res.body.paths);
    for (const path of [
      '/v2.1/servers/{id}/action',
      '/v2/images/{id}',
      '/v1/instances/{id}/snapshots',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      expect(paths).toContain(path);
    }
    expect(Object.values(res.body.components.securitySchemes)).toContainEqual({
      type: 'apiKey',
      in: 'header',
      name: 'X-Auth-Token',
      description: expect.any(String) as unknown,
    });
    expect(res.body.paths['/healthz']!.get!.security).toEqual([]);
    expect(res.body.paths['/v2.1/servers/{id}/action']!.post!.tags).toEqual(['compute']);
    expect(res.body.paths['/v2/images/{id}']!.get!.tags).toEqual(['image']);
  });

  it('GET /readyz is 503 and names libvirt when libvirt does not answer', async () => {
    const unreachable = await ServiceProcess.create();
    try {
      await unreachable.start({
        SNAPLEDGER_LIBVIRT_URI: 'qemu+unix:///system?socket=/nonexistent/snapledger/libvirt-sock',
      });
      const res = await unreachable.api<HealthBody>('GET', '/readyz', { token: null });
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('error');
      expect(res.body.error?.libvirt?.status).toBe('down');
      expect(res.body.info?.eventStore?.status).toBe('up');
      expect(JSON.stringify(res.body)).not.toContain('nonexistent');
      const live = await unreachable.api('GET', '/healthz', { token: null });
      expect(live.status).toBe(200);
    } finally {
      await unreachable.dispose();
    }
  });
});
