import { planChainRemoval } from '../domain/backup-chain.decider';
import type { BackupChainsState } from '../domain/backup-chain.state';
import { DomainNotFoundError } from '../drivers/hypervisor.port';
import { foldImage } from '../domain/image.state';
import {
  backupChainStream,
  imageStream,
  type CausationContext,
  type LayerMerged,
  type LayerMergeStarted,
} from '../events';
import { loadBackupChains } from './backup-chain-drivers';
import { timedSince } from './steps/step-appends';
import type { SnapshotStepDependencies } from './snapshot-step.dependencies';

/**
 * Removes a deleted image's data. An image of a backup chain first leaves its chain: the
 * layer over it is rebased onto its parent (or made whole, for a root), so every image left
 * stays complete. LayerMergeStarted is recorded before the rebase and LayerMerged after it;
 * a crash in between runs the rebase again (it only copies what is still missing), and a
 * crash after it finds the image out of its chain and only removes the data.
 */
export class BackupChainMerge {
  constructor(private readonly deps: SnapshotStepDependencies) {}

  async removeImage(imageId: string, origin: CausationContext): Promise<void> {
    const { images, chains: drivers, appender, clock, faults } = this.deps;
    if (!drivers) return images.discard(imageId);
    const image = foldImage((await drivers.log.readStream(imageStream(imageId))) as never);
    const instanceId = image.instanceId;
    if (instanceId === null) return images.discard(imageId);
    const stream = backupChainStream(instanceId);
    let chains = await loadBackupChains(drivers.log, instanceId);
    const started = chains.state.merging.get(imageId);
    const removal = started ?? planChainRemoval(chains.state, imageId);
    if (!removal) return images.discard(imageId);
    if (!started) {
      const data: LayerMergeStarted['data'] = { instanceId, ...removal };
      await appender.append(stream, [{ type: 'LayerMergeStarted', data }], chains.revision, origin);
    }
    const startedAt = clock.now();
    const { childImageId, newParentImageId } = removal;
    let childBytesStored: number | null = null;
    if (childImageId !== null) {
      const child = drivers.store.layerPath(childImageId);
      const newParent =
        newParentImageId === null ? null : drivers.store.layerPath(newParentImageId);
      await faults.during('layer-merge', () => drivers.layers.rebase(child, newParent));
      childBytesStored = await drivers.store.layerBytes(childImageId);
    }
    const checkpointOutcome = await this.dropCheckpoint(chains.state, imageId, instanceId);
    chains = await loadBackupChains(drivers.log, instanceId);
    await appender.append(
      stream,
      [
        {
          type: 'LayerMerged',
          data: {
            instanceId,
            removedImageId: imageId,
            childImageId,
            newParentImageId,
            childBytesStored,
            ...checkpointOutcome,
            ...timedSince(clock, startedAt),
          },
        },
      ],
      chains.revision,
      origin,
    );
    await images.discard(imageId);
  }

  /**
   * Deletes the removed image's checkpoint from libvirt when no other image in a chain uses
   * it (a backup of the shut-off domain shares its parent's), so QEMU stops keeping its
   * bitmap up to date. A failure never stops the merge: libvirt refuses to delete a
   * checkpoint of a shut-off domain, and the domain may be gone; LayerMerged says so.
   */
  private async dropCheckpoint(
    chains: BackupChainsState,
    imageId: string,
    instanceId: string,
  ): Promise<Pick<LayerMerged['data'], 'checkpointDeleted' | 'checkpointKept'>> {
    const drivers = this.deps.chains;
    const checkpoint = chains.members.get(imageId)?.checkpoint ?? null;
    if (!drivers || checkpoint === null) return {};
    const shared = [...chains.members.values()].some(
      (m) => m.imageId !== imageId && m.checkpoint === checkpoint,
    );
    if (shared) return {};
    try {
      const deleted = await drivers.jobs.deleteCheckpoint(instanceId, checkpoint);
      return deleted ? { checkpointDeleted: checkpoint } : {};
    } catch (error) {
      const reason =
        error instanceof DomainNotFoundError
          ? 'the domain is gone'
          : error instanceof Error
            ? error.message
            : String(error);
      return { checkpointKept: { checkpoint, reason } };
    }
  }
}
