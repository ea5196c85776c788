import { decideDomainRestored } from '../../domain/instance.decider';
import type { PlannedSnapshot } from '../snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { PlanStep } from './snapshot-step.handler';
import { appendToInstance, timedSince } from './step-appends';

/** Cold path (and compensation): start the domain we saved, in the power state it had. */
export class RestoreStep implements PlanStep<'restore'> {
  readonly action = 'restore';
  readonly needs = 'plan';

  constructor(private readonly deps: SnapshotStepDependencies) {}

  async run(state: PlannedSnapshot): Promise<void> {
    const { appender, clock, faults, hypervisor } = this.deps;
    const { imageId, instanceId, plan } = state;
    const startedAt = clock.now();
    const paused = plan.priorPowerState === 'paused';
    await faults.during('restore', () => hypervisor.start(instanceId, { paused }));
    await appendToInstance(
      appender,
      state,
      decideDomainRestored(state.instance, {
        imageId,
        powerState: paused ? 'paused' : 'running',
        ...timedSince(clock, startedAt),
      }),
    );
  }
}
