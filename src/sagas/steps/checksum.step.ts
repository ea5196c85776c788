import { decideChecksummed } from '../../domain/image.decider';
import type { PlannedSnapshot } from '../../domain/snapshot-process.state';
import { backupChainStream } from '../../events';
import type { StoredImage } from '../../drivers/image-store.port';
import type { BackupChainDrivers } from '../backup-chain-drivers';
import { PermanentStepError } from '../permanent-step.error';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { PlanStep } from './snapshot-step.handler';
import { appendToImage, timedSince } from './step-appends';

/** Hashes of one image cut short by merges of its chain before the step gives up a try. */
const HASHES_PER_TRY = 3;

/** A merge of the chain was recorded while its whole image was read. */
class ChainMergedMeanwhileError extends Error {
  constructor(imageId: string, tries: number) {
    super(
      `image ${imageId}: a layer under it was merged each of the ${tries} times it was hashed; hashing again later`,
    );
    this.name = 'ChainMergedMeanwhileError';
  }
}

/**
 * Hashes a chain's backup after it is active and its task state is given back: the chain is
 * flattened into a scratch qcow2, the whole image a download returns, and its md5 and sha512
 * are recorded (ImageChecksummed). Reading the whole image costs the same for an incremental
 * as for a full backup, so it is kept out of the backup's own time; the instance is free for
 * its next snapshot meanwhile.
 *
 * A merge (rotation, a deletion) may rewrite a layer under the image while it is read. Merges
 * keep what the chain reads, but a hash that overlapped one is not trusted: if a merge of the
 * instance's chains was recorded between the start and the end of the read, the image is
 * hashed again. Merges never wait for a hash.
 */
export class ChecksumStep implements PlanStep<'checksum'> {
  readonly action = 'checksum';
  readonly needs = 'plan';

  constructor(private readonly deps: SnapshotStepDependencies) {}

  async run(state: PlannedSnapshot, _action: unknown, signal?: AbortSignal): Promise<void> {
    const drivers = this.deps.chains;
    if (!drivers) throw new PermanentStepError('this image store cannot keep backup chains');
    const { imageId } = state;
    if (!(await drivers.store.isLayer(imageId))) {
      throw new PermanentStepError(`image ${imageId} has no layer in the image store to hash`);
    }
    const startedAt = this.deps.clock.now();
    const digest = await this.hashOutsideMerges(drivers, state, signal);
    await appendToImage(
      this.deps.appender,
      state,
      decideChecksummed(state.image, {
        size: digest.size,
        checksum: digest.checksum,
        osHashAlgo: 'sha512',
        osHashValue: digest.osHashValue,
        ...timedSince(this.deps.clock, startedAt),
      }),
    );
  }

  private async hashOutsideMerges(
    drivers: BackupChainDrivers,
    state: PlannedSnapshot,
    signal?: AbortSignal,
  ): Promise<StoredImage> {
    const stream = backupChainStream(state.plan.instanceId);
    for (let tries = 1; ; tries += 1) {
      const before = (await drivers.log.readStream(stream)).length;
      const digest = await this.deps.faults.during('checksum', () =>
        drivers.store.wholeDigest(state.imageId, undefined, signal),
      );
      const meanwhile = (await drivers.log.readStream(stream)).slice(before);
      if (!meanwhile.some((e) => e.type === 'LayerMergeStarted' || e.type === 'LayerMerged')) {
        return digest;
      }
      if (tries >= HASHES_PER_TRY) throw new ChainMergedMeanwhileError(state.imageId, tries);
    }
  }
}
