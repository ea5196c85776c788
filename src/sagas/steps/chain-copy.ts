import type { BackupChainPlan, BlocksCopied } from '../../events';
import type { PlannedSnapshot } from '../../domain/snapshot-process.state';
import type { BackupChainDrivers } from '../backup-chain-drivers';
import { PermanentStepError } from '../permanent-step.error';
import { StagingSpace } from '../space-check';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import { timedSince } from './step-appends';

/**
 * The copy of a backup that belongs to a chain, into the store's staging area as a qcow2
 * layer over its parent's stored file (or whole, for a chain's root):
 * - backup-job: libvirt's push-mode backup job writes into an empty qcow2 in the delta
 *   directory (QEMU's user must reach it) the whole disk, or the blocks written since the
 *   parent's checkpoint, and creates this backup's checkpoint; the file is then given its
 *   parent as backing file (header only: the job wrote exactly what differs) and moved in;
 * - compare: a qcow2 over the shut-off disk is rebased onto the parent, which copies into it
 *   the clusters where the two differ;
 * - convert: the whole disk converted, a chain's root.
 * Every try starts afresh: a job left by a crashed try is aborted, and the checkpoint it may
 * have made is deleted, so the new one is made at the new copy's instant.
 */
export async function copyChainLayer(
  deps: SnapshotStepDependencies,
  state: PlannedSnapshot,
  chain: BackupChainPlan,
  signal?: AbortSignal,
): Promise<BlocksCopied['data']> {
  const drivers = deps.chains;
  if (!drivers) throw new PermanentStepError('this image store cannot keep backup chains');
  const { imageId, plan } = state;
  const startedAt = deps.clock.now();
  const parent = chain.parentImageId;
  if (parent !== null && !(await drivers.store.isLayer(parent))) {
    throw new PermanentStepError(
      `the parent backup ${parent} has no data in the image store any more (deleted while this backup ran?)`,
    );
  }
  const parentPath = parent === null ? null : drivers.store.layerPath(parent);
  // The commit makes the image whole in a scratch file beside the layer to hash it, so even
  // an incremental needs room for the whole image; a chain's root is that size itself too.
  // Measured before anything is copied: a backup that cannot fit fails now.
  const room = await StagingSpace.of(deps.disks).claim({
    imageId,
    source: plan.diskPath,
    sourceFormat: plan.sourceFormat,
    target: drivers.store.stagingPath(imageId),
    targetFormat: 'qcow2',
    copies: parent === null ? 2 : 1,
  });
  if (!room.ok) {
    throw new PermanentStepError(
      `${room.reason} (a backup in a chain is made whole once to compute its checksums: ${parent === null ? 'twice' : 'once'} the measured disk)`,
    );
  }
  try {
    return await copyInto(deps, drivers, state, chain, parentPath, startedAt, signal);
  } finally {
    room.release();
  }
}

async function copyInto(
  deps: SnapshotStepDependencies,
  drivers: BackupChainDrivers,
  state: PlannedSnapshot,
  chain: BackupChainPlan,
  parentPath: string | null,
  startedAt: Date,
  signal?: AbortSignal,
): Promise<BlocksCopied['data']> {
  const { imageId, plan } = state;
  const parent = chain.parentImageId;
  let partial: string;
  let checkpointCreated: string | null = null;
  switch (chain.method) {
    case 'backup-job':
      partial = await backupJob(deps, drivers, state, chain, parentPath);
      checkpointCreated = chain.checkpoint;
      break;
    case 'compare':
      if (parentPath === null) throw new PermanentStepError('a compared layer needs a parent');
      partial = await drivers.store.prepareStaging(imageId);
      await drivers.layers.createOver(partial, plan.diskPath, plan.sourceFormat);
      await deps.faults.during('layer-compare', () => drivers.layers.rebase(partial, parentPath));
      break;
    case 'convert':
      partial = await drivers.store.prepareStaging(imageId);
      await deps.disks.convert({
        source: plan.diskPath,
        sourceFormat: plan.sourceFormat,
        target: partial,
        targetFormat: 'qcow2',
        signal,
      });
      break;
  }
  signal?.throwIfAborted();
  const bytesCopied = await drivers.layers.topLayerBytes(partial);
  await drivers.store.markStaged(imageId, { layer: true });
  const bytesStored = await drivers.store.stagedBytes(imageId);
  return {
    imageId,
    instanceId: plan.instanceId,
    method: chain.method,
    incremental: parent !== null,
    checkpointCreated,
    bytesCopied,
    bytesStored,
    ...timedSince(deps.clock, startedAt),
  };
}

async function backupJob(
  deps: SnapshotStepDependencies,
  drivers: BackupChainDrivers,
  state: PlannedSnapshot,
  chain: BackupChainPlan,
  parentPath: string | null,
): Promise<string> {
  const { imageId, plan } = state;
  const domain = plan.instanceId;
  if (!plan.diskTarget || chain.checkpoint === null) {
    throw new PermanentStepError('a live backup job needs the disk target and a checkpoint name');
  }
  // What a crashed try may have left (its job, its checkpoint), asked side by side with
  // making the empty output: each is a process of its own, and none depends on another.
  const [, checkpoints, output] = await Promise.all([
    drivers.jobs.abortBackup(domain),
    drivers.jobs.checkpoints(domain),
    deps.deltas.createEmpty(imageId, plan.virtualSize),
  ]);
  if (checkpoints.includes(chain.checkpoint)) {
    await drivers.jobs.deleteCheckpoint(domain, chain.checkpoint);
  }
  await deps.faults.during('backup-job', () =>
    drivers.jobs.backup(domain, {
      target: plan.diskTarget ?? '',
      destination: output,
      sinceCheckpoint: chain.parentCheckpoint,
      checkpoint: chain.checkpoint ?? '',
      timeoutMs: deps.config.mirrorTimeoutMs,
    }),
  );
  if (parentPath !== null) await drivers.layers.setBackingUnsafe(output, parentPath);
  await drivers.store.adoptStaging(imageId, output);
  return drivers.store.stagingPath(imageId);
}
