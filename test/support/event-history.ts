import {
  imageStream,
  instanceStream,
  snapshotStream,
  type Actor,
  type EventMetadata,
  type EventOfType,
  type ImageReserved,
  type PowerState,
  type RecordedEvent,
  type SnapledgerEventType,
  type SnapshotMode,
  type SnapshotStep,
  type TaskState,
  type VmState,
} from '../../src/events';
import { schemaVersionOf } from '../../src/events/schema-versions';

export const INSTANCE_ID = '11111111-1111-4111-8111-111111111111';
export const IMAGE_ID = '22222222-2222-4222-8222-222222222222';
export const OTHER_IMAGE_ID = '33333333-3333-4333-8333-333333333333';
export const OWNER_PROJECT = 'p-owner';
export const DOMAIN_NAME = 'vm-1';
export const DISK_PATH = '/var/lib/libvirt/images/vm-1.qcow2';
export const OWNER: Actor = {
  userId: 'u-alice',
  projectId: OWNER_PROJECT,
  roles: ['member', 'reader'],
};
/** When an event's time does not matter to the test. */
export const T0 = '2030-01-02T03:04:05.000Z';

type StreamKind = 'instance' | 'image' | 'snapshot';

export interface EventHistoryOptions {
  /** Who caused every event, unless `actors` names someone else for its stream. */
  readonly actor?: Actor;
  readonly actors?: Partial<Record<StreamKind, Actor>>;
  /** Also the correlation id, and the cause of the first event. */
  readonly requestId?: string;
  readonly imageId?: string;
  /** When each event occurred, unless the step names its own time. Default T0. */
  readonly at?: string;
}

/** Which interval libvirt saw: [cause, startedAt, endedAt, still ongoing?]. */
export type ObservedInterval = readonly [string, string, string, boolean?];

/**
 * A realistic event log of one instance and one snapshot of it, as the service writes it:
 * full metadata, each event caused by the one before, each stream with its own 0-based
 * revisions and one 1-based global position. The task state is tracked, so a transition
 * names the state it leaves as the decider would.
 */
export class EventHistory {
  readonly events: RecordedEvent[] = [];
  readonly requestId: string;
  readonly imageId: string;
  private previousId: string;
  private task: TaskState | null = null;

  constructor(private readonly options: EventHistoryOptions = {}) {
    this.requestId = options.requestId ?? 'req-00000000-0000-4000-8000-000000000001';
    this.imageId = options.imageId ?? IMAGE_ID;
    this.previousId = this.requestId;
  }

  /** The events of one stream, in revision order. */
  stream(streamName: string): RecordedEvent[] {
    return this.events.filter((e) => e.streamName === streamName);
  }

  get instanceEvents(): RecordedEvent[] {
    return this.stream(instanceStream(INSTANCE_ID));
  }

  get imageEvents(): RecordedEvent[] {
    return this.stream(imageStream(this.imageId));
  }

  get snapshotEvents(): RecordedEvent[] {
    return this.stream(snapshotStream(this.imageId));
  }

  /** Any event, even of a type this version does not know, with the next metadata. */
  record(streamName: string, type: string, data: unknown, at?: string): this {
    const position = this.events.length + 1;
    const eventId = `${this.requestId.slice(4, 12)}-0000-4000-8000-${String(position).padStart(12, '0')}`;
    const metadata: EventMetadata = {
      eventId,
      correlationId: this.requestId,
      causationId: this.previousId,
      actor: this.actorOf(streamName),
      requestId: this.requestId,
      occurredAt: at ?? this.options.at ?? T0,
      schemaVersion: schemaVersionOf(type),
    };
    const revision = this.stream(streamName).length;
    this.events.push({ streamName, revision, position, type, data, metadata });
    this.previousId = eventId;
    return this;
  }

  event<T extends SnapledgerEventType>(
    streamName: string,
    type: T,
    data: EventOfType<T>['data'],
    at?: string,
  ): this {
    return this.record(streamName, type, data, at);
  }

  registered(powerState: PowerState = 'running', at?: string): this {
    return this.instance(
      'InstanceRegistered',
      {
        instanceId: INSTANCE_ID,
        domainName: DOMAIN_NAME,
        projectId: OWNER_PROJECT,
        userId: OWNER.userId,
        ownerSource: 'snapledger',
        diskPath: DISK_PATH,
        diskFormat: 'qcow2',
        powerState,
        vmState:
          powerState === 'running' ? 'active' : powerState === 'paused' ? 'paused' : 'stopped',
        vcpus: 1,
        memoryMiB: 128,
        host: 'host-a',
      },
      at,
    );
  }

