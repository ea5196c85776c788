import { decideTaskRelease } from '../../domain/instance.decider';
import type { RequestedSnapshot } from '../snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { ActionOf, RequestStep } from './snapshot-step.handler';
import { appendToInstance } from './step-appends';

/** The end of a snapshot that did not complete: its data discarded, the task state given back. */
export class ReleaseStep implements RequestStep<'release'> {
  readonly action = 'release';
  readonly needs = 'request';

  constructor(private readonly deps: SnapshotStepDependencies) {}

  async run(state: RequestedSnapshot, action: ActionOf<'release'>): Promise<void> {
    const { imageId } = state;
    // Leftover data must not hold the instance: release the task state even if removing
    // it fails (staging leftovers are swept at the next start).
    const discarded = await this.deps.images.discard(imageId).then(
      () => null,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    const reason =
      discarded === null
        ? action.reason
        : `${action.reason}; its data could not be removed: ${discarded}`;
    await appendToInstance(
      this.deps.appender,
      state,
      decideTaskRelease(state.instance, { imageId, reason }),
    );
  }
}
