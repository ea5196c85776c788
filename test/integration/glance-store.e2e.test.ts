/**
 * SNAPLEDGER_IMAGE_STORE=glance against a real Glance (Debian's glance-api, started by the
 * test on loopback with its own SQLite database and file store): real QEMU domains, real
 * qemu-img, the image created in Glance with Nova's properties, its data streamed there,
 * checksums agreeing, downloads and deletes going to Glance, kill points between the create
 * and the end of the upload, and a Glance that refuses or is gone.
 */
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGlance, type GlanceServer } from '../support/glance-server';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, imagesHaveSameContent, type TestDomain } from '../support/test-domain';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('Glance as the image store', () => {
  let glance: GlanceServer;
  let service: ServiceProcess;
  let domain: TestDomain;
  let scratch: string;
  let env: Record<string, string>;
  /** Active images left in Glance by the tests above the last one. */
  const keptInGlance: string[] = [];

  beforeAll(async () => {
    [glance, service, domain] = await Promise.all([
      startGlance(),
      ServiceProcess.create(),
      createTestDomain({ name: 'glance', start: true }),
    ]);
    scratch = await mkdtemp(join(tmpdir(), 'sl-glance-test-'));
    env = {
      SNAPLEDGER_IMAGE_STORE: 'glance',
      SNAPLEDGER_GLANCE_URL: glance.url,
      SNAPLEDGER_STEP_BACKOFF_MS: '100',
    };
    await service.start(env);
  }, 180_000);

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
    await glance?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function createImage(name: string, metadata?: Record<string, string>): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createImage: { name, ...(metadata ? { metadata } : {}) } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    return res.body.image_id;
  }

  async function downloadVia(path: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${service.baseUrl}${path}`, {
      headers: { 'X-Auth-Token': service.adminToken, ...headers },
    });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  }

  it("creates the image in Glance with Nova's properties, streams the data and agrees on its checksums", async () => {
    const imageId = await createImage('into-glance', { purpose: 'glance-test' });
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('active');
    expect(await domain.state()).toBe('running');

    const ours = await service.api<Record<string, unknown>>('GET', `/v2/images/${imageId}`);
    expect(ours.status).toBe(200);
    const theirs = await glance.image(imageId);
    expect(theirs).toMatchObject({
      id: imageId,
      name: 'into-glance',
      status: 'active',
      owner: ours.body['owner'],
      disk_format: 'qcow2',
      container_format: 'bare',
      image_type: 'snapshot',
      instance_uuid: domain.uuid,
      purpose: 'glance-test',
      checksum: ours.body['checksum'],
      os_hash_algo: 'sha512',
      os_hash_value: ours.body['os_hash_value'],
      size: ours.body['size'],
    });
    expect(theirs!['user_id']).toBe(ours.body['user_id']);

    // What Glance holds is the disk at snapshot time (the domain has written nothing since).
    const fromGlance = join(scratch, `${imageId}.qcow2`);
    await writeFile(fromGlance, await glance.download(imageId));
    expect(
      await imagesHaveSameContent(
        { path: fromGlance, format: 'qcow2' },
        { path: domain.diskPath, format: 'qcow2' },
      ),
    ).toBe(true);

    // snapledger's own download is Glance's data, with the range and MD5 right.
    const whole = await downloadVia(`/v2/images/${imageId}/file`);
    expect(whole.res.status).toBe(200);
    expect(whole.res.headers.get('content-md5')).toBe(ours.body['checksum']);
    expect(whole.body.equals(await glance.download(imageId))).toBe(true);
    const part = await downloadVia(`/v2/images/${imageId}/file`, { Range: 'bytes=100-199' });
    expect(part.res.status).toBe(206);
    expect(part.body.equals(whole.body.subarray(100, 200))).toBe(true);

    // No local copy: nothing is left in the image directory, staging included.
    expect(await filesUnder(join(service.dataDir, 'images'))).toEqual([]);

    // The upload reported its progress, and the history says where the image went.
    const progress = service
      .events()
      .filter((e) => e.type === 'UploadProgressed' && e.stream_name.endsWith(imageId))
      .map((e) => JSON.parse(e.data) as { bytesSent: number; totalBytes: number });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.totalBytes === ours.body['size'])).toBe(true);
    const uploaded = service
      .events()
      .find((e) => e.type === 'Uploaded' && e.stream_name.endsWith(imageId));
    expect(JSON.parse(uploaded!.data)).toMatchObject({ store: 'glance' });

    // Deleting the image deletes it in Glance, and its file in Glance's store.
    const deleted = await service.api('DELETE', `/v2/images/${imageId}`);
    expect(deleted.status).toBe(204);
    await expect.poll(() => glance.image(imageId), { timeout: 30_000 }).toBeNull();
    expect(await filesUnder(glance.storeDir)).not.toContain(join(glance.storeDir, imageId));
  }, 180_000);

  for (const point of ['glance-created', 'glance-uploading', 'glance-uploaded'] as const) {
    it(`a service killed at ${point} finishes the upload when it restarts, with one Glance image`, async () => {
      await service.stop();
      await service.start({ ...env, SNAPLEDGER_FAULTS: `kill-at:${point}` });
      const imageId = await createImage(`killed-at-${point}`);
      const exit = await service.waitForExit();
      expect(exit.signal).toBe('SIGKILL');
      // The kill came after the create: Glance has the record, with all the data only after
      // the upload (an upload cut off mid-stream is put back to queued by Glance).
      const before = await glance.image(imageId);
      expect(before?.['status']).toBe(point === 'glance-uploaded' ? 'active' : 'queued');

      await service.start(env);
      const row = await service.waitForSnapshot(domain.uuid, imageId);
      expect(row.result).toBe('active');
      const ours = await service.api<Record<string, unknown>>('GET', `/v2/images/${imageId}`);
      const theirs = await glance.image(imageId);
      expect(theirs).toMatchObject({
        status: 'active',
        checksum: ours.body['checksum'],
        os_hash_value: ours.body['os_hash_value'],
      });
      const inGlance = await fetch(`${glance.url}/v2/images?name=killed-at-${point}`);
      const listed = (await inGlance.json()) as { images: unknown[] };
      expect(listed.images).toHaveLength(1);
      expect(await filesUnder(join(service.dataDir, 'images'))).toEqual([]);
      expect(await domain.state()).toBe('running');
      keptInGlance.push(imageId);
    }, 180_000);
  }

  it('a staged file that changed while the service was down no longer matches Glance: the snapshot fails and the Glance image is deleted', async () => {
    await service.stop();
    await service.start({ ...env, SNAPLEDGER_FAULTS: 'kill-at:glance-uploaded' });
    const imageId = await createImage('changed-behind-its-back');
    expect((await service.waitForExit()).signal).toBe('SIGKILL');
    expect((await glance.image(imageId))?.['status']).toBe('active');
    // The bytes Glance holds are the ones uploaded; the staged copy now differs from them
    // (a disk error, or a hand that should not have touched it).
    const staged = (await filesUnder(join(service.dataDir, 'images'))).find((f) =>
      f.includes(imageId),
    );
    expect(staged, 'the staged file is still there after the kill').toBeDefined();
    const handle = await open(staged!, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 4096);
      byte[0] = byte[0]! ^ 0xff;
      await handle.write(byte, 0, 1, 4096);
    } finally {
      await handle.close();
    }

    await service.start(env);
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('killed');
    expect(row.failed_step).toBe('upload');
    expect(row.failure_reason).toMatch(
      /Glance stored other data than was uploaded \(Glance's ≠ ours: checksum [0-9a-f]{32} ≠ [0-9a-f]{32}; os_hash_value \(sha512\) .*\); the Glance image was deleted/,
    );
    expect(await glance.image(imageId)).toBeNull();
    // snapledger's record stays, killed, as for any failed snapshot (Glance's `killed`).
    const mine = await service.api<{ status: string; size: number | null }>(
      'GET',
      `/v2/images/${imageId}`,
    );
    expect(mine.body).toMatchObject({ status: 'killed', size: null });
    expect(await filesUnder(join(service.dataDir, 'images'))).toEqual([]);
    expect(await domain.state()).toBe('running');
  }, 180_000);

  it("a property Glance refuses fails the snapshot with Glance's reason, and leaves nothing behind", async () => {
    // `locations` is one of Glance's own attributes, a list: it refuses a string there (400).
    const imageId = await createImage('refused', { locations: 'x' });
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('killed');
    expect(row.failed_step).toBe('upload');
    expect(row.failure_reason).toMatch(
      /Glance answered 400 to POST \/v2\/images: .*'x' is not of type 'array'/,
    );
    expect(await glance.image(imageId)).toBeNull();
    expect(await filesUnder(join(service.dataDir, 'images'))).toEqual([]);
    expect(await domain.state()).toBe('running');
  }, 180_000);

  it('with Glance gone, the snapshot fails at upload after its retries, and the domain runs on', async () => {
    await glance.stop();
    const imageId = await createImage('glance-gone');
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('killed');
    expect(row.failed_step).toBe('upload');
    expect(row.failure_reason).toMatch(/Glance at http:\/\/127\.0\.0\.1:\d+ could not be reached/);
    // An image stored before answers 503 with the reason, not a 500.
    expect(keptInGlance.length).toBeGreaterThan(0);
    const download = await downloadVia(`/v2/images/${keptInGlance[0]}/file`);
    expect(download.res.status).toBe(503);
    expect(download.body.toString()).toMatch(/The image data cannot be read right now: Glance at/);
    const retried = service
      .events()
      .filter((e) => e.type === 'SnapshotStepRetried' && e.stream_name.endsWith(imageId));
    expect(retried.length).toBeGreaterThan(0);
    expect(await filesUnder(join(service.dataDir, 'images'))).toEqual([]);
    expect(await domain.state()).toBe('running');
  }, 180_000);
});
