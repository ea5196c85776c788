/**
 * Incremental backups end to end, on a real QEMU domain and a real service: a backup policy,
 * a live full backup that creates a libvirt checkpoint, live incrementals that copy only what
 * the guest wrote (written through QEMU itself, so the checkpoint's bitmap sees it), a middle
 * deletion that merges a layer into its child, a fallback to full when the checkpoint is
 * gone, an incremental of the shut-off domain, and rotation across chains. Every image is
 * downloaded whole and compared with the disk as it was when it was taken.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import {
  expectWholeDownload,
  takeImage,
  useChainTestbed,
  waitForLoggedEvent,
  type ChainRow,
} from '../support/chain-images';
import type { ServiceProcess } from '../support/service-process';
import { writeThroughQemu } from '../support/guest-disk';
import type { TestDomain } from '../support/test-domain';

const MiB = 1024 * 1024;

describe('incremental backups', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let scratch: string;
  /** The disk's content when each backup was taken, by image id. */
  const moments = new Map<string, string>();

  useChainTestbed('incr', { diskMiB: 64, dataMiB: 8 }, (bed) => {
    ({ service, domain, scratch } = bed);
  });

  const guestWrite = (offsetMiB: number, lengthMiB: number, pattern: number) =>
    writeThroughQemu(domain, pattern, offsetMiB, lengthMiB);

  const backup = (name: string, options: { rotation?: number; incremental?: boolean } = {}) =>
    takeImage(
      { service, domain, scratch },
      {
        createBackup: {
          name,
          backup_type: 'daily',
          rotation: options.rotation ?? 9,
          ...(options.incremental === undefined ? {} : { incremental: options.incremental }),
        },
      },
      moments,
    );

  /** Downloads the whole image and checks it against its checksums and its moment. */
  const expectWhole = (imageId: string) =>
    expectWholeDownload(service, imageId, moments.get(imageId) ?? '', scratch);

  async function checkpoints(): Promise<string[]> {
    return (await domain.virsh('checkpoint-list', '--name'))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  const waitForEvent = (type: string, match: (data: Record<string, unknown>) => boolean) =>
    waitForLoggedEvent(service, type, match);

  const ids: Record<string, string> = {};

  it('sets the backup policy from the CLI; a bad body is a 400, another project sees nothing', async () => {
    const bad = await service.api('PUT', `/v1/instances/${domain.uuid}/backup-policy`, {
      body: { incremental: 'yes' },
    });
    expect(bad.status).toBe(400);
    const stranger = await service.createToken('other-project', 'eve', ['member']);
    const hidden = await service.api('PUT', `/v1/instances/${domain.uuid}/backup-policy`, {
      token: stranger,
      body: { incremental: true },
    });
    expect(hidden.status).toBe(404);
    const cli = await service.cli(['instances', 'policy', domain.name, '--incremental']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('incremental backups');
    const shown = await service.api<{ instance: { backup_policy: { incremental: boolean } } }>(
      'GET',
      `/v1/instances/${domain.uuid}`,
    );
    expect(shown.body.instance.backup_policy).toEqual({ incremental: true });
  });

  it('takes a live full backup first, with a checkpoint, and the guest never stops', async () => {
    const row = await backup('b1');
    ids.b1 = row.image_id;
    expect(row.mode).toBe('live');
    expect(row.downtime_ms).toBe(0);
    expect(row.backup).toMatchObject({ kind: 'full', chain_length: 1, parent_image_id: null });
    expect(row.backup?.full_reason).toMatch(/no earlier backup of series "daily"/);
    expect(await checkpoints()).toContain(`snapledger-${ids.b1}`);
    await expectWhole(ids.b1);
  }, 120_000);

  it('copies only the changed blocks into a layer over the previous backup', async () => {
    await guestWrite(16, 2, 0x5a);
    const row = await backup('b2');
    ids.b2 = row.image_id;
    expect(row.downtime_ms).toBe(0);
    expect(row.backup).toMatchObject({
      kind: 'incremental',
      parent_image_id: ids.b1,
      chain_id: ids.b1,
      chain_length: 2,
      full_reason: null,
    });
    // Exactly the 2 MiB written (64 KiB bitmap granularity, aligned writes).
    expect(row.backup?.bytes_copied).toBe(2 * MiB);
    expect(row.backup?.bytes_stored).toBeLessThan(3 * MiB);
    const copied = await waitForEvent('BlocksCopied', (d) => d['imageId'] === ids.b2);
    expect(copied).toMatchObject({ method: 'backup-job', incremental: true });
    await expectWhole(ids.b2);
    await expectWhole(ids.b1);

    await guestWrite(20, 1, 0x6b);
    const third = await backup('b3');
    ids.b3 = third.image_id;
    expect(third.backup).toMatchObject({
      kind: 'incremental',
      parent_image_id: ids.b2,
      chain_length: 3,
    });
    expect(third.backup?.bytes_copied).toBe(1 * MiB);
    await expectWhole(ids.b3);

    // GraphQL shows the same chain.
    const gql = await fetch(`${service.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Auth-Token': service.adminToken },
      body: JSON.stringify({
        query: `query($id: ID!) { instance(id: $id) { snapshots(first: 10) { edges { node {
          imageId backupKind chainParentId chainLength bytesCopied bytesStored fullReason } } } } }`,
        variables: { id: domain.uuid },
      }),
    });
    const answer = (await gql.json()) as {
      data: { instance: { snapshots: { edges: { node: Record<string, unknown> }[] } } };
    };
    const nodes = answer.data.instance.snapshots.edges.map((e) => e.node);
    expect(nodes.find((n) => n['imageId'] === ids.b3)).toMatchObject({
      backupKind: 'incremental',
      chainParentId: ids.b2,
      chainLength: 3,
      bytesCopied: 1 * MiB,
      fullReason: null,
    });
    expect(nodes.find((n) => n['imageId'] === ids.b1)).toMatchObject({ backupKind: 'full' });

    // The CLI's history shows the kind and the chain length.
    const history = await service.cli(['history', domain.name]);
    expect(history.code, history.stderr).toBe(0);
    const cells = (history.stdout.split('\n').find((l) => l.includes(ids.b3)) ?? '')
      .split('│')
      .map((c) => c.trim());
    expect(cells).toContain('incremental');
    expect(cells[cells.indexOf('incremental') + 1]).toBe('3');

    // verify walks the three layers and hashes the whole image again.
    const verified = await service.cli(['images', 'verify', ids.b3, '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as { ok: boolean; files: { image_id: string }[] };
    expect(report.ok).toBe(true);
    expect(report.files.map((f) => f.image_id)).toEqual([ids.b3, ids.b2, ids.b1]);
  }, 180_000);

  it('deleting a middle image merges its layer into the child, which stays whole', async () => {
    const res = await service.api('DELETE', `/v2/images/${ids.b2}`);
    expect(res.status).toBe(204);
    const merged = await waitForEvent('LayerMerged', (d) => d['removedImageId'] === ids.b2);
    expect(merged).toMatchObject({
      childImageId: ids.b3,
      newParentImageId: ids.b1,
      checkpointDeleted: `snapledger-${ids.b2}`,
    });
    // No image uses b2's checkpoint any more: libvirt no longer keeps its bitmap.
    expect(await checkpoints()).not.toContain(`snapledger-${ids.b2}`);
    expect(await checkpoints()).toContain(`snapledger-${ids.b3}`);
    await expectWhole(ids.b3);
    await expectWhole(ids.b1);
    const history = await service.api<{ snapshots: ChainRow[] }>(
      'GET',
      `/v1/instances/${domain.uuid}/snapshots`,
    );
    const b3 = history.body.snapshots.find((s) => s.image_id === ids.b3);
    expect(b3?.backup).toMatchObject({ parent_image_id: ids.b1, chain_length: 2 });
  }, 120_000);

  it('falls back to a full backup when the checkpoint is gone, and says why', async () => {
    await domain.virsh('checkpoint-delete', '--checkpointname', `snapledger-${ids.b3}`);
    await guestWrite(24, 1, 0x7c);
    const row = await backup('b4');
    ids.b4 = row.image_id;
    expect(row.backup).toMatchObject({ kind: 'full', chain_length: 1, chain_id: ids.b4 });
    expect(row.backup?.full_reason).toMatch(/checkpoint snapledger-.* is gone from libvirt/);
    await expectWhole(ids.b4);
  }, 120_000);

  it('takes an incremental of the shut-off domain by comparing with its parent', async () => {
    await domain.virsh('destroy');
    await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x3d 30M 1M', domain.diskPath]);
    const row = await backup('b5');
    ids.b5 = row.image_id;
    expect(row.mode).toBe('offline');
    expect(row.backup).toMatchObject({
      kind: 'incremental',
      parent_image_id: ids.b4,
      chain_length: 2,
    });
    expect(row.backup?.bytes_copied).toBe(1 * MiB);
    const copied = await waitForEvent('BlocksCopied', (d) => d['imageId'] === ids.b5);
    expect(copied).toMatchObject({ method: 'compare', incremental: true });
    await expectWhole(ids.b5);
  }, 120_000);

  it('asked for a whole backup, makes one outside any chain', async () => {
    const row = await backup('plain', { incremental: false });
    ids.plain = row.image_id;
    expect(row.backup).toBeNull();
  }, 120_000);

  it('rotation across chains keeps every remaining image whole', async () => {
    await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x4e 34M 1M', domain.diskPath]);
    const row = await backup('b6', { rotation: 2 });
    ids.b6 = row.image_id;
    // As stored: the history's chain_length follows the merges rotation starts at once (it
    // may already read 2 here), so the length at the moment of the backup is Uploaded's.
    const uploaded = await waitForEvent('Uploaded', (d) => d['imageId'] === ids.b6);
    expect(uploaded['chain']).toMatchObject({
      kind: 'incremental',
      parentImageId: ids.b5,
      chainLength: 3,
    });
    // Kept: b6 and the plain backup (the newest two); b1, b3, b4 and b5 are rotated away.
    for (const gone of [ids.b1, ids.b3, ids.b4, ids.b5]) {
      await waitForEvent('LayerMerged', (d) => d['removedImageId'] === gone);
    }
    // The domain is shut off: libvirt cannot delete b1's checkpoint now, and the merge says
    // so. b4's is still used by b6 (backups of the shut-off domain inherit it), so it stays.
    const b1Merged = await waitForEvent('LayerMerged', (d) => d['removedImageId'] === ids.b1);
    expect(b1Merged['checkpointKept']).toMatchObject({
      checkpoint: `snapledger-${ids.b1}`,
      reason: expect.stringContaining('inactive domain') as unknown,
    });
    const b4Merged = await waitForEvent('LayerMerged', (d) => d['removedImageId'] === ids.b4);
    expect(b4Merged['checkpointKept']).toBeUndefined();
    expect(b4Merged['checkpointDeleted']).toBeUndefined();
    await expectWhole(ids.b6);
    const history = await service.api<{ snapshots: ChainRow[] }>(
      'GET',
      `/v1/instances/${domain.uuid}/snapshots`,
    );
    const b6 = history.body.snapshots.find((s) => s.image_id === ids.b6);
    expect(b6?.backup).toMatchObject({ parent_image_id: null, chain_length: 1 });

    // An edit of the stored data is caught by verify.
    const layer = join(service.dataDir, 'images', `${ids.b6}.layer`);
    await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xff 0 512', layer]);
    const tampered = await service.cli(['images', 'verify', ids.b6]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/checksum .* differs/);
    expect(tampered.stdout).toContain('FAILED verification');
  }, 180_000);

  it('falls back to full when the newest backup was removed outside snapledger', async () => {
    await rm(join(service.dataDir, 'images', `${ids.b6}.layer`));
    const missing = await service.cli(['images', 'verify', ids.b6]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('has no data in the image store');
    const row = await backup('b7');
    expect(row.backup).toMatchObject({ kind: 'full', chain_length: 1, parent_image_id: null });
    expect(row.backup?.full_reason).toBe(
      `the newest backup ${ids.b6} has no data in the image store (was it removed outside snapledger?)`,
    );
    await expectWhole(row.image_id);
  }, 120_000);
});
