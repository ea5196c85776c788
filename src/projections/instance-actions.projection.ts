import type { EntityManager } from 'typeorm';
import { isRequestedTaskState, type TaskState } from '../events';
import type { RecordedEvent } from '../events/recorded-event';
import {
  InstanceActionEvent,
  type InstanceActionEventResult,
} from './entities/instance-action-event.entity';
import { InstanceAction } from './entities/instance-action.entity';
import type { InstanceView } from './entities/instance-view.entity';
import type { SnapshotHistory } from './entities/snapshot-history.entity';
import { insertRow, lookUpRow, updateRows } from './plain-sql';
import { asKnownEvent, type Projection } from './projection';
import { perTransaction, rememberedRow } from './transaction-memo';

/** What identifies an action and its compute event. */
type ActionKey = Pick<InstanceAction, 'instanceId' | 'requestId' | 'action'>;

/**
 * What one transaction has learned (transaction-memo.ts): the action of each image, and the
 * images whose compute event has started. No later event undoes either.
 */
const memoIn = perTransaction(() => ({
  actions: new Map<string, ActionKey>(),
  started: new Set<string>(),
}));

/** Nova's action name for the task state an API request takes, or null if it starts none. */
export function actionNameForTaskState(to: TaskState | null): string | null {
  if (to === 'image_snapshot_pending') return 'createImage';
  if (to === 'image_backup') return 'createBackup';
  return null;
}

/** The compute-side event Nova records for an action (its `wrap_instance_event` name). */
export function eventNameForAction(action: string): string {
  return action === 'createBackup' ? 'compute_backup_instance' : 'compute_snapshot_instance';
}

/** How an action's snapshot ended, as Nova reports it on the event and the action. */
export interface SnapshotOutcome {
  readonly result: InstanceActionEventResult;
  readonly traceback: string | null;
  /** The action's message: `Error` when it failed, else null. */
  readonly message: 'Error' | null;
}

/**
 * The outcome when a snapshot releases the task state: a success exactly when its image
 * became active. A failure keeps the traceback recorded at SnapshotFailed, else the reason
 * given for the release, else the history's failure reason.
 */
export function snapshotOutcome(input: {
  readonly historyResult: string | null;
  readonly recordedTraceback: string | null;
  readonly releaseReason: string | null;
  readonly historyFailure: string | null;
}): SnapshotOutcome {
  if (input.historyResult === 'active')
    return { result: 'Success', traceback: null, message: null };
  return {
    result: 'Error',
    traceback:
      input.recordedTraceback ??
      input.releaseReason ??
      input.historyFailure ??
      'the snapshot released the task state before it completed',
    message: 'Error',
  };
}

/** The traceback recorded for a failed step: which step, and why. */
export function failureTraceback(step: string, reason: string): string {
  return `snapshot failed at ${step}: ${reason}`;
}

/**
 * instance_action and instance_action_event: Nova's os-instance-actions, built from the
 * snapshot's events.
 *
 * - TaskStateChanged None → image_snapshot_pending (or image_backup), appended by the API
 *   request, starts the action `createImage` (`createBackup`) with that request's id, actor
 *   and time.
 * - The saga's first step (image_snapshot_pending → image_snapshot, or SnapshotPlanned if
 *   that comes first) starts the event `compute_snapshot_instance` on the instance's host.
 * - SnapshotFailed records the failing step and reason as the event's traceback.
 * - TaskStateChanged → None finishes the event: Success if the image became active, else
 *   Error; a failed action gets the message `Error`.
 *
 * The outcome is read from snapshot_history as it stands after the release, so this
 * projection must come after the snapshot history in the same transaction.
 */