  powerSynced(powerState: PowerState, vmState: VmState, at?: string): this {
    return this.instance('PowerStateSynced', { instanceId: INSTANCE_ID, powerState, vmState }, at);
  }

  /** Moves the task state from wherever it is to `to`, held by the snapshot's image. */
  taskTo(
    to: TaskState | null,
    options: { at?: string; reason?: string; imageId?: string } = {},
  ): this {
    const from = this.task;
    this.task = to;
    const { at, reason, imageId = this.imageId } = options;
    return this.instance(
      'TaskStateChanged',
      { instanceId: INSTANCE_ID, from, to, imageId, ...(reason === undefined ? {} : { reason }) },
      at,
    );
  }

  reserved(at?: string, overrides: Partial<ImageReserved['data']> = {}): this {
    return this.image(
      'ImageReserved',
      {
        imageId: this.imageId,
        name: 'snap-1',
        instanceId: INSTANCE_ID,
        projectId: OWNER_PROJECT,
        userId: OWNER.userId,
        imageType: 'snapshot',
        properties: { image_type: 'snapshot', instance_uuid: INSTANCE_ID, owner: OWNER_PROJECT },
        ...overrides,
      },
      at,
    );
  }

  /** The plan of a running domain (cold, live) or a shut-off one (offline). */
  planned(mode: SnapshotMode, at?: string): this {
    const offline = mode === 'offline';
    return this.snapshot(
      'SnapshotPlanned',
      {
        imageId: this.imageId,
        instanceId: INSTANCE_ID,
        mode,
        priorPowerState: offline ? 'shutdown' : 'running',
        priorVmState: offline ? 'stopped' : 'active',
        domainName: DOMAIN_NAME,
        diskPath: DISK_PATH,
        diskKind: 'file',
        sourceFormat: 'qcow2',
        targetFormat: 'qcow2',
        virtualSize: 1048576,
      },
      at,
    );
  }

  saveStarted(startedAt = T0, at?: string): this {
    return this.snapshot(
      'DomainSaveStarted',
      { imageId: this.imageId, instanceId: INSTANCE_ID, startedAt },
      at,
    );
  }

  saved(startedAt = T0, durationMs = 1500, at?: string): this {
    return this.instance(
      'DomainSaved',
      {
        instanceId: INSTANCE_ID,
        imageId: this.imageId,
        priorPowerState: 'running',
        startedAt,
        durationMs,
      },
      at,
    );
  }

  /** What the snapshot's watch on libvirt saw from `watchedFrom` until `at`. */
  downtimeObserved(intervals: readonly ObservedInterval[], watchedFrom: string, at: string): this {
    return this.snapshot(
      'DowntimeObserved',
      {
        imageId: this.imageId,
        instanceId: INSTANCE_ID,
        intervals: intervals.map(([cause, startedAt, endedAt, ongoing]) => ({
          cause,
          startedAt,
          endedAt,
          durationMs: Date.parse(endedAt) - Date.parse(startedAt),
          ongoing: ongoing ?? false,
        })),
        watchedFrom,
        watchedUntil: at,
        gaps: 0,
      },
      at,
    );
  }

  /** Live path: the mirror step appends QuiesceSkipped and DiskMirrored together. */
  mirrored(startedAt = T0, durationMs = 600, at?: string): this {
    const ids = { imageId: this.imageId, instanceId: INSTANCE_ID };
    return this.snapshot(
      'QuiesceSkipped',
      { ...ids, reason: 'the domain has no QEMU guest agent channel' },
      at,
    ).snapshot('DiskMirrored', { ...ids, overBackingFile: false, startedAt, durationMs }, at);
  }

  deltaRemoved(startedAt = T0, durationMs = 2, at?: string): this {
    return this.snapshot(
      'DeltaRemoved',
      {
        imageId: this.imageId,
        instanceId: INSTANCE_ID,
        removedFile: true,
        abortedJob: false,
        startedAt,
        durationMs,
      },
      at,
    );
  }

  retried(step: string, attempt: number, at?: string): this {
    return this.snapshot(
      'SnapshotStepRetried',
      { imageId: this.imageId, step, attempt, reason: 'transient' },
      at,
    );
  }

  progressed(percent: number, at?: string): this {
    return this.image('ConversionProgressed', { imageId: this.imageId, percent }, at);
  }

  extracted(startedAt = T0, durationMs = 4000, at?: string): this {
    return this.image(
      'ImageExtracted',
      { imageId: this.imageId, diskFormat: 'qcow2', virtualSize: 1048576, startedAt, durationMs },
      at,
    );
  }

