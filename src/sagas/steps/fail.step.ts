import { decideChecksumFailure, decideFailure } from '../../domain/image.decider';
import { decideDomainSaved } from '../../domain/instance.decider';
import type { RequestedSnapshot } from '../../domain/snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { ActionOf, RequestStep } from './snapshot-step.handler';
import { appendToImage, appendToInstance } from './step-appends';

/**
 * The snapshot fails at a step (SnapshotFailed): the image is killed, compensation follows.
 * Hashing a chain's backup fails after the image is active: it stays active, with no
 * checksums (ImageChecksumFailed).
 */
export class FailStep implements RequestStep<'fail'> {
  readonly action = 'fail';
  readonly needs = 'request';

  constructor(private readonly deps: SnapshotStepDependencies) {}

  async run(state: RequestedSnapshot, action: ActionOf<'fail'>): Promise<void> {
    const { step, reason } = action;
    if (step === 'checksum') {
      await appendToImage(this.deps.appender, state, decideChecksumFailure(state.image, reason));
      return;
    }
    if (step === 'save') await this.recordSaveThatHappenedAnyway(state);
    await appendToImage(this.deps.appender, state, decideFailure(state.image, { step, reason }));
  }

  /**
   * A managedsave reported as failed (a timeout, say) may still have saved the domain. If
   * libvirt now holds a managed-save image of this cold snapshot's domain, record it, so that
   * compensation restores the domain instead of leaving it saved.
   */
  private async recordSaveThatHappenedAnyway(state: RequestedSnapshot): Promise<void> {
    const { imageId, instanceId, instance } = state;
    if (state.plan?.mode !== 'cold' || instance.savedForImageId === imageId) return;
    const now = await this.deps.hypervisor.state(instanceId).catch(() => null);
    if (now?.state !== 'shut off' || !now.hasManagedSave) return;
    const at = this.deps.clock.now().toISOString();
    await appendToInstance(
      this.deps.appender,
      state,
      decideDomainSaved(instance, {
        imageId,
        priorPowerState: state.plan.priorPowerState,
        startedAt: at,
        durationMs: 0,
      }),
    );
  }
}
