import type { BackupChainPlan } from '../events';
import {
  chainLengthOf,
  childOf,
  newestOfSeries,
  type BackupChainsState,
  type ChainMember,
  type ChainSeries,
} from './backup-chain.state';

/** The name of the libvirt checkpoint a backup creates: its image id, under our prefix. */
export const checkpointNameOf = (imageId: string): string => `snapledger-${imageId}`;

/** What the plan step observed, for a backup asked to be incremental. */
export interface ChainPlanFacts {
  readonly imageId: string;
  /** The series the image joins: a backup's backup_type, or the instance's snapshots. */
  readonly series: ChainSeries;
  readonly chains: BackupChainsState;
  /** The domain's QEMU runs (running or paused): a live backup job is possible. */
  readonly running: boolean;
  /** The disk's format, from libvirt. */
  readonly diskFormat: string;
  /** Where images are stored: chains of layers need local files. */
  readonly storeKind: 'local' | 'glance';
  /** Of the series' newest chain image: is it active, with its data in the store? */
  readonly newestUsable: (member: ChainMember) => { ok: true } | { ok: false; why: string };
  /** The domain's checkpoints in libvirt now (running domains). */
  readonly checkpoints: readonly string[];
  /**
   * What libvirt said when asked how much a backup since the newest image's checkpoint would
   * copy, if it could not tell (the disk lost the checkpoint's bitmap); null when it could.
   */
  readonly checkpointFault: string | null;
}

/** A backup that cannot be part of a chain at all, and is made as a plain whole image. */
export interface Unchained {
  readonly chained: false;
  readonly reason: string;
}

/**
 * How a backup asked to be incremental is made: a layer over the series' newest chain image
 * when everything it needs is there, else a full backup that starts a new chain, with the
 * reason; or a plain image when the store or the disk cannot hold chains.
 */
export function planBackupChain(facts: ChainPlanFacts): BackupChainPlan | Unchained {
  if (facts.storeKind !== 'local') {
    return {
      chained: false,
      reason: 'the Glance image store keeps whole images only, so this backup is a whole image',
    };
  }
  if (facts.running && facts.diskFormat !== 'qcow2') {
    return {
      chained: false,
      reason: `the disk is ${facts.diskFormat}: libvirt keeps checkpoints only in qcow2 disks, so a running domain's backup is a whole image`,
    };
  }
  const checkpoint = checkpointNameOf(facts.imageId);
  const { series } = facts;
  const kind = series.imageType === 'snapshot' ? { imageType: 'snapshot' as const } : {};
  const named =
    series.imageType === 'snapshot'
      ? 'incremental snapshot'
      : `backup of series "${series.backupType}"`;
  const full = (fullReason: string): BackupChainPlan => ({
    method: facts.running ? 'backup-job' : 'convert',
    backupType: series.backupType,
    ...kind,
    chainId: facts.imageId,
    parentImageId: null,
    parentChainLength: 0,
    parentCheckpoint: null,
    checkpoint: facts.running ? checkpoint : null,
    fullReason,
  });
  const parent = newestOfSeries(facts.chains, series);
  if (!parent) return full(`no earlier ${named} to build on`);
  const usable = facts.newestUsable(parent);
  if (!usable.ok) return full(`the newest ${series.imageType} ${parent.imageId} ${usable.why}`);
  const layer = {
    backupType: series.backupType,
    ...kind,
    chainId: parent.chainId,
    parentImageId: parent.imageId,
    parentChainLength: chainLengthOf(facts.chains, parent.imageId),
    fullReason: null,
  };
  if (!facts.running) {
    // Content compared with the parent: no checkpoint needed. The parent's checkpoint still
    // marks this image's blocks too: nothing wrote to the disk since that the layer lacks.
    return {
      ...layer,
      method: 'compare',
      parentCheckpoint: null,
      checkpoint: parent.checkpoint,
    };
  }
  if (parent.checkpoint === null) {
    return full(
      `the newest ${series.imageType} ${parent.imageId} was taken while the domain was shut off, and no checkpoint marks it`,
    );
  }
  if (!facts.checkpoints.includes(parent.checkpoint)) {
    return full(
      `checkpoint ${parent.checkpoint} is gone from libvirt (the domain was redefined, or its checkpoints were removed)`,
    );
  }
  if (facts.checkpointFault !== null) {
    return full(
      `checkpoint ${parent.checkpoint} cannot be used (was the disk replaced?): ${facts.checkpointFault}`,
    );
  }
  return { ...layer, method: 'backup-job', parentCheckpoint: parent.checkpoint, checkpoint };
}

/** What removing an image from its chain takes: the layer over it moves onto its parent. */
export interface ChainRemoval {
  readonly removedImageId: string;
  readonly childImageId: string | null;
  readonly newParentImageId: string | null;
}

/** null when the image is in no chain (its data can simply go). */
export function planChainRemoval(chains: BackupChainsState, imageId: string): ChainRemoval | null {
  const member = chains.members.get(imageId);
  if (!member) return null;
  const child = childOf(chains, imageId);
  return {
    removedImageId: imageId,
    childImageId: child?.imageId ?? null,
    newParentImageId: member.parentImageId,
  };
}
