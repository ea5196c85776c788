import { loadAggregate } from '../commands/aggregate-loader';
import { foldSnapshotProcess, type SnapshotProcessState } from '../domain/snapshot-process.state';
import type { EventStore } from '../event-store/event-store.port';
import { imageStream, instanceStream, snapshotStream } from '../events';

/** Reads a snapshot's three streams and folds them (the worker does this before each step). */
export async function loadSnapshotProcess(
  store: EventStore,
  imageId: string,
  instanceId: string,
): Promise<SnapshotProcessState> {
  const [image, instance, snapshot] = await Promise.all([
    loadAggregate(store, imageStream(imageId), (e) => e),
    loadAggregate(store, instanceStream(instanceId), (e) => e),
    loadAggregate(store, snapshotStream(imageId), (e) => e),
  ]);
  return foldSnapshotProcess({
    imageId,
    imageEvents: image.events,
    instanceEvents: instance.events,
    snapshotEvents: snapshot.events,
  });
}