  restored(startedAt = T0, durationMs = 900, at?: string): this {
    return this.instance(
      'DomainRestored',
      {
        instanceId: INSTANCE_ID,
        imageId: this.imageId,
        powerState: 'running',
        startedAt,
        durationMs,
      },
      at,
    );
  }

  uploaded(startedAt = T0, durationMs = 200, at?: string): this {
    return this.image(
      'Uploaded',
      {
        imageId: this.imageId,
        size: 196608,
        virtualSize: 1048576,
        checksum: 'c'.repeat(32),
        osHashAlgo: 'sha512',
        osHashValue: 'd'.repeat(128),
        diskFormat: 'qcow2',
        containerFormat: 'bare',
        startedAt,
        durationMs,
      },
      at,
    );
  }

  /** A chain's backup stored: active, its whole image to be hashed (null size and checksums). */
  uploadedAsLayer(startedAt = T0, durationMs = 60, at?: string): this {
    return this.image(
      'Uploaded',
      {
        imageId: this.imageId,
        size: null,
        virtualSize: 1048576,
        checksum: null,
        osHashAlgo: null,
        osHashValue: null,
        diskFormat: 'qcow2',
        containerFormat: 'bare',
        startedAt,
        durationMs,
        store: 'local',
        chain: {
          chainId: 'c0ffee00-0000-4000-8000-000000000001',
          kind: 'full',
          parentImageId: null,
          chainLength: 1,
          bytesCopied: 65536,
          bytesStored: 131072,
        },
      },
      at,
    );
  }

  /** The whole image of a chain's backup hashed (ImageChecksummed). */
  checksummed(startedAt = T0, durationMs = 900, at?: string): this {
    return this.image(
      'ImageChecksummed',
      {
        imageId: this.imageId,
        size: 327680,
        checksum: 'e'.repeat(32),
        osHashAlgo: 'sha512',
        osHashValue: 'f'.repeat(128),
        startedAt,
        durationMs,
      },
      at,
    );
  }

  /** Hashing a chain's backup was given up (ImageChecksumFailed). */
  checksumFailed(reason: string, at?: string): this {
    return this.image('ImageChecksumFailed', { imageId: this.imageId, reason }, at);
  }

  failed(step: SnapshotStep, reason: string, at?: string): this {
    return this.image('SnapshotFailed', { imageId: this.imageId, step, reason }, at);
  }

  deleted(at?: string): this {
    return this.image('ImageDeleted', { imageId: this.imageId, reason: 'user' }, at);
  }

  /** The cold snapshot of a running domain, start to end, 5.6 s after 2025-01-01T10:00. */
  coldSnapshot(): this {
    const t = (seconds: string) => `2025-01-01T10:00:${seconds}Z`;
    return this.taskTo('image_snapshot_pending', { at: t('00.000') })
      .reserved(t('00.100'))
      .taskTo('image_snapshot', { at: t('00.300') })
      .planned('cold', t('00.400'))
      .taskTo('image_pending_upload', { at: t('00.500') })
      .saved(t('00.600'), 1400, t('02.000'))
      .progressed(33.9, t('03.000'))
      .progressed(99.99, t('04.000'))
      .extracted(t('02.050'), 2000, t('04.100'))
      .restored(t('04.200'), 300, t('04.500'))
      .taskTo('image_uploading', { at: t('04.600') })
      .uploaded(t('04.700'), 800, t('05.500'))
      .taskTo(null, { at: t('05.600') });
  }

  private actorOf(streamName: string): Actor {
    const kind: StreamKind = streamName.startsWith('instance-')
      ? 'instance'
      : streamName.startsWith('image-')
        ? 'image'
        : 'snapshot';
    return this.options.actors?.[kind] ?? this.options.actor ?? OWNER;
  }

  private instance<T extends SnapledgerEventType>(
    type: T,
    data: EventOfType<T>['data'],
    at?: string,
  ): this {
    return this.event(instanceStream(INSTANCE_ID), type, data, at);
  }

  private image<T extends SnapledgerEventType>(
    type: T,
    data: EventOfType<T>['data'],
    at?: string,
  ): this {
    return this.event(imageStream(this.imageId), type, data, at);
  }

  private snapshot<T extends SnapledgerEventType>(
    type: T,
    data: EventOfType<T>['data'],
    at?: string,
  ): this {
    return this.event(snapshotStream(this.imageId), type, data, at);
  }
}
