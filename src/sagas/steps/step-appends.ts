import type { Clock } from '../../commands/clock';
import type { EventAppender } from '../../commands/event-appender';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  type SnapledgerEvent,
  type SnapshotStepRetried,
} from '../../events';
import type { RequestedSnapshot } from '../snapshot-process.state';

/*
 * The appends the steps share. Each expects the revision its stream was read at, so a step
 * that raced another writer fails with WrongExpectedRevisionError and is decided again.
 */

export function appendToInstance(
  appender: EventAppender,
  state: RequestedSnapshot,
  events: readonly SnapledgerEvent[],
) {
  return appender.append(
    instanceStream(state.instanceId),
    events,
    state.instanceRevision,
    state.origin,
  );
}

export function appendToImage(
  appender: EventAppender,
  state: RequestedSnapshot,
  events: readonly SnapledgerEvent[],
) {
  return appender.append(imageStream(state.imageId), events, state.imageRevision, state.origin);
}

export function appendToSnapshot(
  appender: EventAppender,
  state: RequestedSnapshot,
  events: readonly SnapledgerEvent[],
) {
  return appender.append(
    snapshotStream(state.imageId),
    events,
    state.snapshotRevision,
    state.origin,
  );
}

/** A transient failure of a step, kept so the history shows it (SnapshotStepRetried). */
export async function recordRetry(
  appender: EventAppender,
  state: RequestedSnapshot,
  retry: Omit<SnapshotStepRetried['data'], 'imageId'>,
): Promise<void> {
  await appendToSnapshot(appender, state, [
    { type: 'SnapshotStepRetried', data: { imageId: state.imageId, ...retry } },
  ]);
}

/** When a driver call began and how long it took, as the events record it. */
export function timedSince(clock: Clock, startedAt: Date) {
  return {
    startedAt: startedAt.toISOString(),
    durationMs: clock.now().getTime() - startedAt.getTime(),
  };
}
