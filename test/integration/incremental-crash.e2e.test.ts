/**
 * Kill points of incremental backups and of chain merges (the crash matrix's promise, for
 * chains): the service is SIGKILLed at each point (SNAPLEDGER_FAULTS), started again on the
 * same data directory, and then the backup is active and whole, in its chain once, with no
 * staged file left; a merge killed half-way is finished by the restart, and the images left
 * are whole.
 */
import { createHash } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useChainTestbed, waitForChecksums, waitForLoggedEvent } from '../support/chain-images';
import type { ServiceProcess } from '../support/service-process';
import { copyDiskAsItIs, writeThroughQemu } from '../support/guest-disk';
import { imagesHaveSameContent, type TestDomain } from '../support/test-domain';

interface BackupRow {
  image_id: string;
  result: string;
  backup: { kind: string; parent_image_id: string | null; chain_length: number | null } | null;
}

const BACKUP_POINTS = [
  'after-append:BlocksCopied',
  'after-append:ImageExtracted',
  'kill-at:commit-settled',
  'kill-at:commit-renamed',
  'after-append:ChainLayerAdded',
  'after-append:Uploaded',
  'kill-during:checksum',
  'after-append:ImageChecksummed',
];
const MERGE_POINTS = ['after-append:LayerMergeStarted', 'after-append:LayerMerged'];

