import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/** The steps killed here are the cold path's (live-snapshot.e2e.test.ts covers the live one). */
const COLD = { SNAPLEDGER_LIVE_SNAPSHOT: 'off' };

const VIEW_TABLES = ['instance_view', 'image_view', 'snapshot_history', 'audit_log'];

/**
 * The service is killed with SIGKILL right after an event of the snapshot is stored (the
 * fault-injection point after-append:<type>), then started again without the fault. It must
 * resume from the last recorded step: the image ends active, the domain running, the task
 * state None, every step recorded exactly once, no partial file left, and the views equal a
 * rebuild from the log.
 */
describe('a snapshot survives SIGKILL at each step', () => {
  let service: ServiceProcess | undefined;
  let domain: TestDomain | undefined;

  afterEach(async () => {
    await service?.dispose();
    await domain?.destroy();
    service = undefined;
    domain = undefined;
  });

  async function startWithFault(
    point: string,
  ): Promise<{ service: ServiceProcess; domain: TestDomain }> {
    domain = await createTestDomain({ name: 'crash', start: true });
    service = await ServiceProcess.create();
    await service.start({ ...COLD, SNAPLEDGER_FAULTS: `after-append:${point}` });
    expect((await service.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
    return { service, domain };
  }

  async function expectViewsEqualRebuild(s: ServiceProcess): Promise<void> {
    await s.stop();
    const dump = () =>
      JSON.stringify(VIEW_TABLES.map((t) => s.viewRows(`SELECT * FROM ${t} ORDER BY 1`)));
    const live = dump();
    const rebuilt = await s.cli(['projections', 'rebuild']);
    expect(rebuilt.code).toBe(0);
    expect(dump()).toBe(live);
  }

  it.each(['SnapshotPlanned', 'DomainSaved', 'ImageExtracted', 'DomainRestored', 'Uploaded'])(
    'killed right after %s, it resumes and the snapshot completes with the domain running',
    async (point) => {
      const { service: s, domain: d } = await startWithFault(point);
      const res = await s.api<{ image_id: string }>('POST', `/v2.1/servers/${d.uuid}/action`, {
        body: { createImage: { name: `crash-${point}` } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      });
      expect(res.status).toBe(202);
      const imageId = res.body.image_id;

      const exit = await s.waitForExit();
      expect(exit.signal).toBe('SIGKILL');
      expect(s.events().at(-1)?.type).toBe(point);

      await s.start(COLD);
      const row = await s.waitForSnapshot(d.uuid, imageId);
      expect(row.result).toBe('active');
      expect(await d.state()).toBe('running');
      const instance = await s.api<{
        instance: { task_state: string | null; power_state: string };
      }>('GET', `/v1/instances/${d.uuid}`);
      expect(instance.body.instance).toMatchObject({ task_state: null, power_state: 'running' });
      const image = await s.api<{ status: string }>('GET', `/v2/images/${imageId}`);
      expect(image.body.status).toBe('active');

      const events = s.events();
      const count = (type: string) => events.filter((e) => e.type === type).length;
      for (const type of [
        'ImageReserved',
        'SnapshotPlanned',
        'DomainSaved',
        'ImageExtracted',
        'DomainRestored',
        'Uploaded',
      ]) {
        expect(count(type), type).toBe(1);
      }
      expect(count('TaskStateChanged')).toBe(5);

      expect(await readdir(join(s.dataDir, 'images', '.staging'))).toEqual([]);
      expect((await readdir(join(s.dataDir, 'images'))).sort()).toEqual(['.staging', imageId]);
      await expectViewsEqualRebuild(s);
    },
  );

  it('killed between taking the task state and reserving the image, it releases the task state', async () => {
    const { service: s, domain: d } = await startWithFault('TaskStateChanged');
    // The API process dies inside the request, after the compare-and-swap.
    await expect(
      s.api('POST', `/v2.1/servers/${d.uuid}/action`, { body: { createImage: { name: 'lost' } } }),
    ).rejects.toThrow();
    await s.waitForExit();
    const taken = s.events().at(-1);
    expect(taken?.type).toBe('TaskStateChanged');
    expect(JSON.parse(taken?.data ?? '{}')).toMatchObject({ to: 'image_snapshot_pending' });

    await s.start(COLD);
    const deadline = Date.now() + 60_000;
    let instance = await s.api<{ instance: { task_state: string | null } }>(
      'GET',
      `/v1/instances/${d.uuid}`,
    );
    while (instance.body.instance.task_state !== null && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
      instance = await s.api('GET', `/v1/instances/${d.uuid}`);
    }
    expect(instance.body.instance.task_state).toBeNull();
    // The last task-state change (a power-state sync at start may come after it in the log).
    const release = s
      .events()
      .filter((e) => e.type === 'TaskStateChanged')
      .at(-1);
    expect(JSON.parse(release?.data ?? '{}')).toMatchObject({
      from: 'image_snapshot_pending',
      to: null,
      reason: 'the image reservation was lost before it was recorded',
    });
    expect(s.events().filter((e) => e.type === 'ImageReserved')).toHaveLength(0);
    expect(await d.state()).toBe('running');

    // The instance can be snapshotted again.
    const again = await s.api<{ image_id: string }>('POST', `/v2.1/servers/${d.uuid}/action`, {
      body: { createImage: { name: 'after-the-crash' } },
      headers: { 'OpenStack-API-Version': 'compute 2.45' },
    });
    expect(again.status).toBe(202);
    expect((await s.waitForSnapshot(d.uuid, again.body.image_id)).result).toBe('active');
    await expectViewsEqualRebuild(s);
  });
});
