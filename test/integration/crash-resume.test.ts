import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/**
 * The service is killed with SIGKILL right after DomainSaved is stored (the fault-injection
 * point after-append:DomainSaved). The domain is then managed-saved and the snapshot half
 * done. A restarted service must resume from that step: convert, restore the domain to
 * running, store the image, and release the task state, each step recorded exactly once.
 */
describe('a snapshot survives SIGKILL after DomainSaved', () => {
  let service: ServiceProcess | undefined;
  let domain: TestDomain | undefined;

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
  });

  it('resumes after a restart and leaves the domain running', async () => {
    domain = await createTestDomain({ name: 'crash', start: true });
    service = await ServiceProcess.create();
    await service.start({ SNAPLEDGER_FAULTS: 'after-append:DomainSaved' });
    const sync = await service.api('POST', '/v1/admin/instances/sync');
    expect(sync.status).toBe(200);

    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createImage: { name: 'crash-snap' } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    const imageId = res.body.image_id;

    const exit = await service.waitForExit();
    expect(exit.signal).toBe('SIGKILL');
    const typesAtCrash = service.events().map((e) => e.type);
    expect(typesAtCrash.at(-1)).toBe('DomainSaved');
    expect(await domain.state()).toBe('shut off');

    await service.start();
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('active');
    expect(await domain.state()).toBe('running');

    const instance = await service.api<{
      instance: { task_state: string | null; power_state: string };
    }>('GET', `/v1/instances/${domain.uuid}`);
    expect(instance.body.instance.task_state).toBeNull();
    expect(instance.body.instance.power_state).toBe('running');

    const events = service
      .events()
      .filter((e) => e.type !== 'ConversionProgressed' && e.type !== 'InstanceRegistered');
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
    const image = await service.api<{ status: string }>('GET', `/v2/images/${imageId}`);
    expect(image.body.status).toBe('active');

    // Nothing partial is left, and the views equal a rebuild from the log.
    const staging = await readdir(join(service.dataDir, 'images', '.staging'));
    expect(staging).toEqual([]);
    expect((await readdir(join(service.dataDir, 'images'))).sort()).toEqual(['.staging', imageId]);
    await service.stop();
    const tables = ['instance_view', 'image_view', 'snapshot_history', 'audit_log'];
    const dump = () =>
      JSON.stringify(tables.map((t) => service?.viewRows(`SELECT * FROM ${t} ORDER BY 1`)));
    const live = dump();
    const rebuilt = await service.cli(['projections', 'rebuild']);
    expect(rebuilt.code).toBe(0);
    expect(dump()).toBe(live);
  });
});
