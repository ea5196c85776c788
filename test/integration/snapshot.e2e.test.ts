import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, imagesHaveSameContent, type TestDomain } from '../support/test-domain';

interface GlanceImage {
  id: string;
  status: string;
  checksum: string;
  os_hash_algo: string;
  os_hash_value: string;
  size: number;
  virtual_size: number;
  disk_format: string;
  instance_uuid: string;
  image_type: string;
  owner: string;
  user_id: string;
}

async function hashFile(path: string, algorithm: 'md5' | 'sha512'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const COLD_STEPS = ['begin', 'plan', 'save', 'extract', 'restore', 'upload'];
const OFFLINE_STEPS = ['begin', 'plan', 'extract', 'upload'];
const COLD_EVENTS = [
  'TaskStateChanged:image_snapshot_pending',
  'ImageReserved',
  'TaskStateChanged:image_snapshot',
  'SnapshotPlanned',
  'DomainSaveStarted',
  'DomainSaved',
  'TaskStateChanged:image_pending_upload',
  'ImageExtracted',
  'DomainRestored',
  'TaskStateChanged:image_uploading',
  'Uploaded',
  'TaskStateChanged:null',
];
const OFFLINE_EVENTS = COLD_EVENTS.filter(
  (e) => !['DomainSaveStarted', 'DomainSaved', 'DomainRestored'].includes(e),
);

describe('snapshots of real QEMU domains through the REST API', () => {
  let service: ServiceProcess;
  const domains: TestDomain[] = [];

  beforeAll(async () => {
    service = await ServiceProcess.create();
    // These tests are about the cold path (managedsave → convert → restore); the live path
    // has its own file (live-snapshot.e2e.test.ts).
    await service.start({ SNAPLEDGER_LIVE_SNAPSHOT: 'off' });
  });

  afterAll(async () => {
    await service?.dispose();
    for (const d of domains) await d.destroy();
  });

  async function newDomain(
    kind: 'running' | 'paused' | 'shut off',
    owner?: { projectId: string; userId: string },
  ): Promise<TestDomain> {
    const domain = await createTestDomain({
      name: kind.replace(' ', ''),
      start: kind !== 'shut off',
      paused: kind === 'paused',
      owner: owner ? { ...owner, via: 'nova' } : undefined,
    });
    domains.push(domain);
    const known = await service.syncInstances();
    expect(known).toContain(domain.uuid);
    return domain;
  }

  async function snapshot(domain: TestDomain, name: string): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createImage: { name, metadata: { purpose: 'e2e' } } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    expect(res.headers.get('openstack-api-version')).toBe('compute 2.45');
    expect(res.body.image_id).toMatch(/^[0-9a-f-]{36}$/);
    return res.body.image_id;
  }

  /** Event types of this snapshot, in log order, with task_state targets spelled out. */
  function storyOf(imageId: string): string[] {
    return (
      service
        .events()
        .filter(
          (e) =>
            e.stream_name.endsWith(imageId) ||
            (JSON.parse(e.data) as { imageId?: string }).imageId === imageId,
        )
        // DowntimeObserved lands at whichever step boundary follows libvirt's event: checked
        // through the history's downtime instead.
        .filter((e) => e.type !== 'ConversionProgressed' && e.type !== 'DowntimeObserved')
        .map((e) =>
          e.type === 'TaskStateChanged'
            ? `TaskStateChanged:${String((JSON.parse(e.data) as { to: string | null }).to)}`
            : e.type,
        )
    );
  }

  async function expectSnapshotOf(
    domain: TestDomain,
    imageId: string,
    expected: { mode: string; steps: string[]; events: string[]; state: string },
  ) {
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('active');
    expect(row.mode).toBe(expected.mode);
    expect(row.steps.map((s) => s.step)).toEqual(expected.steps);
    if (expected.mode === 'cold') {
      // From the save's recorded start to the restore, and libvirt saw the domain down within it.
      expect(row.downtime_ms).toBeGreaterThan(0);
      expect(row.downtime_intervals.map((i) => i.source).sort()).toEqual(['libvirt', 'save']);
    } else {
      expect(row.downtime_ms).toBe(0);
      expect(row.downtime_intervals).toEqual([]);
    }

    // The image is active, with Glance's fields filled from the stored file.
    const image = await service.api<GlanceImage>('GET', `/v2/images/${imageId}`);
    expect(image.status).toBe(200);
    expect(image.body.status).toBe('active');
    expect(image.body.image_type).toBe('snapshot');
    expect(image.body.instance_uuid).toBe(domain.uuid);
    const file = join(service.dataDir, 'images', imageId);
    expect(image.body.checksum).toBe(await hashFile(file, 'md5'));
    expect(image.body.os_hash_algo).toBe('sha512');
    expect(image.body.os_hash_value).toBe(await hashFile(file, 'sha512'));
    expect(image.body.disk_format).toBe('qcow2');
    expect(image.body.virtual_size).toBe(domain.diskMiB * 1024 * 1024);

    // The file passes qemu-img check and holds the source disk's content.
    const check = await execa('qemu-img', ['check', '-f', 'qcow2', file], { reject: false });
    expect(check.exitCode).toBe(0);
    expect(
      await imagesHaveSameContent(
        { path: file, format: 'qcow2' },
        { path: domain.diskPath, format: 'qcow2' },
      ),
    ).toBe(true);
    expect(await domain.sha256OfGuestData(file, 'qcow2')).toBe(domain.expectedDataHash);

    // The domain is back in its prior power state and the task state is released.
    expect(await domain.state()).toBe(expected.state);
    const instance = await service.api<{ instance: { task_state: string | null } }>(
      'GET',
      `/v1/instances/${domain.uuid}`,
    );
    expect(instance.body.instance.task_state).toBeNull();

    // The log and the audit view tell every step once, in order, under the request's correlation id.
    expect(storyOf(imageId)).toEqual(expected.events);
    const audit = service.viewRows<{
      type: string;
      correlationId: string;
      requestId: string;
      actorUserId: string;
    }>(
      'SELECT type, correlationId, requestId, actorUserId FROM audit_log WHERE imageId = ? ORDER BY position',
      imageId,
    );
    const auditStory = audit
      .map((a) => a.type)
      .filter((t) => t !== 'ConversionProgressed' && t !== 'DowntimeObserved');
    expect(auditStory).toEqual(expected.events.map((e) => e.split(':')[0]));
    expect(new Set(audit.map((a) => a.correlationId))).toEqual(new Set([row.request_id]));
    expect(new Set(audit.map((a) => a.actorUserId))).toEqual(new Set(['admin']));
  }

  it('takes a cold snapshot of a running domain and leaves it running', async () => {
    const domain = await newDomain('running');
    const imageId = await snapshot(domain, 'running-snap');
    await expectSnapshotOf(domain, imageId, {
      mode: 'cold',
      steps: COLD_STEPS,
      events: COLD_EVENTS,
      state: 'running',
    });
  });

  it('takes a cold snapshot of a paused domain and leaves it paused', async () => {
    const domain = await newDomain('paused');
    const imageId = await snapshot(domain, 'paused-snap');
    await expectSnapshotOf(domain, imageId, {
      mode: 'cold',
      steps: COLD_STEPS,
      events: COLD_EVENTS,
      state: 'paused',
    });
  });

  it('converts a shut-off domain without saving it', async () => {
    const domain = await newDomain('shut off');
    const imageId = await snapshot(domain, 'stopped-snap');
    await expectSnapshotOf(domain, imageId, {
      mode: 'offline',
      steps: OFFLINE_STEPS,
      events: OFFLINE_EVENTS,
      state: 'shut off',
    });
  });

  it('converts a suspended domain (shut off with a managed save) and keeps its managed-save image', async () => {
    const domain = await createTestDomain({ name: 'suspended', start: true });
    domains.push(domain);
    await domain.virsh('managedsave');
    const known = await service.syncInstances();
    expect(known).toContain(domain.uuid);
    const instance = await service.api<{ instance: { vm_state: string; power_state: string } }>(
      'GET',
      `/v1/instances/${domain.uuid}`,
    );
    expect(instance.body.instance).toMatchObject({
      vm_state: 'suspended',
      power_state: 'shutdown',
    });

    const imageId = await snapshot(domain, 'suspended-snap');
    await expectSnapshotOf(domain, imageId, {
      mode: 'offline',
      steps: OFFLINE_STEPS,
      events: OFFLINE_EVENTS,
      state: 'shut off',
    });
    expect(await domain.virsh('dominfo')).toMatch(/Managed save:\s+yes/);
  });

  it("answers 409 with Nova's message while a snapshot holds the task state, and 202 with Location below 2.45", async () => {
    const domain = await newDomain('shut off');
    const first = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      body: { createImage: { name: 'first' } },
    });
    expect(first.status).toBe(202);
    expect(first.body).toBeUndefined();
    const location = first.headers.get('location') ?? '';
    expect(location).toMatch(/\/v2\/images\/[0-9a-f-]{36}$/);
    const imageId = location.split('/').at(-1) as string;

    const second = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      body: { createImage: { name: 'second' } },
    });
    expect(second.status).toBe(409);
    expect(second.body).toEqual({
      conflictingRequest: {
        code: 409,
        message: expect.stringMatching(
          new RegExp(
            `^Cannot 'createImage' instance ${domain.uuid} while it is in task_state image_`,
          ),
        ),
      },
    });
    await service.waitForSnapshot(domain.uuid, imageId);
  });

  it("rejects bad input with Nova's error shape and appends nothing", async () => {
    const domain = await newDomain('shut off');
    const before = service.events().length;
    const tooLong = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      body: { createImage: { name: 'x'.repeat(256) } },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toEqual({
      badRequest: {
        code: 400,
        message: expect.stringContaining('Invalid input for field/attribute name'),
      },
    });
    const unknown = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      body: { createImage: { name: 'ok', colour: 'red' } },
    });
    expect(unknown.status).toBe(400);
    const malformed = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      rawBody: '{"createImage": ',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({
      badRequest: { code: 400, message: 'Malformed request body' },
    });
    const tooMany = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
    const quota = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      body: { createImage: { name: 'ok', metadata: tooMany } },
    });
    expect(quota.status).toBe(403);
    expect(quota.body).toEqual({
      forbidden: { code: 403, message: 'Image metadata limit exceeded' },
    });
    const noSuchAction = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      body: { reboot: { type: 'HARD' } },
    });
    expect(noSuchAction.status).toBe(400);
    const badVersion = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      body: { createImage: { name: 'ok' } },
      headers: { 'OpenStack-API-Version': 'compute 2.999' },
    });
    expect(badVersion.status).toBe(406);
    expect(service.events().length).toBe(before);
  });

  it('shows a progress bar and the finished image through the CLI', async () => {
    const domain = await newDomain('running');
    const result = await service.cli(['snapshot', domain.name, '--name', 'from-cli', '--wait'], {
      SNAPLEDGER_PROGRESS: '1',
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/converting \[.*\] 100% \| active/);
    expect(result.stderr).toMatch(/is active \(mode cold, downtime \d+ ms\)/);
    const image = JSON.parse(result.stdout) as GlanceImage;
    expect(image.status).toBe('active');
    expect(image.instance_uuid).toBe(domain.uuid);
    expect(await domain.state()).toBe('running');
  });

  it("authenticates every route and hides other projects' instances and images as 404", async () => {
    const domain = await newDomain('shut off', { projectId: 'project-a', userId: 'alice' });
    const noToken = await service.api('GET', `/v1/instances/${domain.uuid}`, { token: null });
    expect(noToken.status).toBe(401);
    const badToken = await service.api('GET', `/v2/images/00000000-0000-4000-8000-000000000000`, {
      token: 'nope',
    });
    expect(badToken.status).toBe(401);

    const bob = await service.createToken('project-b', 'bob', 'member');
    const alice = await service.createToken('project-a', 'alice', 'member');

    const reader = await service.createToken('project-a', 'rita', 'reader');
    const readerView = await service.api<{
      instance: { host: string | null; disk_path: string | null };
    }>('GET', `/v1/instances/${domain.uuid}`, { token: reader });
    expect(readerView.status).toBe(200);
    // The host and the disk path are for admins only.
    expect(readerView.body.instance).toMatchObject({ host: null, disk_path: null });
    const adminView = await service.api<{
      instance: { host: string | null; disk_path: string | null };
    }>('GET', `/v1/instances/${domain.uuid}`);
    expect(adminView.body.instance.host).toEqual(expect.any(String));
    expect(adminView.body.instance.disk_path).toBe(domain.diskPath);
    const readOnly = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      token: reader,
      body: { createImage: { name: 'not-allowed' } },
    });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body).toEqual({
      forbidden: {
        code: 403,
        message: "Policy doesn't allow os_compute_api:servers:create_image to be performed.",
      },
    });

    const hidden = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
      token: bob,
      body: { createImage: { name: 'steal' } },
    });
    expect(hidden.status).toBe(404);
    expect(hidden.body).toEqual({
      itemNotFound: { code: 404, message: `Instance ${domain.uuid} could not be found.` },
    });
    expect(
      (await service.api('GET', `/v1/instances/${domain.uuid}/snapshots`, { token: bob })).status,
    ).toBe(404);
    expect((await service.api('POST', '/v1/admin/instances/sync', { token: alice })).status).toBe(
      403,
    );

    const own = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        token: alice,
        body: { createImage: { name: 'mine' } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(own.status).toBe(202);
    const imageId = own.body.image_id;
    const asAlice = await service.api<GlanceImage>('GET', `/v2/images/${imageId}`, {
      token: alice,
    });
    expect(asAlice.status).toBe(200);
    expect(asAlice.body.owner).toBe('project-a');
    expect(asAlice.body.user_id).toBe('alice');
    const asBob = await service.api('GET', `/v2/images/${imageId}`, { token: bob });
    expect(asBob.status).toBe(404);
    expect(asBob.body).toEqual({
      code: '404 Not Found',
      title: 'Not Found',
      message: `No image found with ID ${imageId}`,
    });
    await service.waitForSnapshot(domain.uuid, imageId);

    // An admin of another project snapshots alice's server: as in Nova, the image is the
    // admin's, shared, and names the instance's project, which can still see it.
    const byAdmin = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createImage: { name: 'by-admin' } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(byAdmin.status).toBe(202);
    const adminImage = byAdmin.body.image_id;
    const seenByAlice = await service.api<
      GlanceImage & { visibility: string; instance_owner: string }
    >('GET', `/v2/images/${adminImage}`, { token: alice });
    expect(seenByAlice.status).toBe(200);
    expect(seenByAlice.body).toMatchObject({
      owner: 'default',
      visibility: 'shared',
      instance_owner: 'project-a',
    });
    expect((await service.api('GET', `/v2/images/${adminImage}`, { token: bob })).status).toBe(404);
    await service.waitForSnapshot(domain.uuid, adminImage);
  });

  it('rebuilding the views from the log gives identical views', async () => {
    const tables = ['instance_view', 'image_view', 'snapshot_history', 'audit_log'];
    const dump = () => tables.map((t) => service.viewRows(`SELECT * FROM ${t} ORDER BY 1`));
    const refused = await service.cli(['projections', 'rebuild']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/snapledger serve \(pid \d+\) is using this data directory/);
    await service.stop();
    const before = dump();
    expect(before[1].length).toBeGreaterThanOrEqual(5);
    const rebuilt = await service.cli(['projections', 'rebuild']);
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ events: service.events().length });
    expect(JSON.stringify(dump())).toBe(JSON.stringify(before));
  });
});
