import { loadAggregate } from '../commands/aggregate-loader';
import type { EventAppender } from '../commands/event-appender';
import { WrongExpectedRevisionError, type EventStore } from '../event-store/event-store.port';
import { snapshotStream } from '../events';
import type { RequestedSnapshot } from './snapshot-process.state';

/**
 * Records SnapshotQueued, once: a restarted wait finds it in the log. The snapshot stream is
 * read again, not taken from `state`, so a record made since is seen. Returns whether it was
 * missing (and so recorded, unless a concurrent append took the revision).
 */
export async function recordSnapshotQueued(
  store: EventStore,
  appender: EventAppender,
  state: RequestedSnapshot,
  queue: { readonly position: number; readonly limit: number },
): Promise<boolean> {
  const { imageId, instanceId } = state;
  const recorded = await loadAggregate(store, snapshotStream(imageId), (e) => e);
  if (recorded.events.some((e) => e.type === 'SnapshotQueued')) return false;
  await appender
    .append(
      snapshotStream(imageId),
      [{ type: 'SnapshotQueued', data: { imageId, instanceId, ...queue } }],
      recorded.revision,
      state.origin,
    )
    .catch((error: unknown) => {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
    });
  return true;
}
