/**
 * Snapshot target formats, compression and the space check, end to end: a real service, real
 * (shut-off) QEMU domains, real qemu-img, and a real small filesystem for the space check.
 */
import { mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { waitForChecksums } from '../support/chain-images';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, imagesHaveSameContent, type TestDomain } from '../support/test-domain';

interface QemuImgInfo {
  readonly format: string;
  readonly 'virtual-size': number;
  readonly 'format-specific'?: { readonly data?: { readonly 'compression-type'?: string } };
}

/** `qemu-img info` letting qemu-img find the format itself: what the file really is. */
async function probedInfo(path: string): Promise<QemuImgInfo> {
  const { stdout } = await execa('qemu-img', ['info', '--output=json', '--', path]);
  return JSON.parse(stdout) as QemuImgInfo;
}

/** Every file (not directory) below `dir`; [] when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function snapshot(service: ServiceProcess, domain: TestDomain, name: string) {
  const res = await service.api<{ image_id: string }>(
    'POST',
    `/v2.1/servers/${domain.uuid}/action`,
    {
      body: { createImage: { name } },
      headers: { 'OpenStack-API-Version': 'compute 2.45' },
    },
  );
  expect(res.status).toBe(202);
  const imageId = res.body.image_id;
  return { imageId, row: await service.waitForSnapshot(domain.uuid, imageId) };
}

function plannedOf(service: ServiceProcess, imageId: string): Record<string, unknown> {
  const planned = service
    .events()
    .find((e) => e.type === 'SnapshotPlanned' && e.stream_name.endsWith(imageId));
  expect(planned).toBeDefined();
  return JSON.parse(planned!.data) as Record<string, unknown>;
}

describe('snapshot target format and compression', () => {
  let service: ServiceProcess;
  let domain: TestDomain;

  beforeAll(async () => {
    [service, domain] = await Promise.all([
      ServiceProcess.create(),
      createTestDomain({ name: 'formats' }),
    ]);
  });

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
  });

  it('refuses compression with explicit raw output at start-up, with a clear message', async () => {
    await expect(
      service.start({ SNAPLEDGER_SNAPSHOT_FORMAT: 'raw', SNAPLEDGER_SNAPSHOT_COMPRESSION: 'zstd' }),
    ).rejects.toThrow(
      /SNAPLEDGER_SNAPSHOT_COMPRESSION=zstd needs qcow2 output, but SNAPLEDGER_SNAPSHOT_FORMAT is raw/,
    );
    const exit = await service.waitForExit();
    expect(exit.code).not.toBe(0);
  });

  it('SNAPLEDGER_SNAPSHOT_FORMAT=raw stores a raw image with the disk content', async () => {
    await service.start({ SNAPLEDGER_SNAPSHOT_FORMAT: 'raw' });
    expect((await service.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
    const { imageId, row } = await snapshot(service, domain, 'as-raw');
    expect(row).toMatchObject({ result: 'active', mode: 'offline' });

    const image = await service.api<{ disk_format: string; virtual_size: number }>(
      'GET',
      `/v2/images/${imageId}`,
    );
    expect(image.body).toMatchObject({
      disk_format: 'raw',
      virtual_size: domain.diskMiB * 1024 * 1024,
    });
    const file = join(service.dataDir, 'images', imageId);
    expect((await probedInfo(file)).format).toBe('raw');
    expect(
      await imagesHaveSameContent(
        { path: domain.diskPath, format: 'qcow2' },
        { path: file, format: 'raw' },
        { sameSize: true },
      ),
    ).toBe(true);
    expect(plannedOf(service, imageId)).toMatchObject({
      sourceFormat: 'qcow2',
      targetFormat: 'raw',
    });
    expect(plannedOf(service, imageId)).not.toHaveProperty('compression');
    await service.stop();
  });

  it('qcow2 with zstd stores a zstd-compressed qcow2 with the disk content', async () => {
    await service.start({
      SNAPLEDGER_SNAPSHOT_FORMAT: 'qcow2',
      SNAPLEDGER_SNAPSHOT_COMPRESSION: 'zstd',
    });
    const { imageId, row } = await snapshot(service, domain, 'as-zstd');
    expect(row).toMatchObject({ result: 'active', mode: 'offline' });

    const image = await service.api<{ disk_format: string }>('GET', `/v2/images/${imageId}`);
    expect(image.body.disk_format).toBe('qcow2');
    const file = join(service.dataDir, 'images', imageId);
    const info = await probedInfo(file);
    expect(info.format).toBe('qcow2');
    expect(info['format-specific']?.data?.['compression-type']).toBe('zstd');
    const check = await execa('qemu-img', ['check', '-f', 'qcow2', '--', file], { reject: false });
    expect(check.exitCode).toBe(0);
    expect(
      await imagesHaveSameContent(
        { path: domain.diskPath, format: 'qcow2' },
        { path: file, format: 'qcow2' },
        { sameSize: true },
      ),
    ).toBe(true);
    expect(plannedOf(service, imageId)).toMatchObject({
      targetFormat: 'qcow2',
      compression: 'zstd',
    });
    await service.stop();
  });
});

/** A tmpfs of `sizeMiB` mounted on a new directory, for a data directory short of space. */
async function mountSmallStore(
  sizeMiB: number,
): Promise<{ path: string; unmount(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'snapledger-small-'));
  try {
    await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', path]);
  } catch (error) {
    await rmdir(path);
    throw error;
  }
  return {
    path,
    async unmount() {
      await execa('umount', [path]);
      await rmdir(path).catch(() => rm(path, { recursive: true, force: true }));
    },
  };
}

