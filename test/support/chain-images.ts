import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect } from 'vitest';
import { ServiceProcess, type SnapshotRow } from './service-process';
import { copyDiskAsItIs } from './guest-disk';
import {
  createTestDomain,
  imagesHaveSameContent,
  type TestDomain,
  type CreateTestDomainOptions,
} from './test-domain';

/** A snapshot-history row with what it says of the image's place in a chain. */
export interface ChainRow extends SnapshotRow {
  image_type: string;
  backup: {
    kind: 'full' | 'incremental';
    full_reason: string | null;
    chain_id: string | null;
    parent_image_id: string | null;
    chain_length: number | null;
    bytes_copied: number | null;
    bytes_stored: number | null;
  } | null;
}

/**
 * POSTs a server action (createImage or createBackup, at microversion 2.45: the image id in
 * the body), waits for the image to become active, and keeps a copy of the disk as it is
 * then in `moments` (by image id): the guest writes nothing but what the test writes.
 */
export async function takeImage(
  { service, domain, scratch }: ChainTestbed,
  body: Record<string, unknown>,
  moments: Map<string, string>,
): Promise<ChainRow> {
  const res = await service.api<{ image_id: string }>(
    'POST',
    `/v2.1/servers/${domain.uuid}/action`,
    { body, headers: { 'OpenStack-API-Version': 'compute 2.45' } },
  );
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const imageId = res.body.image_id;
  const row = (await service.waitForSnapshot(domain.uuid, imageId)) as ChainRow;
  expect(row.result, JSON.stringify(row)).toBe('active');
  const moment = join(scratch, `${imageId}.moment.qcow2`);
  await copyDiskAsItIs(domain, moment);
  moments.set(imageId, moment);
  return row;
}

/** What a chain test file works with: a service, a running domain it knows, a scratch directory. */
export interface ChainTestbed {
  readonly service: ServiceProcess;
  readonly domain: TestDomain;
  readonly scratch: string;
}

/**
 * Before the file's tests: a started service, a running test domain `name` that it has
 * synced, and a scratch directory; then `ready` (which also receives them). After them, all
 * three are removed, the service first.
 */
export function useChainTestbed(
  name: string,
  domainOptions: Omit<CreateTestDomainOptions, 'name' | 'start'>,
  ready: (bed: ChainTestbed) => Promise<void> | void,
): void {
  let service: ServiceProcess | undefined;
  let domain: TestDomain | undefined;
  let scratch: string | undefined;
  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start();
    domain = await createTestDomain({ name, ...domainOptions, start: true });
    await service.syncInstances();
    scratch = await mkdtemp(join(tmpdir(), `sl-${name}-`));
    await ready({ service, domain, scratch });
  }, 120_000);
  afterAll(async () => {
    try {
      await service?.dispose();
    } finally {
      await domain?.destroy();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  });
}

/** The whole image's size and checksums, once the checksum step has recorded them. */
export interface ImageChecksums {
  readonly size: number;
  readonly checksum: string;
  readonly os_hash_value: string;
}

/**
 * Waits (up to 60 s) until a chain's backup shows its checksums: it is active before they are
 * known (size, checksum and os_hash_value null), and ImageChecksummed sets them.
 */
export async function waitForChecksums(
  service: ServiceProcess,
  imageId: string,
): Promise<ImageChecksums> {
  const read = async () => {
    const meta = await service.api<ImageChecksums | { checksum: null }>(
      'GET',
      `/v2/images/${imageId}`,
    );
    expect(meta.status, JSON.stringify(meta.body)).toBe(200);
    return meta.body;
  };
  await expect
    .poll(async () => (await read()).checksum, {
      timeout: 60_000,
      interval: 100,
      message: `image ${imageId} has no checksums`,
    })
    .not.toBeNull();
  return (await read()) as ImageChecksums;
}

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
  const meta = await waitForChecksums(service, imageId);
  const res = await fetch(`${service.baseUrl}/v2/images/${imageId}/file`, {
    headers: { 'X-Auth-Token': service.adminToken },
  });
  expect(res.status).toBe(200);
  const data = Buffer.from(await res.arrayBuffer());
  expect(Number(res.headers.get('content-length'))).toBe(data.length);
  expect(res.headers.get('content-md5')).toBe(meta.checksum);
  expect(meta.size).toBe(data.length);
  expect(createHash('md5').update(data).digest('hex')).toBe(meta.checksum);
  expect(createHash('sha512').update(data).digest('hex')).toBe(meta.os_hash_value);
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
