import {
  foldSnapshotProcess,
  type SnapshotProcessState,
} from '../../src/sagas/snapshot-process.state';
import { specification } from './decider-specification';
import type { EventHistory } from './event-history';

/** The snapshot process manager's state, folded from the history's three streams. */
export function snapshotProcessOf(history: EventHistory): SnapshotProcessState {
  return foldSnapshotProcess({
    imageId: history.imageId,
    imageEvents: history.imageEvents,
    instanceEvents: history.instanceEvents,
    snapshotEvents: history.snapshotEvents,
  });
}

/** given(history).when(nextStep).then(action): the process manager's decisions. */
export const givenSnapshotProcess = specification(snapshotProcessOf);
