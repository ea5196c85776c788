import { chainLengthOf } from '../../domain/backup-chain.state';
import { decideUploaded, decideUploadProgress } from '../../domain/image.decider';
import { backupChainStream, imageStream, type BackupChainPlan, type Uploaded } from '../../events';
import { loadBackupChains } from '../backup-chain-drivers';
import type { ImageRecord, StoredImage } from '../../drivers/image-store.port';
import { PermanentStepError } from '../permanent-step.error';
import type { PlannedSnapshot } from '../../domain/snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { PlanStep } from './snapshot-step.handler';
import { ImageProgressWriter, timedSince } from './step-appends';

/** How often the newest upload progress is written while the data streams to Glance. */
const PROGRESS_SAMPLE_MS = 1000;

/**
 * Waits for the staged image's fsync and hashes, and puts it in the image store: a rename
 * into the local store, or an upload to Glance with progress events.
 */
export class UploadStep implements PlanStep<'upload'> {
  readonly action = 'upload';
  readonly needs = 'plan';

  constructor(
    private readonly deps: SnapshotStepDependencies,
    /** This boot of the host, recorded with extracted data (see drivers/host-boot.ts). */
    private readonly bootId: string,
  ) {}

  async run(state: PlannedSnapshot): Promise<void> {
    const { appender, clock, images } = this.deps;
    const { imageId, plan, origin: ctx } = state;
    await this.requireDurableExtraction(state);
    if (plan.chain) return this.storeChainImage(state, plan.chain);
    const record = this.recordOf(state);
    const startedAt = clock.now();
    let totalBytes = 0;
    const progress = new ImageProgressWriter(
      appender,
      state,
      (bytesSent) => decideUploadProgress(state.image, bytesSent, totalBytes),
      { everyMs: PROGRESS_SAMPLE_MS, leading: true },
    );
    let stored;
    try {
      stored = await images.commit(imageId, record, (sent, total) => {
        totalBytes = total;
        progress.report(sent);
      });
    } finally {
      await progress.stop();
    }
    await appender.append(
      imageStream(imageId),
      this.uploaded(state, stored, startedAt, {
        diskFormat: plan.targetFormat,
        store: images.kind,
      }),
      progress.revision,
      ctx,
    );
  }

  /**
   * A backup of a chain: stored as a layer, added to its instance's backup-chain stream, then
   * recorded as uploaded with what it holds. Its whole image is hashed later, once its task
   * state is given back (ChecksumStep): size and checksums are null until then.
   */
  private async storeChainImage(state: PlannedSnapshot, chain: BackupChainPlan): Promise<void> {
    const { appender, clock } = this.deps;
    const drivers = this.deps.chains;
    if (!drivers) throw new PermanentStepError('this image store cannot keep backup chains');
    const { imageId, plan, origin: ctx } = state;
    const parent = chain.parentImageId;
    if (parent !== null && !(await drivers.store.isLayer(parent))) {
      throw new PermanentStepError(
        `the parent backup ${parent} was deleted while this backup ran; the layer over it cannot be kept`,
      );
    }
    const startedAt = clock.now();
    const stored = await drivers.store.commitLayer(imageId);
    const chains = await loadBackupChains(drivers.log, plan.instanceId);
    if (!chains.state.members.has(imageId)) {
      await appender.append(
        backupChainStream(plan.instanceId),
        [
          {
            type: 'ChainLayerAdded',
            data: {
              instanceId: plan.instanceId,
              imageId,
              backupType: chain.backupType,
              ...(chain.imageType ? { imageType: chain.imageType } : {}),
              chainId: chain.chainId,
              parentImageId: parent,
              checkpoint: chain.checkpoint,
            },
          },
        ],
        chains.revision,
        ctx,
      );
    }
    const bytesCopied = await drivers.layers.topLayerBytes(drivers.store.layerPath(imageId));
    await appender.append(
      imageStream(imageId),
      this.uploaded(state, { size: null, checksum: null, osHashValue: null }, startedAt, {
        diskFormat: 'qcow2',
        store: 'local',
        chain: {
          chainId: chain.chainId,
          kind: parent === null ? 'full' : 'incremental',
          parentImageId: parent,
          chainLength: (parent === null ? 0 : chainLengthOf(chains.state, parent)) + 1,
          bytesCopied,
          bytesStored: stored.bytesStored,
          ...(chain.fullReason === null ? {} : { fullReason: chain.fullReason }),
        },
      }),
      state.imageRevision,
      ctx,
    );
  }

  /** Uploaded, with what the store computed of the stored data. */
  private uploaded(
    state: PlannedSnapshot,
    stored: StoredImage | { size: null; checksum: null; osHashValue: null },
    startedAt: Date,
    where: Pick<Uploaded['data'], 'diskFormat' | 'store' | 'chain'>,
  ) {
    return decideUploaded(state.image, {
      size: stored.size,
      // qemu-img keeps the virtual size, which the plan read from the source.
      virtualSize: state.plan.virtualSize,
      checksum: stored.checksum,
      osHashAlgo: stored.checksum === null ? null : 'sha512',
      osHashValue: stored.osHashValue,
      containerFormat: 'bare',
      ...timedSince(this.deps.clock, startedAt),
      ...where,
    });
  }

  /** What the image store is told of the image (Glance keeps it as the image's record). */
  private recordOf(state: PlannedSnapshot): ImageRecord {
    const { description, projectId } = state.image;
    if (!description || !projectId) {
      throw new PermanentStepError('the image has no reservation to describe it');
    }
    return {
      ...description,
      imageId: state.imageId,
      projectId,
      diskFormat: state.plan.targetFormat,
      containerFormat: 'bare',
    };
  }

  /**
   * The staged file is made durable only on the way to the store. A process crash keeps it in
   * the page cache; a host reboot may not have: data extracted on another boot, and not yet
   * stored, is not trusted.
   */
  private async requireDurableExtraction(state: PlannedSnapshot): Promise<void> {
    const extractedOn = state.image.extractedOnBoot;
    if (extractedOn === null || extractedOn === this.bootId) return;
    if (await this.deps.images.has(state.imageId)) return; // stored and fsynced before the reboot
    throw new PermanentStepError(
      'the host restarted after the image was extracted and before it was stored; the extracted data may be incomplete',
    );
  }
}
