/**
 * Raw files and block devices as the snapshotted disk, end to end: real QEMU domains whose
 * disk is a raw file, or a loop device (`<disk type='block'>`, which is how libvirt sees an
 * LVM logical volume too), snapshotted offline, cold and live by a real service; every image
 * is compared with the disk it was taken of.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, imagesHaveSameContent, type TestDomain } from '../support/test-domain';

type DiskKind = 'raw' | 'block';
type Mode = 'offline' | 'cold' | 'live';

const CASES: readonly { disk: DiskKind; mode: Mode }[] = [
  { disk: 'raw', mode: 'offline' },
  { disk: 'raw', mode: 'cold' },
  { disk: 'raw', mode: 'live' },
  { disk: 'block', mode: 'offline' },
  { disk: 'block', mode: 'cold' },
  { disk: 'block', mode: 'live' },
];

describe('snapshots of raw-file and block-device disks', () => {
  let live: ServiceProcess;
  let cold: ServiceProcess;
  const domains: TestDomain[] = [];
  let scratch: string;

  beforeAll(async () => {
    [live, cold] = await Promise.all([ServiceProcess.create(), ServiceProcess.create()]);
    await Promise.all([live.start(), cold.start({ SNAPLEDGER_LIVE_SNAPSHOT: 'off' })]);
    scratch = await mkdtemp(join(tmpdir(), 'sl-disk-kinds-'));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([live?.dispose(), cold?.dispose()]);
    for (const domain of domains) await domain.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  for (const { disk, mode } of CASES) {
    it(`${mode} snapshot of a ${disk === 'raw' ? 'raw file' : 'block device'} disk`, async () => {
      const domain = await createTestDomain({
        name: `${disk}-${mode}`,
        disk,
        start: mode !== 'offline',
      });
      domains.push(domain);
      const service = mode === 'cold' ? cold : live;
      await service.syncInstances();
      const res = await service.api<{ image_id: string }>(
        'POST',
        `/v2.1/servers/${domain.uuid}/action`,
        {
          body: { createImage: { name: `${disk}-${mode}` } },
          headers: { 'OpenStack-API-Version': 'compute 2.45' },
        },
      );
      expect(res.status).toBe(202);
      const imageId = res.body.image_id;
      const row = await service.waitForSnapshot(domain.uuid, imageId);
      expect(row, JSON.stringify(row)).toMatchObject({ result: 'active', mode });
      expect(await domain.state()).toBe(mode === 'offline' ? 'shut off' : 'running');

      const planned = service
        .events()
        .find((e) => e.type === 'SnapshotPlanned' && e.stream_name.endsWith(imageId));
      expect(JSON.parse(planned!.data)).toMatchObject({
        diskKind: disk === 'block' ? 'block' : 'file',
        diskPath: domain.diskPath,
        sourceFormat: 'raw',
        targetFormat: 'raw',
      });

      // The image is the disk: downloaded through the API and compared with qemu-img.
      const image = await fetch(`${service.baseUrl}/v2/images/${imageId}/file`, {
        headers: { 'X-Auth-Token': service.adminToken },
      });
      expect(image.status).toBe(200);
      const downloaded = join(scratch, `${imageId}.raw`);
      await writeFile(downloaded, Buffer.from(await image.arrayBuffer()));
      expect(
        await imagesHaveSameContent(
          { path: downloaded, format: 'raw' },
          { path: domain.diskPath, format: 'raw' },
          { sameSize: true },
        ),
      ).toBe(true);
      expect(await domain.sha256OfGuestData(downloaded, 'raw')).toBe(domain.expectedDataHash);
      if (mode === 'live') expect(row.downtime_ms).toBe(0);
    }, 180_000);
  }
});
