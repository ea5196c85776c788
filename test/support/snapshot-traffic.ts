import { randomUUID } from 'node:crypto';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  type Actor,
  type SnapledgerEvent,
  type TaskState,
} from '../../src/events';

export interface OfflineSnapshotSpec {
  readonly instanceId: string;
  readonly imageId: string;
  readonly imageName: string;
  readonly actor: Actor;
  readonly domainName: string;
  readonly diskPath: string;
  /** The moment each step starts, as the clock of the log being written reads it. */
  readonly now: () => string;
}

/** One event to append, and the stream it goes to. */
export interface StreamEvent {
  readonly stream: string;
  readonly event: SnapledgerEvent;
}

/**
 * The nine events of a completed offline snapshot of a shut-off instance, in the order the
 * service appends them: four task-state changes around ImageReserved, SnapshotPlanned,
 * ImageExtracted and Uploaded. For benchmarks that need a realistic log without libvirt.
 */
export function offlineSnapshotEvents(spec: OfflineSnapshotSpec): StreamEvent[] {
  const { instanceId, imageId, actor } = spec;
  const task = (from: TaskState | null, to: TaskState | null): StreamEvent => ({
    stream: instanceStream(instanceId),
    event: { type: 'TaskStateChanged', data: { instanceId, from, to, imageId } },
  });
  const onImage = (event: SnapledgerEvent): StreamEvent => ({
    stream: imageStream(imageId),
    event,
  });
  return [
    task(null, 'image_snapshot_pending'),
    onImage({
      type: 'ImageReserved',
      data: {
        imageId,
        name: spec.imageName,
        instanceId,
        projectId: actor.projectId,
        userId: actor.userId,
        imageType: 'snapshot',
        properties: {
          image_type: 'snapshot',
          instance_uuid: instanceId,
          user_id: actor.userId,
          owner: actor.projectId,
        },
      },
    }),
    task('image_snapshot_pending', 'image_snapshot'),
    {
      stream: snapshotStream(imageId),
      event: {
        type: 'SnapshotPlanned',
        data: {
          imageId,
          instanceId,
          mode: 'offline',
          priorPowerState: 'shutdown',
          priorVmState: 'stopped',
          domainName: spec.domainName,
          diskPath: spec.diskPath,
          diskKind: 'file',
          sourceFormat: 'qcow2',
          targetFormat: 'qcow2',
          virtualSize: 1024 ** 3,
        },
      },
    },
    task('image_snapshot', 'image_pending_upload'),
    onImage({
      type: 'ImageExtracted',
      data: {
        imageId,
        diskFormat: 'qcow2',
        virtualSize: 1024 ** 3,
        startedAt: spec.now(),
        durationMs: 350,
      },
    }),
    task('image_pending_upload', 'image_uploading'),
    onImage({
      type: 'Uploaded',
      data: {
        imageId,
        size: 268_763_136,
        virtualSize: 1024 ** 3,
        checksum: randomUUID().replaceAll('-', ''),
        osHashAlgo: 'sha512',
        osHashValue: `${randomUUID()}${randomUUID()}`.replaceAll('-', '').padEnd(128, '0'),
        diskFormat: 'qcow2',
        containerFormat: 'bare',
        startedAt: spec.now(),
        durationMs: 130,
      },
    }),
    task('image_uploading', null),
  ];
}
