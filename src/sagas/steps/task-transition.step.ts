import type { EventAppender } from '../../commands/event-appender';
import { decideTaskTransition } from '../../domain/instance.decider';
import type { InstanceState } from '../../domain/instance.state';
import type { TaskState } from '../../events';
import type { RequestedSnapshot } from '../snapshot-process.state';
import type { RequestStep, StepKind } from './snapshot-step.handler';
import { appendToInstance } from './step-appends';

/** A move of the instance's task state, from the state it must be in. */
interface TaskMove {
  readonly from: (instance: InstanceState) => TaskState;
  readonly to: TaskState | null;
}

/**
 * The steps that only move the task state on (Nova's order): one decision, one append on
 * the instance stream, whose expected revision is the compare-and-swap.
 */
export class TaskTransitionStep<K extends StepKind> implements RequestStep<K> {
  readonly needs = 'request';

  constructor(
    private readonly appender: EventAppender,
    readonly action: K,
    private readonly move: TaskMove,
  ) {}

  async run(state: RequestedSnapshot): Promise<void> {
    const { instance, imageId } = state;
    await appendToInstance(
      this.appender,
      state,
      decideTaskTransition(instance, { imageId, from: this.move.from(instance), to: this.move.to }),
    );
  }
}

/** The task-state moves, by the step that makes them. */
export const taskMoves: {
  readonly [K in 'begin' | 'mark-pending-upload' | 'mark-uploading' | 'finish']: TaskMove;
} = {
  begin: {
    // createBackup holds image_backup, createImage image_snapshot_pending
    from: (instance) =>
      instance.taskState === 'image_backup' ? 'image_backup' : 'image_snapshot_pending',
    to: 'image_snapshot',
  },
  'mark-pending-upload': { from: () => 'image_snapshot', to: 'image_pending_upload' },
  'mark-uploading': { from: () => 'image_pending_upload', to: 'image_uploading' },
  finish: { from: () => 'image_uploading', to: null },
};
