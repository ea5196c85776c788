/**
 * Concurrency against a real `snapledger serve` and real QEMU domains:
 *   - 50 parallel createImage requests on one running instance: exactly one 202 and 49 409s
 *     in Nova's conflictingRequest shape, no 5xx, exactly one ImageReserved in the log;
 *   - parallel snapshots of 10 different (shut-off) instances: all complete `active`, through
 *     the concurrency gate (SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS, default 5) which queues the
 *     rest.
 * Prints a results table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

const PROJECT = 'concurrency';
const PARALLEL_REQUESTS = 50;
const PARALLEL_INSTANCES = 10;

interface ResultRow {
  scenario: string;
  requests: number;
  accepted: number;
  conflicts: number;
  serverErrors: number;
  imagesReserved: number;
  active: number;
  seconds: number;
}

describe('concurrent snapshots against a real service', () => {
  let service: ServiceProcess;
  let running: TestDomain;
  const shutOff: TestDomain[] = [];
  const rows: ResultRow[] = [];
  const started = Date.now();

  const reservedFor = (instanceId: string) =>
    service
      .events()
      .filter(
        (e) =>
          e.type === 'ImageReserved' &&
          (JSON.parse(e.data) as { instanceId: string }).instanceId === instanceId,
      );

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start();
    const owner = { projectId: PROJECT, userId: 'carol', via: 'nova' as const };
    running = await createTestDomain({ name: 'conc-run', start: true, owner });
    for (let i = 0; i < PARALLEL_INSTANCES; i += 1)
      shutOff.push(await createTestDomain({ name: `conc-${i}`, owner, diskMiB: 16, dataMiB: 2 }));
    const known = await service.syncInstances();
    expect(known).toEqual(expect.arrayContaining([running.uuid, ...shutOff.map((d) => d.uuid)]));
  });

  afterAll(async () => {
    await service?.dispose();
    for (const d of [running, ...shutOff]) await d?.destroy();
    console.log(
      [
        `\nConcurrency (${((Date.now() - started) / 1000).toFixed(1)} s in all)`,
        '| scenario | requests | 202 | 409 | 5xx | ImageReserved | completed active | seconds |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...rows.map(
          (r) =>
            `| ${r.scenario} | ${r.requests} | ${r.accepted} | ${r.conflicts} | ${r.serverErrors} | ${r.imagesReserved} | ${r.active} | ${r.seconds.toFixed(1)} |`,
        ),
        '',
      ].join('\n'),
    );
  });

  it('takes exactly one of 50 parallel createImage requests on one instance; 49 get 409', async () => {
    const t0 = Date.now();
    const responses = await Promise.all(
      Array.from({ length: PARALLEL_REQUESTS }, (_, i) =>
        service.api<Record<string, { message?: string; code?: number }> & { image_id?: string }>(
          'POST',
          `/v2.1/servers/${running.uuid}/action`,
          {
            body: { createImage: { name: `race-${i}` } },
            headers: { 'OpenStack-API-Version': 'compute 2.45' },
          },
        ),
      ),
    );
    const statuses = responses.map((r) => r.status);
    const accepted = responses.filter((r) => r.status === 202);
    const conflicts = responses.filter((r) => r.status === 409);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(accepted).toHaveLength(1);
    expect(conflicts).toHaveLength(PARALLEL_REQUESTS - 1);
    for (const c of conflicts) {
      expect(Object.keys(c.body)).toEqual(['conflictingRequest']);
      expect(c.body['conflictingRequest']?.code).toBe(409);
      expect(typeof c.body['conflictingRequest']?.message).toBe('string');
    }
    const imageId = accepted[0]!.body.image_id!;
    const reserved = reservedFor(running.uuid);
    expect(reserved).toHaveLength(1);
    expect((JSON.parse(reserved[0]!.data) as { imageId: string }).imageId).toBe(imageId);

    const row = await service.waitForSnapshot(running.uuid, imageId);
    expect(row.result).toBe('active');
    // Still exactly one: no loser reserved an image late.
    expect(reservedFor(running.uuid)).toHaveLength(1);
    rows.push({
      scenario: '50 parallel createImage, one running instance',
      requests: PARALLEL_REQUESTS,
      accepted: accepted.length,
      conflicts: conflicts.length,
      serverErrors: 0,
      imagesReserved: reservedFor(running.uuid).length,
      active: 1,
      seconds: (Date.now() - t0) / 1000,
    });
  });

  it('completes parallel snapshots of 10 different instances, all active', async () => {
    const t0 = Date.now();
    const responses = await Promise.all(
      shutOff.map((d, i) =>
        service.api<{ image_id: string }>('POST', `/v2.1/servers/${d.uuid}/action`, {
          body: { createImage: { name: `parallel-${i}` } },
          headers: { 'OpenStack-API-Version': 'compute 2.45' },
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(shutOff.map(() => 202));
    const settled = await Promise.all(
      shutOff.map((d, i) => service.waitForSnapshot(d.uuid, responses[i]!.body.image_id, 170_000)),
    );
    expect(settled.map((s) => s.result)).toEqual(shutOff.map(() => 'active'));
    for (const [i, d] of shutOff.entries()) {
      expect(reservedFor(d.uuid)).toHaveLength(1);
      const image = await service.api<{ status: string }>(
        'GET',
        `/v2/images/${responses[i]!.body.image_id}`,
      );
      expect(image.body.status).toBe('active');
    }
    // Ten arrived at once and the gate runs five: some waited in the queue first.
    const queued = service.events().filter((e) => e.type === 'SnapshotQueued').length;
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThanOrEqual(PARALLEL_INSTANCES - 1);
    rows.push({
      scenario: `parallel createImage on ${PARALLEL_INSTANCES} instances (gate 5, ${queued} queued)`,
      requests: PARALLEL_INSTANCES,
      accepted: responses.length,
      conflicts: 0,
      serverErrors: 0,
      imagesReserved: shutOff.reduce((n, d) => n + reservedFor(d.uuid).length, 0),
      active: settled.filter((s) => s.result === 'active').length,
      seconds: (Date.now() - t0) / 1000,
    });
  });
});