describe('space check before converting', () => {
  let store: Awaited<ReturnType<typeof mountSmallStore>> | undefined;
  let mountPoint: string | undefined;
  let service: ServiceProcess | undefined;
  let domain: TestDomain | undefined;

  beforeAll(async () => {
    // A 32 MiB filesystem holds the whole data directory (events, views and image store).
    store = await mountSmallStore(32);
    mountPoint = store.path;
    [service, domain] = await Promise.all([
      ServiceProcess.create({ dataDir: mountPoint }),
      createTestDomain({ name: 'toobig', diskMiB: 256, dataMiB: 64 }),
    ]);
  });

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
    await store?.unmount();
  });

  it('a snapshot that cannot fit in the store fails at once with the reason, leaving nothing behind', async () => {
    await service!.start();
    expect((await service!.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
    const { imageId, row } = await snapshot(service!, domain!, 'too-big');

    expect(row.result).toBe('killed');
    expect(row.failed_step).toBe('extract');
    expect(row.failure_reason).toMatch(
      /^not enough space in the image store \/.*\/images\/\.staging: need \d+ bytes \(\d+ measured by qemu-img \+ \d+ margin\), \d+ available$/,
    );
    const need = Number(/need (\d+) bytes/.exec(row.failure_reason!)![1]);
    expect(need).toBeGreaterThan(64 * 1024 * 1024); // 64 MiB of data, measured

    // Permanent: no retry, no conversion started, no data anywhere in the store.
    const types = service!.events().map((e) => e.type);
    expect(types).not.toContain('SnapshotStepRetried');
    expect(types).not.toContain('ConversionProgressed');
    expect(types).not.toContain('ImageExtracted');
    expect(await filesUnder(join(mountPoint!, 'images'))).toEqual([]);

    const image = await service!.api<{ status: string }>('GET', `/v2/images/${imageId}`);
    expect(image.body.status).toBe('killed');
    const instance = await service!.api<{ instance: { task_state: string | null } }>(
      'GET',
      `/v1/instances/${domain!.uuid}`,
    );
    expect(instance.body.instance.task_state).toBeNull();
    expect(await domain!.state()).toBe('shut off');
  });
});

