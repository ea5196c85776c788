import { DomainNotFoundError } from '../../drivers/hypervisor.port';
import type { PlannedSnapshot } from '../../domain/snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { PlanStep } from './snapshot-step.handler';
import { appendToSnapshot, timedSince } from './step-appends';

/**
 * Live path (and its compensation): removes the delta and any copy job of ours still on the
 * disk (a crash mid-mirror leaves one). Check, then act: both may already be gone. A live
 * backup of a chain has a backup job instead of a block copy, and its output file in the
 * delta's place.
 */
export class CleanupStep implements PlanStep<'cleanup'> {
  readonly action = 'cleanup';
  readonly needs = 'plan';

  constructor(private readonly deps: SnapshotStepDependencies) {}

  async run(state: PlannedSnapshot): Promise<void> {
    const { hypervisor, deltas, clock } = this.deps;
    const { imageId, plan } = state;
    const instanceId = plan.instanceId;
    const startedAt = clock.now();
    let abortedJob = false;
    const chains = this.deps.chains;
    if (plan.chain && chains) {
      // Extracted: the backup job was seen to complete before ImageExtracted was recorded,
      // so there is none to abort. Compensating a copy that did not finish, there may be.
      if (!state.image.extracted)
        abortedJob = await chains.jobs.abortBackup(instanceId).catch((error: unknown) => {
          if (error instanceof DomainNotFoundError) return false;
          throw error;
        });
    } else if (plan.diskTarget) {
      abortedJob = await hypervisor
        .abortMirror(instanceId, plan.diskTarget, deltas.pathOf(imageId))
        .catch((error: unknown) => {
          if (error instanceof DomainNotFoundError) return false; // no domain, no job
          throw error;
        });
    }
    const removedFile = await deltas.remove(imageId);
    await appendToSnapshot(this.deps.appender, state, [
      {
        type: 'DeltaRemoved',
        data: { imageId, instanceId, removedFile, abortedJob, ...timedSince(clock, startedAt) },
      },
    ]);
  }
}
