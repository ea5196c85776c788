import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import type { ServiceProcess } from './service-process';
import { imagesHaveSameContent } from './test-domain';

/**
 * Downloads an image whole, as a user would, and checks what a chain image must be: its
 * length and checksums as the image says, no backing file, and the same guest content and
 * size as `moment` (a copy of the disk taken when the image was). The download is written
 * into `scratch` for the comparison and removed after.
 */
export async function expectWholeDownload(
  service: ServiceProcess,
  imageId: string,
  moment: string,
  scratch: string,
): Promise<void> {
  const res = await fetch(`${service.baseUrl}/v2/images/${imageId}/file`, {
    headers: { 'X-Auth-Token': service.adminToken },
  });
  expect(res.status).toBe(200);
  const data = Buffer.from(await res.arrayBuffer());
  expect(Number(res.headers.get('content-length'))).toBe(data.length);
  const meta = await service.api<{ checksum: string; size: number; os_hash_value: string }>(
    'GET',
    `/v2/images/${imageId}`,
  );
  expect(meta.body.size).toBe(data.length);
  expect(createHash('md5').update(data).digest('hex')).toBe(meta.body.checksum);
  expect(createHash('sha512').update(data).digest('hex')).toBe(meta.body.os_hash_value);
  const file = join(scratch, `${imageId}.download.qcow2`);
  await writeFile(file, data);
  try {
    const info = JSON.parse(
      (await execa('qemu-img', ['info', '--output=json', '-f', 'qcow2', file])).stdout,
    ) as Record<string, unknown>;
    expect(info['backing-filename']).toBeUndefined();
    expect(
      await imagesHaveSameContent(
        { path: file, format: 'qcow2' },
        { path: moment, format: 'qcow2' },
        { sameSize: true },
      ),
    ).toBe(true);
  } finally {
    await rm(file, { force: true });
  }
}

/** The data of the first logged event of `type` that `match` accepts; waits up to 30 s. */
export async function waitForLoggedEvent(
  service: ServiceProcess,
  type: string,
  match: (data: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const find = () =>
    service
      .events()
      .map((e) => ({ type: e.type, data: JSON.parse(e.data) as Record<string, unknown> }))
      .find((e) => e.type === type && match(e.data))?.data;
  await expect
    .poll(find, { timeout: 30_000, interval: 200, message: `no ${type} event` })
    .toBeDefined();
  return find()!;
}
