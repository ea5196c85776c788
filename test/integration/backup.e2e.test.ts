import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/**
 * Nova's createBackup against a real service and a real shut-off QEMU domain (offline path):
 * validation, the image_backup task state, the Location/image_id response, and rotation
 * (Tempest's case: rotation 2, three backups, the oldest is deleted; rotation 0 deletes all).
 */
describe('createBackup with rotation through the compute API', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  const MV_245 = { 'OpenStack-API-Version': 'compute 2.45' };

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start();
    domain = await createTestDomain({ name: 'backup', diskMiB: 16, dataMiB: 2 });
    const known = await service.syncInstances();
    expect(known).toContain(domain.uuid);
  });

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
  });

  const action = (body: unknown, headers: Record<string, string> = {}) =>
    service.api<Record<string, unknown> | undefined>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      { body, headers },
    );
  const backupBody = (name: string, backupType: string, rotation: number | string) => ({
    createBackup: { name, backup_type: backupType, rotation, metadata: { purpose: 'e2e' } },
  });
  const storedFile = (imageId: string) => join(service.dataDir, 'images', imageId);

  async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await delay(100);
    }
  }

  /** One backup of rotation 2 of type daily at 2.45, waited for until active and released. */
  async function dailyBackup(name: string): Promise<string> {
    const res = await action(backupBody(name, 'daily', 2), MV_245);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBeNull();
    const imageId = (res.body as { image_id: string }).image_id;
    expect(imageId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await service.waitForSnapshot(domain.uuid, imageId)).result).toBe('active');
    return imageId;
  }

  const eventsOf = (type: string) =>
    service
      .events()
      .filter((e) => e.type === type)
      .map((e) => JSON.parse(e.data) as Record<string, unknown>);

  it("rejects bad bodies with Nova's 400 and appends nothing", async () => {
    const before = service.events().length;
    const cases: [unknown, RegExp][] = [
      [backupBody('b', 'daily', -1), /rotation\. Value: -1\. -1 is less than the minimum of 0$/],
      [backupBody('b', 'daily', '-1'), /rotation\. Value: -1\. '-1' does not match/],
      [backupBody('b', 'daily', ''), /rotation\. Value: \. '' is too short$/],
      [backupBody('b', 'daily', 1.5), /is not of type 'integer', 'string'$/],
      [{ createBackup: { name: 'b', rotation: 1 } }, /'backup_type' is a required property$/],
      [{ createBackup: { name: 'b', backup_type: 'daily' } }, /'rotation' is a required property$/],
      [backupBody(' b', 'daily', 1), /^An invalid 'name' value was provided/],
      [
        { createBackup: { name: 'b', backup_type: 'daily', rotation: 1, extra: 1 } },
        /\('extra' was unexpected\)$/,
      ],
    ];
    for (const [body, message] of cases) {
      const res = await action(body);
      expect(res.status).toBe(400);
      const error = (res.body as { badRequest: { message: string; code: number } }).badRequest;
      expect(error.code).toBe(400);
      expect(error.message).toMatch(message);
    }
    expect(service.events().length).toBe(before);
  });

  it("keeps the newest two of three daily backups (Tempest's rotation case)", async () => {
    // Below 2.45 with rotation > 0: an empty 202 with a Location header.
    const first = await action(backupBody('daily-1', 'daily', 2));
    expect(first.status).toBe(202);
    expect(first.body).toBeUndefined();
    const location = first.headers.get('location') ?? '';
    expect(location).toMatch(/\/v2\/images\/[0-9a-f-]{36}$/);
    const oldest = location.split('/').at(-1) as string;

    // While it runs, a second request loses the task_state compare-and-swap: 409.
    const busy = await action(backupBody('daily-x', 'daily', 2));
    expect(busy.status).toBe(409);
    expect(
      (busy.body as { conflictingRequest: { message: string } }).conflictingRequest.message,
    ).toMatch(
      new RegExp(`^Cannot 'createBackup' instance ${domain.uuid} while it is in task_state image_`),
    );
    expect((await service.waitForSnapshot(domain.uuid, oldest)).result).toBe('active');
    const second = await dailyBackup('daily-2');
    expect(existsSync(storedFile(oldest))).toBe(true); // two backups: nothing rotated yet
    const newest = await dailyBackup('daily-3');

    // The third backup rotates out the first.
    await until('the oldest backup to be rotated out', async () => {
      return (await service.api('GET', `/v2/images/${oldest}`)).status === 404;
    });
    const list = await service.api<{
      images: { id: string; image_type: string; backup_type: string }[];
    }>('GET', `/v2/images?image_type=backup&backup_type=daily&instance_uuid=${domain.uuid}`);
    expect(list.status).toBe(200);
    expect(list.body.images.map((i) => i.id).sort()).toEqual([second, newest].sort());
    for (const image of list.body.images) {
      expect(image.image_type).toBe('backup');
      expect(image.backup_type).toBe('daily');
    }
    await until('the rotated backup data to be removed', () => !existsSync(storedFile(oldest)));
    expect(existsSync(storedFile(second))).toBe(true);
    expect(existsSync(storedFile(newest))).toBe(true);

    // The log says it was rotation, caused by the newest backup's request.
    const deleted = eventsOf('ImageDeleted');
    expect(deleted).toEqual([{ imageId: oldest, reason: 'rotation' }]);
    const rows = service.events().filter((e) => e.type === 'ImageDeleted');
    const reserved = service
      .events()
      .find((e) => e.type === 'ImageReserved' && e.stream_name.endsWith(newest));
    expect(JSON.parse(rows[0]?.metadata ?? '{}').correlationId).toBe(
      JSON.parse(reserved?.metadata ?? '{}').correlationId,
    );
    expect(JSON.parse(reserved?.data ?? '{}')).toMatchObject({
      imageType: 'backup',
      backupType: 'daily',
      rotation: 2,
      properties: { image_type: 'backup', backup_type: 'daily', instance_uuid: domain.uuid },
    });

    // Each backup took image_backup at the API and image_backup → image_snapshot in the saga.
    const tasks = eventsOf('TaskStateChanged');
    for (const imageId of [oldest, second, newest]) {
      expect(tasks).toContainEqual(
        expect.objectContaining({ imageId, from: null, to: 'image_backup' }),
      );
      expect(tasks).toContainEqual(
        expect.objectContaining({ imageId, from: 'image_backup', to: 'image_snapshot' }),
      );
    }
    const audit = await service.api<{ action: string }[] | { entries?: unknown[] }>(
      'GET',
      `/v2.1/servers/${domain.uuid}/os-instance-actions`,
    );
    expect(JSON.stringify(audit.body)).toContain('"createBackup"');
  });

  it('with rotation 0 deletes every backup of that type, the new one included, and gives no Location', async () => {
    const res = await action(backupBody('weekly-0', 'weekly', '0'));
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBeNull();
    // No Location and no body: the image is the one the newest image_backup was taken for.
    const taken = eventsOf('TaskStateChanged').filter((t) => t['to'] === 'image_backup');
    const imageId = taken.at(-1)?.['imageId'] as string;
    expect(taken).toHaveLength(4);
    expect((await service.waitForSnapshot(domain.uuid, imageId)).result).toBe('active');
    await until('the rotation-0 backup to be deleted', async () => {
      return (await service.api('GET', `/v2/images/${imageId}`)).status === 404;
    });
    expect(eventsOf('ImageDeleted')).toContainEqual({ imageId, reason: 'rotation' });
    await until('its data to be removed', () => !existsSync(storedFile(imageId)));
    // The daily backups are another type: untouched.
    const daily = await service.api<{ images: unknown[] }>(
      'GET',
      `/v2/images?image_type=backup&backup_type=daily&instance_uuid=${domain.uuid}`,
    );
    expect(daily.body.images).toHaveLength(2);
  });
});
