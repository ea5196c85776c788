import { loadAggregate } from '../commands/aggregate-loader';
import { foldImage, type ImageState } from '../domain/image.state';
import { foldInstance, type InstanceState } from '../domain/instance.state';
import type { EventStore, ExpectedRevision } from '../event-store/event-store.port';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  type CausationContext,
  type RecordedEvent,
  type SnapshotPlanned,
} from '../events';

/** Everything the snapshot process manager knows about one snapshot, folded from three streams. */
export interface SnapshotProcessState {
  readonly imageId: string;
  readonly image: ImageState;
  readonly imageRevision: ExpectedRevision;
  readonly instance: InstanceState;
  readonly instanceRevision: ExpectedRevision;
  readonly plan: SnapshotPlanned['data'] | null;
  /** Live path: the disk was mirrored into the delta (DiskMirrored). */
  readonly mirrored: boolean;
  /** Live path: the delta and any block job of ours are gone (DeltaRemoved). */
  readonly deltaRemoved: boolean;
  /** Cold path: managedsave was started (DomainSaveStarted), whether or not it finished. */
  readonly saveStarted: boolean;
  readonly snapshotRevision: ExpectedRevision;
  /** Actor, request and correlation of the request that started the snapshot. */
  readonly origin: CausationContext | null;
}

export function foldSnapshotProcess(input: {
  imageId: string;
  imageEvents: readonly RecordedEvent[];
  instanceEvents: readonly RecordedEvent[];
  snapshotEvents: readonly RecordedEvent[];
}): SnapshotProcessState {
  const image = foldImage(input.imageEvents as never);
  const instance = foldInstance(input.instanceEvents as never);
  const planned = input.snapshotEvents.find((e) => e.type === 'SnapshotPlanned') as
    RecordedEvent<'SnapshotPlanned', SnapshotPlanned['data']> | undefined;
  // The request that started the snapshot: its ImageReserved, or, if the image was never
  // reserved, the TaskStateChanged that took the task state for it.
  const reserved =
    input.imageEvents.find((e) => e.type === 'ImageReserved') ??
    input.instanceEvents.find((e) => {
      const data = e.data as { imageId?: string; to?: string | null };
      return (
        e.type === 'TaskStateChanged' &&
        data.imageId === input.imageId &&
        (data.to === 'image_snapshot_pending' || data.to === 'image_backup')
      );
    });
  const revisionOf = (events: readonly RecordedEvent[]): ExpectedRevision =>
    events.at(-1)?.revision ?? 'no_stream';
  const related = [
    ...input.imageEvents,
    ...input.snapshotEvents,
    ...input.instanceEvents.filter(
      (e) => (e.data as { imageId?: string }).imageId === input.imageId,
    ),
  ];
  const latest = related.sort((a, b) => a.position - b.position).at(-1);
  return {
    imageId: input.imageId,
    image,
    imageRevision: revisionOf(input.imageEvents),
    instance,
    instanceRevision: revisionOf(input.instanceEvents),
    plan: planned?.data ?? null,
    mirrored: input.snapshotEvents.some((e) => e.type === 'DiskMirrored'),
    deltaRemoved: input.snapshotEvents.some((e) => e.type === 'DeltaRemoved'),
    saveStarted: input.snapshotEvents.some((e) => e.type === 'DomainSaveStarted'),
    snapshotRevision: revisionOf(input.snapshotEvents),
    origin: reserved
      ? {
          actor: reserved.metadata.actor,
          requestId: reserved.metadata.requestId,
          correlationId: reserved.metadata.correlationId,
          causationId: latest?.metadata.eventId ?? reserved.metadata.eventId,
        }
      : null,
  };
}

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