describe('incremental backups survive a kill at every step', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let scratch: string;
  const moments = new Map<string, string>();
  const chain: string[] = [];
  let pattern = 0x20;

  useChainTestbed('incr-crash', {}, async (bed) => {
    ({ service, domain, scratch } = bed);
    const policy = await service.api('PUT', `/v1/instances/${domain.uuid}/backup-policy`, {
      body: { incremental: true },
    });
    expect(policy.status).toBe(200);
    chain.push(await backup());
  });

  async function guestWrite(): Promise<void> {
    pattern += 1;
    await writeThroughQemu(domain, pattern, 8 + (pattern % 40), 1);
  }

  async function request(): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createBackup: { name: `b${pattern}`, backup_type: 'nightly', rotation: 50 } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.image_id;
  }

  async function settle(imageId: string): Promise<BackupRow> {
    const row = (await service.waitForSnapshot(domain.uuid, imageId)) as unknown as BackupRow;
    const moment = join(scratch, `${imageId}.qcow2`);
    await copyDiskAsItIs(domain, moment);
    moments.set(imageId, moment);
    return row;
  }

  async function backup(): Promise<string> {
    const imageId = await request();
    expect((await settle(imageId)).result).toBe('active');
    return imageId;
  }

  async function expectWhole(imageId: string): Promise<void> {
    const res = await fetch(`${service.baseUrl}/v2/images/${imageId}/file`, {
      headers: { 'X-Auth-Token': service.adminToken },
    });
    expect(res.status).toBe(200);
    const data = Buffer.from(await res.arrayBuffer());
    const meta = await waitForChecksums(service, imageId);
    expect(createHash('md5').update(data).digest('hex')).toBe(meta.checksum);
    await expectSameAsMoment(imageId, data);
  }

  /** A download's bytes hold the guest disk as it was when the image was taken. */
  async function expectSameAsMoment(imageId: string, data: Buffer): Promise<void> {
    const file = join(scratch, `${imageId}.download`);
    await writeFile(file, data);
    try {
      expect(
        await imagesHaveSameContent(
          { path: file, format: 'qcow2' },
          { path: moments.get(imageId) ?? '', format: 'qcow2' },
        ),
      ).toBe(true);
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Starts the service with a kill point armed, does `work`, and waits for it to die. */
  async function killedDuring(faults: string, work: () => Promise<unknown>): Promise<void> {
    await service.stop();
    await service.start({ SNAPLEDGER_FAULTS: faults });
    await work();
    const exit = await service.waitForExit(60_000);
    expect(exit.signal).toBe('SIGKILL');
    await service.start();
  }

  const eventsOf = (type: string, key: string, id: string) =>
    service.events().filter((e) => e.type === type && JSON.parse(e.data)[key] === id);

  it.each(BACKUP_POINTS)(
    'killed at %s, the backup completes as a layer over its parent',
    async (point) => {
      await guestWrite();
      let imageId = '';
      await killedDuring(point, async () => {
        imageId = await request();
      });
      const row = await settle(imageId);
      expect(row.result).toBe('active');
      expect(row.backup).toMatchObject({ kind: 'incremental', parent_image_id: chain.at(-1) });
      expect(eventsOf('ChainLayerAdded', 'imageId', imageId)).toHaveLength(1);
      expect(eventsOf('Uploaded', 'imageId', imageId)).toHaveLength(1);
      await expectWhole(imageId);
      // Hashed once, after the restart if the kill came first.
      expect(eventsOf('ImageChecksummed', 'imageId', imageId)).toHaveLength(1);
      const staging = await readdir(join(service.dataDir, 'images', '.staging'));
      expect(staging).toEqual([]);
      chain.push(imageId);
    },
    120_000,
  );

  it.each(MERGE_POINTS)(
    'killed at %s, the merge of a middle image finishes after the restart',
    async (point) => {
      const [, removed, child] = chain;
      await killedDuring(point, async () => {
        // The kill may come before the answer: the deletion is stored before the merge starts.
        const answer = await service.api('DELETE', `/v2/images/${removed}`).catch(() => null);
        if (answer) expect(answer.status).toBe(204);
      });
      await waitForLoggedEvent(service, 'LayerMerged', (d) => d['removedImageId'] === removed);
      expect(eventsOf('LayerMergeStarted', 'removedImageId', removed)).toHaveLength(1);
      expect(eventsOf('LayerMerged', 'removedImageId', removed)).toHaveLength(1);
      const files = await readdir(join(service.dataDir, 'images'));
      for (let i = 0; i < 50 && files.includes(`${removed}.layer`); i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        files.splice(0, files.length, ...(await readdir(join(service.dataDir, 'images'))));
      }
      expect(files).not.toContain(`${removed}.layer`);
      chain.splice(1, 1);
      for (const imageId of [chain[0], child, ...chain.slice(2)]) await expectWhole(imageId);
    },
    120_000,
  );

  it('a hash that keeps failing is given up: the backup stays active and downloadable, without checksums', async () => {
    await guestWrite();
    await service.stop();
    await service.start({ SNAPLEDGER_FAULTS: 'fail:checksum' });
    try {
      const imageId = await request();
      expect((await settle(imageId)).result).toBe('active');
      await waitForLoggedEvent(service, 'ImageChecksumFailed', (d) => d['imageId'] === imageId);
      expect(eventsOf('ImageChecksumFailed', 'imageId', imageId)).toHaveLength(1);
      expect(eventsOf('ImageChecksummed', 'imageId', imageId)).toHaveLength(0);
      const meta = await service.api<Record<string, unknown>>('GET', `/v2/images/${imageId}`);
      expect(meta.body).toMatchObject({
        status: 'active',
        size: null,
        checksum: null,
        os_hash_value: null,
      });
      const history = await service.api<{ snapshots: Record<string, unknown>[] }>(
        'GET',
        `/v1/instances/${domain.uuid}/snapshots`,
      );
      expect(history.body.snapshots.find((r) => r['image_id'] === imageId)).toMatchObject({
        result: 'active',
        failed_step: 'checksum',
      });
      // Nothing to verify against, and nothing pretends otherwise.
      const verify = await service.api('POST', `/v1/images/${imageId}/verify`);
      expect(verify.status).toBe(409);
      // The data is whole all the same; a download carries no Content-MD5.
      const res = await fetch(`${service.baseUrl}/v2/images/${imageId}/file`, {
        headers: { 'X-Auth-Token': service.adminToken },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-md5')).toBeNull();
      await expectSameAsMoment(imageId, Buffer.from(await res.arrayBuffer()));
    } finally {
      await service.stop();
      await service.start();
    }
  }, 120_000);
});
