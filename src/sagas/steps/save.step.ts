import { decideDomainSaved } from '../../domain/instance.decider';
import type { PlannedSnapshot } from '../snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { PlanStep } from './snapshot-step.handler';
import { appendToInstance, appendToSnapshot, timedSince } from './step-appends';

/** Cold path: managedsave the running or paused domain before its disk is converted. */
export class SaveStep implements PlanStep<'save'> {
  readonly action = 'save';
  readonly needs = 'plan';

  constructor(private readonly deps: SnapshotStepDependencies) {}

  async run(state: PlannedSnapshot): Promise<void> {
    const { appender, clock, faults, hypervisor } = this.deps;
    const { imageId, instanceId, plan } = state;
    // The downtime starts here: recorded before the save, so a crash during it cannot
    // hide it. Once only: a resumed save keeps the first start.
    if (!state.saveStarted) {
      await appendToSnapshot(appender, state, [
        {
          type: 'DomainSaveStarted',
          data: { imageId, instanceId, startedAt: clock.now().toISOString() },
        },
      ]);
    }
    const startedAt = clock.now();
    await faults.during('save', () => hypervisor.managedSave(instanceId));
    await appendToInstance(
      appender,
      state,
      decideDomainSaved(state.instance, {
        imageId,
        priorPowerState: plan.priorPowerState,
        ...timedSince(clock, startedAt),
      }),
    );
  }
}
