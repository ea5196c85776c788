import { decideChecksummed } from '../../domain/image.decider';
import type { PlannedSnapshot } from '../../domain/snapshot-process.state';
import { PermanentStepError } from '../permanent-step.error';
import type { ChainFileLocks } from '../chain-file-locks';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { PlanStep } from './snapshot-step.handler';
import { appendToImage, timedSince } from './step-appends';

/**
 * Hashes a chain's backup after it is active and its task state is given back: the chain is
 * flattened into a scratch qcow2, the whole image a download returns, and its md5 and sha512
 * are recorded (ImageChecksummed). Reading the whole image costs the same for an incremental
 * as for a full backup, so it is kept out of the backup's own time; the instance is free for
 * its next snapshot meanwhile.
 *
 * The instance's chain lock is held while hashing: a merge (BackupChainMerge) rewrites a
 * layer under the one being read, and must wait for the read to end.
 */
export class ChecksumStep implements PlanStep<'checksum'> {
  readonly action = 'checksum';
  readonly needs = 'plan';

  constructor(
    private readonly deps: SnapshotStepDependencies,
    private readonly chainFiles: ChainFileLocks,
  ) {}

  async run(state: PlannedSnapshot, _action: unknown, signal?: AbortSignal): Promise<void> {
    const drivers = this.deps.chains;
    if (!drivers) throw new PermanentStepError('this image store cannot keep backup chains');
    const { imageId } = state;
    await this.chainFiles.of(state.plan.instanceId).runExclusive(async () => {
      signal?.throwIfAborted();
      if (!(await drivers.store.isLayer(imageId))) {
        throw new PermanentStepError(`image ${imageId} has no layer in the image store to hash`);
      }
      const startedAt = this.deps.clock.now();
      const digest = await this.deps.faults.during('checksum', () =>
        drivers.store.wholeDigest(imageId, undefined, signal),
      );
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
    });
  }
}
