import { loadAggregate } from '../commands/aggregate-loader';
import type { EventStore } from '../event-store/event-store.port';
import { instanceStream } from '../events';
import { foldInstance } from '../domain/instance.state';

/**
 * Whose snapshots a snapshot saga runs. The all-in-one service runs every snapshot; an agent
 * only those of instances on its own host (the host their InstanceRegistered recorded), so a
 * createImage for an instance on host B is carried out by B's agent and no other.
 */
export interface SnapshotOwnership {
  /** The agent's host; null for the all-in-one service, which runs every snapshot. */
  readonly host: string | null;
  owns(instanceId: string): Promise<boolean>;
}

export const everySnapshot: SnapshotOwnership = {
  host: null,
  owns: () => Promise.resolve(true),
};

/** An agent's: the instance's stream, folded, names this host. */
export function snapshotsOnHost(store: EventStore, host: string): SnapshotOwnership {
  return {
    host,
    async owns(instanceId: string): Promise<boolean> {
      const { state } = await loadAggregate(store, instanceStream(instanceId), foldInstance);
      return state.host === host;
    },
  };
}