export class InstanceActionsProjection implements Projection {
  readonly name = 'instance-actions';
  readonly tables = ['instance_action', 'instance_action_event'];

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    const event = asKnownEvent(recorded);
    const at = event.metadata.occurredAt;
    switch (event.type) {
      case 'TaskStateChanged': {
        const { instanceId, imageId, from, to, reason } = event.data;
        const name = from === null ? actionNameForTaskState(to) : null;
        if (name !== null) {
          const requestId = event.metadata.requestId;
          const started = await lookUpRow(
            manager,
            'SELECT 1 AS found FROM instance_action WHERE "instanceId" = :instanceId AND "requestId" = :requestId',
            { instanceId, requestId },
          );
          if (started !== null) return;
          await insertRow(manager, InstanceAction, {
            instanceId,
            requestId,
            action: name,
            imageId,
            userId: event.metadata.actor.userId,
            projectId: event.metadata.actor.projectId,
            startTime: at,
            updatedAt: at,
            message: null,
          });
          return;
        }
        if (isRequestedTaskState(from) && to === 'image_snapshot') {
          await this.startEvent(manager, imageId, at);
          return;
        }
        if (to === null) await this.finish(manager, imageId, at, reason ?? null);
        return;
      }
      case 'SnapshotPlanned':
        await this.startEvent(manager, event.data.imageId, at);
        return;
      case 'SnapshotFailed': {
        const action = await this.actionOf(manager, event.data.imageId);
        if (!action) return;
        const key = this.eventKey(action);
        const row = await this.eventRow(manager, key);
        if (row && row.traceback === null) {
          await updateRows(manager, InstanceActionEvent, key, {
            traceback: failureTraceback(event.data.step, event.data.reason),
          });
        }
        await updateRows(
          manager,
          InstanceAction,
          { instanceId: action.instanceId, requestId: action.requestId },
          { updatedAt: at },
        );
        return;
      }
      default:
        return;
    }
  }

  /** The action that reserved the image; kept for the transaction (it never changes). */
  private actionOf(manager: EntityManager, imageId: string): Promise<ActionKey | null> {
    return rememberedRow(memoIn(manager).actions, imageId, () =>
      lookUpRow<ActionKey>(
        manager,
        'SELECT "instanceId", "requestId", action FROM instance_action WHERE "imageId" = :imageId',
        { imageId },
      ),
    );
  }

  private eventKey(action: ActionKey) {
    return {
      instanceId: action.instanceId,
      requestId: action.requestId,
      event: eventNameForAction(action.action),
    };
  }

  /** The compute event's traceback and finish time, if the event has started. */
  private eventRow(
    manager: EntityManager,
    key: ReturnType<InstanceActionsProjection['eventKey']>,
  ): Promise<Pick<InstanceActionEvent, 'traceback' | 'finishTime'> | null> {
    return lookUpRow(
      manager,
      'SELECT traceback, "finishTime" FROM instance_action_event WHERE "instanceId" = :instanceId AND "requestId" = :requestId AND event = :event',
      key,
    );
  }

  /** Starts the action's compute event unless it has started already. */
  private async startEvent(manager: EntityManager, imageId: string, at: string): Promise<void> {
    const action = await this.actionOf(manager, imageId);
    if (!action) return;
    const key = this.eventKey(action);
    const { started } = memoIn(manager);
    if (started.has(imageId)) return;
    const found = await lookUpRow(
      manager,
      'SELECT 1 AS found FROM instance_action_event WHERE "instanceId" = :instanceId AND "requestId" = :requestId AND event = :event',
      key,
    );
    started.add(imageId);
    if (found !== null) return;
    const instance = await lookUpRow<Pick<InstanceView, 'host'>>(
      manager,
      'SELECT host FROM instance_view WHERE id = :id',
      { id: action.instanceId },
    );
    await insertRow(manager, InstanceActionEvent, {
      ...key,
      startTime: at,
      finishTime: null,
      result: null,
      traceback: null,
      host: instance?.host ?? null,
    });
    await updateRows(
      manager,
      InstanceAction,
      { instanceId: action.instanceId, requestId: action.requestId },
      { updatedAt: at },
    );
  }

  /** The task state is released: the event and the action end. */
  private async finish(
    manager: EntityManager,
    imageId: string,
    at: string,
    reason: string | null,
  ): Promise<void> {
    const action = await this.actionOf(manager, imageId);
    if (!action) return;
    const history = await lookUpRow<
      Pick<SnapshotHistory, 'result' | 'failedStep' | 'failureReason'>
    >(
      manager,
      'SELECT result, "failedStep", "failureReason" FROM snapshot_history WHERE "imageId" = :imageId',
      { imageId },
    );
    const key = this.eventKey(action);
    const row = await this.eventRow(manager, key);
    const outcome = snapshotOutcome({
      historyResult: history?.result ?? null,
      recordedTraceback: row?.traceback ?? null,
      releaseReason: reason,
      historyFailure:
        history?.failureReason != null
          ? history.failedStep
            ? failureTraceback(history.failedStep, history.failureReason)
            : history.failureReason
          : null,
    });
    if (row && row.finishTime === null) {
      await updateRows(manager, InstanceActionEvent, key, {
        finishTime: at,
        result: outcome.result,
        traceback: outcome.traceback,
      });
    }
    await updateRows(
      manager,
      InstanceAction,
      { instanceId: action.instanceId, requestId: action.requestId },
      { updatedAt: at, message: outcome.message },
    );
  }
}
