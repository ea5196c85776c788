import type { CausationContext, SnapshotStep, SnapshotStepRetried } from '../events';
import { BackupChainMerge } from './backup-chain-merge';
import type { DowntimeWatch, WatchedDomain } from './downtime-watch';
import { DowntimeRecorder } from './downtime-recorder';
import type { SnapshotAction } from '../domain/snapshot-next-step';
import type {
  PlannedSnapshot,
  RequestedSnapshot,
  SnapshotProcessState,
} from '../domain/snapshot-process.state';
import type { SnapshotStepDependencies } from './snapshot-step.dependencies';
import { ChecksumStep } from './steps/checksum.step';
import { CleanupStep } from './steps/cleanup.step';
import { ExtractStep } from './steps/extract.step';
import { FailStep } from './steps/fail.step';
import { MirrorStep } from './steps/mirror.step';
import { PlanStep } from './steps/plan.step';
import { ReleaseStep } from './steps/release.step';
import { RestoreStep } from './steps/restore.step';
import { SaveStep } from './steps/save.step';
import {
  StepPreconditionError,
  type SnapshotStepHandler,
  type SnapshotStepTable,
} from './steps/snapshot-step.handler';
import { recordRetry } from './steps/step-appends';
import { taskMoves, TaskTransitionStep } from './steps/task-transition.step';
import { UploadStep } from './steps/upload.step';

export { PermanentStepError } from './permanent-step.error';
export type { SnapshotStepDependencies } from './snapshot-step.dependencies';

/**
 * Performs the actions of the snapshot process, each by its step (src/sagas/steps/): the
 * driver call (idempotent: it checks before it acts) and the append of its events, expecting
 * the revisions it read.
 */
export class SnapshotSteps {
  private readonly steps: SnapshotStepTable;
  private readonly failStep: FailStep;
  private readonly downtime: DowntimeRecorder;
  private readonly chainMerge: BackupChainMerge;

  constructor(
    private readonly deps: SnapshotStepDependencies,
    /** This boot of the host, recorded with extracted data (see drivers/host-boot.ts). */
    bootId: string,
  ) {
    const { appender } = deps;
    this.failStep = new FailStep(deps);
    this.downtime = new DowntimeRecorder(deps);
    this.chainMerge = new BackupChainMerge(deps);
    this.steps = {
      begin: new TaskTransitionStep(appender, 'begin', taskMoves.begin),
      plan: new PlanStep(deps),
      save: new SaveStep(deps),
      'mark-pending-upload': new TaskTransitionStep(
        appender,
        'mark-pending-upload',
        taskMoves['mark-pending-upload'],
      ),
      mirror: new MirrorStep(deps),
      extract: new ExtractStep(deps, bootId),
      cleanup: new CleanupStep(deps),
      restore: new RestoreStep(deps),
      'mark-uploading': new TaskTransitionStep(
        appender,
        'mark-uploading',
        taskMoves['mark-uploading'],
      ),
      upload: new UploadStep(deps, bootId),
      finish: new TaskTransitionStep(appender, 'finish', taskMoves.finish),
      checksum: new ChecksumStep(deps),
      fail: this.failStep,
      release: new ReleaseStep(deps),
    };
  }

  /**
   * `signal` stops a long driver call (the conversion) when the snapshot is no longer wanted,
   * e.g. its image was deleted; the caller then re-reads the streams and compensates.
   */
  async perform(
    action: SnapshotAction,
    state: SnapshotProcessState,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.deps.faults.stallIfArmed(action.kind);
    this.deps.faults.failIfArmed(action.kind);
    if (action.kind === 'done') return;
    const step: SnapshotStepHandler = this.steps[action.kind];
    if (step.needs === 'plan') {
      if (state.phase !== 'planned') throw new StepPreconditionError(action.kind, state.phase);
      await step.run(state, action, signal);
    } else {
      if (state.phase === 'unrequested') throw new StepPreconditionError(action.kind, state.phase);
      await step.run(state, action, signal);
    }
  }

  /** Records that the snapshot failed at `step` (see FailStep). */
  async fail(state: RequestedSnapshot, step: SnapshotStep, reason: string): Promise<void> {
    await this.failStep.run(state, { kind: 'fail', step, reason });
  }

  async recordRetry(
    state: RequestedSnapshot,
    retry: Omit<SnapshotStepRetried['data'], 'imageId'>,
  ): Promise<void> {
    await recordRetry(this.deps.appender, state, retry);
  }

  /**
   * Removes a deleted image's data; absent data is fine. An image of a backup chain leaves
   * its chain first (see BackupChainMerge).
   */
  async discardData(imageId: string, origin: CausationContext): Promise<void> {
    await this.chainMerge.removeImage(imageId, origin);
  }

  /** Starts watching the planned snapshot's domain for downtime (see DowntimeRecorder). */
  watchDowntime(state: PlannedSnapshot): Promise<WatchedDomain | null> {
    return this.downtime.watch(state);
  }

  /** Records what the watch saw (see DowntimeRecorder); false when there was nothing. */
  recordDowntime(state: RequestedSnapshot, watch: DowntimeWatch, final: boolean): Promise<boolean> {
    return this.downtime.record(state, watch, final);
  }
}
