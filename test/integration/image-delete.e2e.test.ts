import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess, type SnapshotRow } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/**
 * DELETE /v2/images/{id} (Glance): of a finished image, of another project's, of a shared
 * one, and of an image whose snapshot is still converting, which must stop cleanly.
 */
describe('deleting images', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let alice: string; // member of project-a, which owns the domain
  let rita: string; // reader of project-a
  let bob: string; // member of project-b

  const tokenFor = (project: string, user: string, role: string) =>
    service.createToken(project, user, role);

  async function snapshot(token: string, name: string): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        token,
        body: { createImage: { name } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    return res.body.image_id;
  }

  const storedFile = (imageId: string) => join(service.dataDir, 'images', imageId);
  const stagingEntries = () => {
    const dir = join(service.dataDir, 'images', '.staging');
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  beforeAll(async () => {
    service = await ServiceProcess.create();
    // Cold: a delete mid-snapshot must find a managed-saved domain to restore.
    await service.start({ SNAPLEDGER_LIVE_SNAPSHOT: 'off' });
    domain = await createTestDomain({
      name: 'delete',
      start: true,
      owner: { projectId: 'project-a', userId: 'alice', via: 'nova' },
    });
    const sync = await service.api('POST', '/v1/admin/instances/sync');
    expect(sync.status).toBe(200);
    alice = await tokenFor('project-a', 'alice', 'member');
    rita = await tokenFor('project-a', 'rita', 'reader');
    bob = await tokenFor('project-b', 'bob', 'member');
  });

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
  });

  it('deletes a finished image: 204, then 404, its data removed, only by its owner project', async () => {
    const imageId = await snapshot(alice, 'to-delete');
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('active');
    expect(existsSync(storedFile(imageId))).toBe(true);

    const byBob = await service.api('DELETE', `/v2/images/${imageId}`, { token: bob });
    expect(byBob.status).toBe(404);
    expect(byBob.body).toMatchObject({ code: '404 Not Found' });
    const byReader = await service.api('DELETE', `/v2/images/${imageId}`, { token: rita });
    expect(byReader.status).toBe(403);

    const deleted = await service.api('DELETE', `/v2/images/${imageId}`, { token: alice });
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();
    expect((await service.api('GET', `/v2/images/${imageId}`, { token: alice })).status).toBe(404);
    expect((await service.api('DELETE', `/v2/images/${imageId}`, { token: alice })).status).toBe(
      404,
    );

    // The saga removes the data once it has seen ImageDeleted.
    const deadline = Date.now() + 10_000;
    while (existsSync(storedFile(imageId)) && Date.now() < deadline) await delay(100);
    expect(existsSync(storedFile(imageId))).toBe(false);

    const deletions = service
      .events()
      .filter((e) => e.type === 'ImageDeleted' && e.stream_name === `image-${imageId}`);
    expect(deletions).toHaveLength(1);
    expect(JSON.parse(deletions[0].data)).toEqual({ imageId, reason: 'user' });
    expect(JSON.parse(deletions[0].metadata)).toMatchObject({
      actor: { userId: 'alice', projectId: 'project-a' },
    });
    // A finished snapshot's history keeps its result; deleting the image later changes nothing there.
    const history = await service.api<{ snapshots: SnapshotRow[] }>(
      'GET',
      `/v1/instances/${domain.uuid}/snapshots`,
      { token: alice },
    );
    expect(history.body.snapshots.find((s) => s.image_id === imageId)?.result).toBe('active');
  });

  it("refuses the instance's project the delete of an admin's shared snapshot (403), and lets the admin delete it", async () => {
    const imageId = await snapshot(service.adminToken, 'admin-shared');
    await service.waitForSnapshot(domain.uuid, imageId);
    const shown = await service.api<{ visibility: string }>('GET', `/v2/images/${imageId}`, {
      token: alice,
    });
    expect(shown.status).toBe(200);
    expect(shown.body.visibility).toBe('shared');

    const byAlice = await service.api('DELETE', `/v2/images/${imageId}`, { token: alice });
    expect(byAlice.status).toBe(403);
    expect((await service.api('DELETE', `/v2/images/${imageId}`)).status).toBe(204);
    expect((await service.api('GET', `/v2/images/${imageId}`, { token: alice })).status).toBe(404);
  });

  it('stops a snapshot whose image is deleted mid-conversion: domain running again, task_state None, no file left, history says why', async () => {
    // Slow the conversion down (qemu-img convert -r) so that the delete lands while it runs.
    await service.stop();
    await service.start({
      SNAPLEDGER_CONVERT_RATE_LIMIT: String(1024 * 1024),
      SNAPLEDGER_LIVE_SNAPSHOT: 'off',
    });

    const imageId = await snapshot(alice, 'deleted-mid-way');
    let converting: SnapshotRow | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const res = await service.api<{ snapshots: SnapshotRow[] }>(
        'GET',
        `/v1/instances/${domain.uuid}/snapshots`,
        { token: alice },
      );
      const row = res.body.snapshots.find((s) => s.image_id === imageId);
      // image_pending_upload with no extract step recorded yet: qemu-img convert is running.
      if (
        row?.task_state === 'image_pending_upload' &&
        !row.steps.some((s) => s.step === 'extract')
      ) {
        converting = row;
        break;
      }
      await delay(100);
    }
    expect(converting).toBeDefined();
    expect(await domain.state()).toBe('shut off'); // managed-saved for the cold snapshot

    const deleted = await service.api('DELETE', `/v2/images/${imageId}`, { token: alice });
    expect(deleted.status).toBe(204);
    expect((await service.api('GET', `/v2/images/${imageId}`, { token: alice })).status).toBe(404);

    const row = await service.waitForSnapshot(domain.uuid, imageId, 60_000);
    expect(row.result).toBe('deleted');
    expect(row.failure_reason).toContain('deleted by user alice');
    expect(row.failure_reason).toContain('image_pending_upload');

    expect(await domain.state()).toBe('running');
    expect(await domain.virsh('dominfo')).toMatch(/Managed save:\s+no/);
    const instance = await service.api<{
      instance: { task_state: string | null; vm_state: string };
    }>('GET', `/v1/instances/${domain.uuid}`, { token: alice });
    expect(instance.body.instance).toMatchObject({ task_state: null, vm_state: 'active' });
    expect(existsSync(storedFile(imageId))).toBe(false);
    expect(stagingEntries().filter((f) => f.startsWith(imageId))).toEqual([]);

    const story = service
      .events()
      .filter(
        (e) =>
          e.stream_name.endsWith(imageId) ||
          (JSON.parse(e.data) as { imageId?: string }).imageId === imageId,
      )
      .map((e) => e.type)
      // DowntimeObserved follows libvirt's event at whichever step boundary comes next.
      .filter((t) => t !== 'ConversionProgressed' && t !== 'DowntimeObserved');
    expect(story).not.toContain('ImageExtracted');
    expect(story).not.toContain('Uploaded');
    expect(story).not.toContain('SnapshotFailed');
    const afterDelete = story.slice(story.indexOf('ImageDeleted'));
    expect(afterDelete).toEqual(['ImageDeleted', 'DomainRestored', 'TaskStateChanged']);
  });
});