describe('space check before a backup in a chain', () => {
  let store: Awaited<ReturnType<typeof mountSmallStore>> | undefined;
  let mountPoint: string | undefined;
  let service: ServiceProcess | undefined;
  let domain: TestDomain | undefined;

  beforeAll(async () => {
    // 160 MiB: room for one image of the 60 MiB disk (with the 64 MiB margin), not for the
    // two a chain's first backup writes at once (its layer, and the whole image it hashes).
    store = await mountSmallStore(160);
    mountPoint = store.path;
    [service, domain] = await Promise.all([
      ServiceProcess.create({ dataDir: mountPoint }),
      createTestDomain({ name: 'chainroom', diskMiB: 256, dataMiB: 60 }),
    ]);
    await service.start();
    expect((await service.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
  });

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
    await store?.unmount();
  });

  it('an incremental backup that cannot fit fails before copying anything, saying why', async () => {
    const res = await service!.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain!.uuid}/action`,
      {
        body: {
          createBackup: { name: 'chain', backup_type: 'daily', rotation: 3, incremental: true },
        },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const row = await service!.waitForSnapshot(domain!.uuid, res.body.image_id);
    expect(row.result).toBe('killed');
    expect(row.failed_step).toBe('extract');
    expect(row.failure_reason).toMatch(
      /^not enough space in the image store \/.*\/images\/\.staging: need \d+ bytes .* \(a backup in a chain is made whole once to compute its checksums: twice the measured disk\)$/,
    );
    const need = Number(/need (\d+) bytes/.exec(row.failure_reason!)![1]);
    expect(need).toBeGreaterThan(2 * 60 * 1024 * 1024 + 64 * 1024 * 1024);
    const types = service!.events().map((e) => e.type);
    expect(types).not.toContain('BlocksCopied');
    expect(types).not.toContain('SnapshotStepRetried');
    expect(await filesUnder(join(mountPoint!, 'images'))).toEqual([]);
    expect(await domain!.state()).toBe('shut off');
  });

  it('a plain snapshot of the same disk, one image, still fits', async () => {
    const { row } = await snapshot(service!, domain!, 'plain');
    expect(row.result, row.failure_reason ?? '').toBe('active');
  });

  it('a chain image that cannot be made whole for lack of space answers 503, and downloads once there is room', async () => {
    const small = await createTestDomain({ name: 'chainsmall', diskMiB: 64, dataMiB: 8 });
    const filler = join(mountPoint!, 'filler');
    try {
      expect((await service!.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
      const res = await service!.api<{ image_id: string }>(
        'POST',
        `/v2.1/servers/${small.uuid}/action`,
        {
          body: {
            createBackup: { name: 'small', backup_type: 'daily', rotation: 3, incremental: true },
          },
          headers: { 'OpenStack-API-Version': 'compute 2.45' },
        },
      );
      expect(res.status).toBe(202);
      const imageId = res.body.image_id;
      const row = await service!.waitForSnapshot(small.uuid, imageId);
      expect(row.result, row.failure_reason ?? '').toBe('active');
      // Hashed (made whole once) after it is active: wait for that before the room goes.
      const hashed = await waitForChecksums(service!, imageId);

      // Fill the store's filesystem (dd stops at ENOSPC), then ask for the image.
      await execa('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M'], { reject: false });
      const full = await fetch(`${service!.baseUrl}/v2/images/${imageId}/file`, {
        headers: { 'X-Auth-Token': service!.adminToken },
      });
      expect(full.status).toBe(503);
      expect(await full.text()).toMatch(/could not be made whole for download/);

      await rm(filler, { force: true });
      const again = await fetch(`${service!.baseUrl}/v2/images/${imageId}/file`, {
        headers: { 'X-Auth-Token': service!.adminToken },
      });
      expect(again.status).toBe(200);
      expect((await again.arrayBuffer()).byteLength).toBe(hashed.size);
    } finally {
      await rm(filler, { force: true });
      await small.destroy();
    }
  });
});
