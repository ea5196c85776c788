import { loadAggregate } from '../commands/aggregate-loader';
import { foldImage, type ImageState } from '../domain/image.state';
import { foldInstance, type InstanceState } from '../domain/instance.state';
import type { EventStore, ExpectedRevision } from '../event-store/event-store.port';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  type CausationContext,
  type EventOfType,
  type RecordedEvent,
  type SnapledgerEventType,
  type SnapshotPlanned,
} from '../events';

/** What the plan step recorded: the path (live, cold, offline), the disk and the formats. */
export type SnapshotPlan = SnapshotPlanned['data'];

/** What the three streams say of one snapshot, whatever its phase. */
interface SnapshotStreams {
  readonly imageId: string;
  readonly image: ImageState;
  readonly imageRevision: ExpectedRevision;
  readonly instance: InstanceState;
  readonly instanceRevision: ExpectedRevision;
  /** Live path: the disk was mirrored into the delta (DiskMirrored). */
  readonly mirrored: boolean;
  /** Live path: the delta and any block job of ours are gone (DeltaRemoved). */
  readonly deltaRemoved: boolean;
  /** Cold path: managedsave was started (DomainSaveStarted), whether or not it finished. */
  readonly saveStarted: boolean;
  readonly snapshotRevision: ExpectedRevision;
}

/**
 * Nothing in the log asks for this snapshot: no ImageReserved, and no task state taken for
 * it. There is nobody to act for, so nextStep has nothing for it to do.
 */
export interface UnrequestedSnapshot extends SnapshotStreams {
  readonly phase: 'unrequested';
  readonly origin: null;
  readonly plan: null;
}

/** What every requested snapshot knows: who asked, and for which instance. */
interface Requested extends SnapshotStreams {
  /** Actor, request and correlation of the request that started the snapshot. */
  readonly origin: CausationContext;
  /** The instance the request named. */
  readonly instanceId: string;
}

/** Requested (the task state taken for it, its image perhaps reserved), not planned yet. */
export interface UnplannedSnapshot extends Requested {
  readonly phase: 'unplanned';
  readonly plan: null;
}

/** Planned: libvirt and qemu-img were read and the path chosen (`plan.mode`). */
export interface PlannedSnapshot extends Requested {
  readonly phase: 'planned';
  readonly plan: SnapshotPlan;
}

export type RequestedSnapshot = UnplannedSnapshot | PlannedSnapshot;

/** Everything the snapshot process manager knows about one snapshot, folded from three streams. */
export type SnapshotProcessState = UnrequestedSnapshot | RequestedSnapshot;

type RecordedOf<T extends SnapledgerEventType> = RecordedEvent<T, EventOfType<T>['data']>;

/** Narrows a recorded event by its type string (the store reads events untyped). */
function isEventOf<T extends SnapledgerEventType>(
  event: RecordedEvent,
  type: T,
): event is RecordedOf<T> {
  return event.type === type;
}

/** Whether an instance event concerns this image (TaskStateChanged, DomainSaved... name one). */
function concernsImage(event: RecordedEvent, imageId: string): boolean {
  const data: unknown = event.data;
  return typeof data === 'object' && data !== null && 'imageId' in data && data.imageId === imageId;
}

export function foldSnapshotProcess(input: {
  imageId: string;
  imageEvents: readonly RecordedEvent[];
  instanceEvents: readonly RecordedEvent[];
  snapshotEvents: readonly RecordedEvent[];
}): SnapshotProcessState {
  const image = foldImage(input.imageEvents as never);
  const instance = foldInstance(input.instanceEvents as never);
  const planned = input.snapshotEvents.find((e) => isEventOf(e, 'SnapshotPlanned'));
  // The request that started the snapshot: its ImageReserved, or, if the image was never
  // reserved, the TaskStateChanged that took the task state for it.
  const reserved =
    input.imageEvents.find((e) => isEventOf(e, 'ImageReserved')) ??
    input.instanceEvents
      .filter((e) => isEventOf(e, 'TaskStateChanged'))
      .find(
        (e) =>
          e.data.imageId === input.imageId &&
          (e.data.to === 'image_snapshot_pending' || e.data.to === 'image_backup'),
      );
  const revisionOf = (events: readonly RecordedEvent[]): ExpectedRevision =>
    events.at(-1)?.revision ?? 'no_stream';
  const related = [
    ...input.imageEvents,
    ...input.snapshotEvents,
    ...input.instanceEvents.filter((e) => concernsImage(e, input.imageId)),
  ];
  const latest = related.sort((a, b) => a.position - b.position).at(-1);
  const streams: SnapshotStreams = {
    imageId: input.imageId,
    image,
    imageRevision: revisionOf(input.imageEvents),
    instance,
    instanceRevision: revisionOf(input.instanceEvents),
    mirrored: input.snapshotEvents.some((e) => e.type === 'DiskMirrored'),
    deltaRemoved: input.snapshotEvents.some((e) => e.type === 'DeltaRemoved'),
    saveStarted: input.snapshotEvents.some((e) => e.type === 'DomainSaveStarted'),
    snapshotRevision: revisionOf(input.snapshotEvents),
  };
  if (!reserved) return { ...streams, phase: 'unrequested', origin: null, plan: null };
  const requested = {
    ...streams,
    instanceId: reserved.data.instanceId,
    origin: {
      actor: reserved.metadata.actor,
      requestId: reserved.metadata.requestId,
      correlationId: reserved.metadata.correlationId,
      causationId: latest?.metadata.eventId ?? reserved.metadata.eventId,
    },
  };
  return planned
    ? { ...requested, phase: 'planned', plan: planned.data }
    : { ...requested, phase: 'unplanned', plan: null };
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
