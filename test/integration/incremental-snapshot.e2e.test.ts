/**
 * Incremental createImage (snapledger's `incremental` extension of Nova's createImage), end to
 * end on a real QEMU domain and a real service: the first incremental snapshot is whole and
 * creates a checkpoint; the next copies only what the guest wrote since; a createBackup chain
 * of the same instance stays apart, even with a backup_type named like the snapshots' series;
 * a createImage without the extension is a plain whole image; deleting the chain's root
 * merges it into the layer over it. Every image is downloaded whole and compared with the
 * disk as it was when it was taken.
 */
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

describe('incremental createImage', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let scratch: string;
  const moments = new Map<string, string>();
  const ids: Record<string, string> = {};

  useChainTestbed('incr-snap', { diskMiB: 64, dataMiB: 8 }, (bed) => {
    ({ service, domain, scratch } = bed);
  });

  /** POSTs a server action and waits for the image to become active; keeps the disk's moment. */
  const act = (body: Record<string, unknown>) =>
    takeImage({ service, domain, scratch }, body, moments);

  const snapshot = (name: string, incremental?: boolean) =>
    act({ createImage: { name, ...(incremental === undefined ? {} : { incremental }) } });

  /** Downloads the whole image and checks it against its checksums and its moment. */
  const expectWhole = (imageId: string) =>
    expectWholeDownload(service, imageId, moments.get(imageId) ?? '', scratch);

  const waitForEvent = (type: string, match: (data: Record<string, unknown>) => boolean) =>
    waitForLoggedEvent(service, type, match);

  it('refuses an incremental that is not a boolean with a 400', async () => {
    const res = await service.api<{ badRequest: { message: string } }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      { body: { createImage: { name: 'bad', incremental: 'yes' } } },
    );
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toContain("'yes' is not of type 'boolean'");
  });

  it('takes the first incremental snapshot whole, live, with a checkpoint', async () => {
    const row = await snapshot('s1', true);
    ids.s1 = row.image_id;
    expect(row.mode).toBe('live');
    expect(row.downtime_ms).toBe(0);
    expect(row.backup).toMatchObject({ kind: 'full', chain_length: 1, parent_image_id: null });
    expect(row.backup?.full_reason).toBe('no earlier incremental snapshot to build on');
    const checkpoints = await domain.virsh('checkpoint-list', '--name');
    expect(checkpoints).toContain(`snapledger-${ids.s1}`);
    await expectWhole(ids.s1);
  }, 120_000);

  it('copies only what the guest wrote since into a layer over it', async () => {
    await writeThroughQemu(domain, 0x4e, 12, 2);
    const row = await snapshot('s2', true);
    ids.s2 = row.image_id;
    expect(row.downtime_ms).toBe(0);
    expect(row.backup).toMatchObject({
      kind: 'incremental',
      parent_image_id: ids.s1,
      chain_id: ids.s1,
      chain_length: 2,
      full_reason: null,
    });
    expect(row.backup?.bytes_copied).toBe(2 * MiB);
    const image = await service.api<{ image_type: string }>('GET', `/v2/images/${ids.s2}`);
    expect(image.body.image_type).toBe('snapshot');
    const added = await waitForEvent('ChainLayerAdded', (d) => d['imageId'] === ids.s2);
    expect(added).toMatchObject({ imageType: 'snapshot', parentImageId: ids.s1 });
    const audit = await service.api<{ audit: { type: string; summary: string }[] }>(
      'GET',
      `/v1/audit?image=${ids.s2}&type=ChainLayerAdded`,
    );
    expect(audit.status).toBe(200);
    expect(audit.body.audit.map((e) => e.summary)).toContain(
      `snapshot ${ids.s2} added to its chain over ${ids.s1}`,
    );
    await expectWhole(ids.s2);
    await expectWhole(ids.s1);
  }, 120_000);

  it('keeps backup chains apart, even a backup_type named like the snapshots series', async () => {
    await writeThroughQemu(domain, 0x5f, 20, 1);
    const row = await act({
      createBackup: { name: 'b1', backup_type: 'createImage', rotation: 5, incremental: true },
    });
    ids.b1 = row.image_id;
    expect(row.backup).toMatchObject({ kind: 'full', parent_image_id: null, chain_id: ids.b1 });
    expect(row.backup?.full_reason).toBe('no earlier backup of series "createImage" to build on');
    // and the next incremental snapshot still lies over the snapshots
    const next = await snapshot('s3', true);
    ids.s3 = next.image_id;
    expect(next.backup).toMatchObject({ kind: 'incremental', parent_image_id: ids.s2 });
    expect(next.backup?.bytes_copied).toBe(1 * MiB);
    await expectWhole(ids.s3);
  }, 120_000);

  it('takes one from the CLI with --incremental', async () => {
    await writeThroughQemu(domain, 0x61, 28, 1);
    const cli = await service.cli([
      'snapshot',
      domain.name,
      '--name',
      's4',
      '--incremental',
      '--wait',
      '--json',
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    const imageId = (JSON.parse(cli.stdout) as { id: string }).id;
    const history = await service.api<{ snapshots: ChainRow[] }>(
      'GET',
      `/v1/instances/${domain.uuid}/snapshots`,
    );
    const row = history.body.snapshots.find((r) => r.image_id === imageId);
    expect(row?.backup).toMatchObject({
      kind: 'incremental',
      parent_image_id: ids.s3,
      bytes_copied: 1 * MiB,
    });
  }, 120_000);

  it('makes a createImage without the extension a plain whole image, outside any chain', async () => {
    const row = await snapshot('plain');
    expect(row.backup).toBeNull();
    await expectWhole(row.image_id);
  }, 120_000);

  it('merges the chain root into the layer over it when the root is deleted', async () => {
    const res = await service.api('DELETE', `/v2/images/${ids.s1}`);
    expect(res.status).toBe(204);
    const merged = await waitForEvent('LayerMerged', (d) => d['removedImageId'] === ids.s1);
    expect(merged).toMatchObject({ childImageId: ids.s2, newParentImageId: null });
    await expectWhole(ids.s2);
    await expectWhole(ids.s3);
  }, 120_000);
});
