import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  type Actor,
  type EventOfType,
  type NewEvent,
  type RecordedEvent,
  type SnapledgerEventType,
} from '../../src/events';
import { AuditLogEntry } from '../../src/projections/entities/audit-log-entry.entity';
import { ImageView } from '../../src/projections/entities/image-view.entity';
import { InstanceView } from '../../src/projections/entities/instance-view.entity';
import { ProjectionCheckpoint } from '../../src/projections/entities/projection-checkpoint.entity';
import { SnapshotHistory } from '../../src/projections/entities/snapshot-history.entity';
import { InstanceViewProjection } from '../../src/projections/instance-view.projection';
import type { Projection } from '../../src/projections/projection';
import { createViewProjections, ProjectionRunner } from '../../src/projections/projection-runner';
import { dumpViews } from '../../src/projections/view-dump';
import { createViewsDataSource } from '../../src/projections/views.data-source';

const PROJECT = 'p-owner';
const OTHER_PROJECT = 'p-admin';
const USER: Actor = { userId: 'u-alice', projectId: PROJECT, roles: ['member', 'reader'] };
const ADMIN: Actor = { userId: 'u-root', projectId: OTHER_PROJECT, roles: ['admin', 'member'] };
const VM = '11111111-1111-4111-8111-111111111111';
const IMG = '22222222-2222-4222-8222-222222222222';

/** Builds events with full metadata; each event is caused by the one before it. */
class Given {
  private seq = 0;
  private previous: string;
  readonly requestId: string;
  readonly events: { stream: string; event: NewEvent }[] = [];

  constructor(
    readonly actor: Actor = USER,
    requestId = 'req-00000000-0000-4000-8000-000000000001',
  ) {
    this.requestId = requestId;
    this.previous = requestId;
  }

  event<T extends SnapledgerEventType>(
    stream: string,
    type: T,
    data: EventOfType<T>['data'],
    occurredAt: string,
  ): this {
    this.seq += 1;
    const eventId = `${this.requestId.slice(4, 12)}-0000-4000-8000-${String(this.seq).padStart(12, '0')}`;
    this.events.push({
      stream,
      event: {
        type,
        data,
        metadata: {
          eventId,
          correlationId: this.requestId,
          causationId: this.previous,
          actor: this.actor,
          requestId: this.requestId,
          occurredAt,
          schemaVersion: 1,
        },
      },
    });
    this.previous = eventId;
    return this;
  }

  registered(
    at = '2025-01-01T00:00:00.000Z',
    powerState: 'running' | 'shutdown' = 'running',
  ): this {
    return this.event(
      instanceStream(VM),
      'InstanceRegistered',
      {
        instanceId: VM,
        domainName: 'vm-1',
        projectId: PROJECT,
        userId: USER.userId,
        ownerSource: 'snapledger',
        diskPath: '/var/lib/libvirt/images/vm-1.qcow2',
        diskFormat: 'qcow2',
        powerState,
        vmState: powerState === 'running' ? 'active' : 'stopped',
        vcpus: 1,
        memoryMiB: 128,
        host: 'host-a',
      },
      at,
    );
  }

  task(from: string | null, to: string | null, at: string, reason?: string): this {
    return this.event(
      instanceStream(VM),
      'TaskStateChanged',
      {
        instanceId: VM,
        from: from as never,
        to: to as never,
        imageId: IMG,
        ...(reason === undefined ? {} : { reason }),
      },
      at,
    );
  }

  reserved(at: string): this {
    return this.event(
      imageStream(IMG),
      'ImageReserved',
      {
        imageId: IMG,
        name: 'snap-1',
        instanceId: VM,
        projectId: PROJECT,
        userId: USER.userId,
        imageType: 'snapshot',
        properties: { image_type: 'snapshot', instance_uuid: VM, owner: PROJECT },
      },
      at,
    );
  }

  planned(mode: 'cold' | 'offline' | 'live', at: string): this {
    return this.event(
      snapshotStream(IMG),
      'SnapshotPlanned',
      {
        imageId: IMG,
        instanceId: VM,
        mode,
        priorPowerState: mode === 'offline' ? 'shutdown' : 'running',
        priorVmState: mode === 'offline' ? 'stopped' : 'active',
        domainName: 'vm-1',
        diskPath: '/var/lib/libvirt/images/vm-1.qcow2',
        sourceFormat: 'qcow2',
        targetFormat: 'qcow2',
        virtualSize: 1048576,
      },
      at,
    );
  }

  saved(startedAt: string, durationMs: number, at: string): this {
    return this.event(
      instanceStream(VM),
      'DomainSaved',
      { instanceId: VM, imageId: IMG, priorPowerState: 'running', startedAt, durationMs },
      at,
    );
  }

  saveStarted(startedAt: string, at: string): this {
    return this.event(
      snapshotStream(IMG),
      'DomainSaveStarted',
      { imageId: IMG, instanceId: VM, startedAt },
      at,
    );
  }

  /** What the snapshot's watch on libvirt saw: [cause, startedAt, endedAt, ongoing?]. */
  downtimeObserved(
    intervals: readonly [string, string, string, boolean?][],
    watchedFrom: string,
    at: string,
  ): this {
    return this.event(
      snapshotStream(IMG),
      'DowntimeObserved',
      {
        imageId: IMG,
        instanceId: VM,
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

  progressed(percent: number, at: string): this {
    return this.event(imageStream(IMG), 'ConversionProgressed', { imageId: IMG, percent }, at);
  }

  extracted(startedAt: string, durationMs: number, at: string): this {
    return this.event(
      imageStream(IMG),
      'ImageExtracted',
      { imageId: IMG, diskFormat: 'qcow2', virtualSize: 1048576, startedAt, durationMs },
      at,
    );
  }

  restored(startedAt: string, durationMs: number, at: string): this {
    return this.event(
      instanceStream(VM),
      'DomainRestored',
      { instanceId: VM, imageId: IMG, powerState: 'running', startedAt, durationMs },
      at,
    );
  }

  uploaded(startedAt: string, durationMs: number, at: string): this {
    return this.event(
      imageStream(IMG),
      'Uploaded',
      {
        imageId: IMG,
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

  failed(step: 'extract' | 'save', reason: string, at: string): this {
    return this.event(imageStream(IMG), 'SnapshotFailed', { imageId: IMG, step, reason }, at);
  }

  /** Live path: the mirror step's two events, then (later) the delta's removal. */
  mirrored(startedAt: string, durationMs: number, at: string): this {
    return this.event(
      snapshotStream(IMG),
      'QuiesceSkipped',
      { imageId: IMG, instanceId: VM, reason: 'the domain has no QEMU guest agent channel' },
      at,
    ).event(
      snapshotStream(IMG),
      'DiskMirrored',
      { imageId: IMG, instanceId: VM, overBackingFile: false, startedAt, durationMs },
      at,
    );
  }

  deltaRemoved(startedAt: string, durationMs: number, at: string): this {
    return this.event(
      snapshotStream(IMG),
      'DeltaRemoved',
      { imageId: IMG, instanceId: VM, removedFile: true, abortedJob: false, startedAt, durationMs },
      at,
    );
  }

  retried(step: string, attempt: number, at: string): this {
    return this.event(
      snapshotStream(IMG),
      'SnapshotStepRetried',
      { imageId: IMG, step, attempt, reason: 'transient' },
      at,
    );
  }

  /** The cold snapshot of a running domain, start to end. */
  coldSnapshot(): this {
    return this.task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
      .reserved('2025-01-01T10:00:00.100Z')
      .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
      .planned('cold', '2025-01-01T10:00:00.400Z')
      .task('image_snapshot', 'image_pending_upload', '2025-01-01T10:00:00.500Z')
      .saved('2025-01-01T10:00:00.600Z', 1400, '2025-01-01T10:00:02.000Z')
      .progressed(33.9, '2025-01-01T10:00:03.000Z')
      .progressed(99.99, '2025-01-01T10:00:04.000Z')
      .extracted('2025-01-01T10:00:02.050Z', 2000, '2025-01-01T10:00:04.100Z')
      .restored('2025-01-01T10:00:04.200Z', 300, '2025-01-01T10:00:04.500Z')
      .task('image_pending_upload', 'image_uploading', '2025-01-01T10:00:04.600Z')
      .uploaded('2025-01-01T10:00:04.700Z', 800, '2025-01-01T10:00:05.500Z')
      .task('image_uploading', null, '2025-01-01T10:00:05.600Z');
  }
}

describe('projections', () => {
  let dir: string;
  let store: SqliteEventStore;
  let views: DataSource;
  let runner: ProjectionRunner | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapledger-projections-'));
    store = SqliteEventStore.open(join(dir, 'events.sqlite'), { pollIntervalMs: 20 });
    views = createViewsDataSource(join(dir, 'views.sqlite'));
    await views.initialize();
  });

  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await store.close();
    await views.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function append(given: Given): Promise<number> {
    let position = 0;
    for (const { stream, event } of given.events)
      position = (await store.append(stream, [event], 'any')).position;
    return position;
  }

  /** when: the live runner follows the log up to `position`. */
  async function project(
    position: number,
    projections: Projection[] = createViewProjections(),
  ): Promise<void> {
    runner = new ProjectionRunner(store, views, projections, undefined, { retryDelayMs: 20 });
    await runner.start();
    expect(await runner.waitFor(position)).toBe(true);
  }

  const history = () => views.getRepository(SnapshotHistory).findOneByOrFail({ imageId: IMG });
  const image = () => views.getRepository(ImageView).findOneByOrFail({ id: IMG });
  const instance = () => views.getRepository(InstanceView).findOneByOrFail({ id: VM });
  const checkpoints = async () =>
    Object.fromEntries(
      (await views.getRepository(ProjectionCheckpoint).find()).map((c) => [c.name, c.position]),
    );

  describe('a cold snapshot that succeeds', () => {
    it('records every step in order, the downtime and the duration', async () => {
      // given
      const last = await append(new Given().registered().coldSnapshot());
      // when
      await project(last);
      // then
      const row = await history();
      expect(row.steps).toEqual([
        {
          step: 'begin',
          startedAt: '2025-01-01T10:00:00.100Z',
          finishedAt: '2025-01-01T10:00:00.300Z',
          durationMs: 200,
        },
        {
          step: 'plan',
          startedAt: '2025-01-01T10:00:00.400Z',
          finishedAt: '2025-01-01T10:00:00.400Z',
          durationMs: 0,
        },
        {
          step: 'save',
          startedAt: '2025-01-01T10:00:00.600Z',
          finishedAt: '2025-01-01T10:00:02.000Z',
          durationMs: 1400,
        },
        {
          step: 'extract',
          startedAt: '2025-01-01T10:00:02.050Z',
          finishedAt: '2025-01-01T10:00:04.100Z',
          durationMs: 2000,
        },
        {
          step: 'restore',
          startedAt: '2025-01-01T10:00:04.200Z',
          finishedAt: '2025-01-01T10:00:04.500Z',
          durationMs: 300,
        },
        {
          step: 'upload',
          startedAt: '2025-01-01T10:00:04.700Z',
          finishedAt: '2025-01-01T10:00:05.500Z',
          durationMs: 800,
        },
      ]);
      // restored at 04.500 − save started at 00.600
      expect(row.downtimeMs).toBe(3900);
      expect(row).toMatchObject({
        mode: 'cold',
        result: 'active',
        taskState: null,
        progress: 100,
        retries: 0,
        requestId: 'req-00000000-0000-4000-8000-000000000001',
        requestedAt: '2025-01-01T10:00:00.100Z',
        finishedAt: '2025-01-01T10:00:05.600Z',
        durationMs: 5500,
      });
    });

    it('makes the image active with its size, checksums and formats', async () => {
      const last = await append(new Given().registered().coldSnapshot());
      await project(last);
      expect(await image()).toMatchObject({
        status: 'active',
        visibility: 'private',
        projectId: PROJECT,
        instanceId: VM,
        properties: { image_type: 'snapshot', instance_uuid: VM, owner: PROJECT },
        size: 196608,
        virtualSize: 1048576,
        checksum: 'c'.repeat(32),
        osHashAlgo: 'sha512',
        osHashValue: 'd'.repeat(128),
        diskFormat: 'qcow2',
        containerFormat: 'bare',
        progress: 100,
        createdAt: '2025-01-01T10:00:00.100Z',
        updatedAt: '2025-01-01T10:00:05.500Z',
      });
      expect(await instance()).toMatchObject({
        powerState: 'running',
        taskState: null,
        taskImageId: null,
      });
    });
  });

  describe('while a snapshot runs', () => {
    it('shows the task state, the progress (whole percent) and the saving status', async () => {
      // given: a cold snapshot up to the start of its upload
      const given = new Given()
        .registered()
        .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
        .reserved('2025-01-01T10:00:00.100Z');
      const reservedAt = await append(given);
      await project(reservedAt);
      // then: the reservation sees the task state the API set just before
      expect((await history()).taskState).toBe('image_snapshot_pending');
      expect((await image()).status).toBe('queued');
      expect(await instance()).toMatchObject({
        taskState: 'image_snapshot_pending',
        taskImageId: IMG,
      });

      // when: the saga goes on
      given.events.length = 0;
      given
        .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
        .planned('cold', '2025-01-01T10:00:00.400Z')
        .task('image_snapshot', 'image_pending_upload', '2025-01-01T10:00:00.500Z')
        .saved('2025-01-01T10:00:00.600Z', 1400, '2025-01-01T10:00:02.000Z')
        .progressed(42.99, '2025-01-01T10:00:03.000Z');
      const progressedAt = await append(given);
      expect(await runner!.waitFor(progressedAt)).toBe(true);
      // then
      expect(await history()).toMatchObject({
        taskState: 'image_pending_upload',
        progress: 42,
        downtimeMs: null,
      });
      expect(await image()).toMatchObject({ status: 'queued', progress: 42 });
      expect((await instance()).powerState).toBe('shutdown');

      given.events.length = 0;
      given
        .extracted('2025-01-01T10:00:02.050Z', 2000, '2025-01-01T10:00:04.100Z')
        .restored('2025-01-01T10:00:04.200Z', 300, '2025-01-01T10:00:04.500Z')
        .task('image_pending_upload', 'image_uploading', '2025-01-01T10:00:04.600Z');
      expect(await runner!.waitFor(await append(given))).toBe(true);
      expect((await image()).status).toBe('saving');
      expect((await history()).downtimeMs).toBe(3900);
      expect((await instance()).powerState).toBe('running');
    });
  });

  describe('an image deleted while its snapshot runs', () => {
    it('records the snapshot as deleted, with who deleted it and where it was stopped', async () => {
      const given = new Given()
        .registered()
        .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
        .reserved('2025-01-01T10:00:00.100Z')
        .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
        .planned('cold', '2025-01-01T10:00:00.400Z')
        .saved('2025-01-01T10:00:00.500Z', 1400, '2025-01-01T10:00:01.900Z')
        .task('image_snapshot', 'image_pending_upload', '2025-01-01T10:00:02.000Z')
        .event(
          imageStream(IMG),
          'ImageDeleted',
          { imageId: IMG, reason: 'user' },
          '2025-01-01T10:00:03.000Z',
        )
        .restored('2025-01-01T10:00:03.100Z', 300, '2025-01-01T10:00:03.400Z')
        .task('image_pending_upload', null, '2025-01-01T10:00:03.500Z', 'image was deleted');
      await project(await append(given));
      const row = await history();
      expect(row).toMatchObject({
        result: 'deleted',
        taskState: null,
        failedStep: null,
        downtimeMs: 2900,
        finishedAt: '2025-01-01T10:00:03.500Z',
      });
      expect(row.failureReason).toMatch(
        /^the image was deleted by user \S+ \(request \S+\) while the snapshot was in task_state image_pending_upload/,
      );
      expect(await image()).toMatchObject({ status: 'deleted' });
    });

    it('leaves a finished snapshot active when its image is deleted later', async () => {
      const given = new Given()
        .registered()
        .coldSnapshot()
        .event(
          imageStream(IMG),
          'ImageDeleted',
          { imageId: IMG, reason: 'user' },
          '2025-01-02T00:00:00.000Z',
        );
      await project(await append(given));
      expect(await history()).toMatchObject({ result: 'active', failureReason: null });
    });
  });

  describe('an offline snapshot', () => {
    it('has no downtime and no save or restore step', async () => {
      const last = await append(
        new Given()
          .registered('2025-01-01T00:00:00.000Z', 'shutdown')
          .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
          .reserved('2025-01-01T10:00:00.100Z')
          .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
          .planned('offline', '2025-01-01T10:00:00.400Z')
          .task('image_snapshot', 'image_pending_upload', '2025-01-01T10:00:00.500Z')
          .extracted('2025-01-01T10:00:00.510Z', 1000, '2025-01-01T10:00:01.600Z')
          .task('image_pending_upload', 'image_uploading', '2025-01-01T10:00:01.700Z')
          .uploaded('2025-01-01T10:00:01.710Z', 500, '2025-01-01T10:00:02.300Z')
          .task('image_uploading', null, '2025-01-01T10:00:02.400Z'),
      );
      await project(last);
      const row = await history();
      expect(row.steps.map((s) => s.step)).toEqual(['begin', 'plan', 'extract', 'upload']);
      expect(row).toMatchObject({
        mode: 'offline',
        downtimeMs: 0,
        result: 'active',
        durationMs: 2300,
      });
    });
  });

  describe('a live snapshot', () => {
    it('has the quiesce, mirror and cleanup steps, and audit summaries for them', async () => {
      const last = await append(
        new Given()
          .registered()
          .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
          .reserved('2025-01-01T10:00:00.100Z')
          .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
          .planned('live', '2025-01-01T10:00:00.400Z')
          .task('image_snapshot', 'image_pending_upload', '2025-01-01T10:00:00.500Z')
          .mirrored('2025-01-01T10:00:00.600Z', 600, '2025-01-01T10:00:01.200Z')
          .extracted('2025-01-01T10:00:01.300Z', 1000, '2025-01-01T10:00:02.300Z')
          .deltaRemoved('2025-01-01T10:00:02.400Z', 5, '2025-01-01T10:00:02.405Z')
          .task('image_pending_upload', 'image_uploading', '2025-01-01T10:00:02.500Z')
          .uploaded('2025-01-01T10:00:02.600Z', 400, '2025-01-01T10:00:03.000Z')
          .task('image_uploading', null, '2025-01-01T10:00:03.100Z'),
      );
      await project(last);
      const row = await history();
      expect(row.steps.map((s) => s.step)).toEqual([
        'begin',
        'plan',
        'quiesce',
        'mirror',
        'extract',
        'cleanup',
        'upload',
      ]);
      expect(row.steps.find((s) => s.step === 'mirror')).toEqual({
        step: 'mirror',
        startedAt: '2025-01-01T10:00:00.600Z',
        finishedAt: '2025-01-01T10:00:01.200Z',
        durationMs: 600,
      });
      // Nothing was watched in this log: the downtime is unknown, not assumed from the mode.
      expect(row).toMatchObject({ mode: 'live', downtimeMs: null, result: 'active' });
      const audit = await views
        .getRepository(AuditLogEntry)
        .find({ where: { imageId: IMG }, order: { position: 'ASC' } });
      const summaryOf = (type: string) => audit.find((a) => a.type === type)?.summary;
      expect(summaryOf('QuiesceSkipped')).toBe(
        'quiesce skipped: the domain has no QEMU guest agent channel',
      );
      expect(summaryOf('DiskMirrored')).toBe(
        'disk mirrored into a delta (full copy) in 600 ms, domain kept running',
      );
      expect(summaryOf('DeltaRemoved')).toBe('delta removed');
      expect(audit.find((a) => a.type === 'DiskMirrored')?.projectId).toBe(PROJECT);
    });
  });

  describe('downtime, from what was observed', () => {
    const live = () =>
      new Given()
        .registered()
        .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
        .reserved('2025-01-01T10:00:00.100Z')
        .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
        .planned('live', '2025-01-01T10:00:00.400Z')
        .task('image_snapshot', 'image_pending_upload', '2025-01-01T10:00:00.500Z');

    it('is 0 for a watched live snapshot in which libvirt saw nothing', async () => {
      await project(
        await append(
          live()
            .mirrored('2025-01-01T10:00:00.600Z', 600, '2025-01-01T10:00:01.200Z')
            .downtimeObserved([], '2025-01-01T10:00:00.450Z', '2025-01-01T10:00:03.000Z'),
        ),
      );
      expect(await history()).toMatchObject({ downtimeMs: 0, downtimeIntervals: [] });
    });

    it('counts a pause libvirt saw during a live snapshot, and one still open at its end', async () => {
      await project(
        await append(
          live()
            .downtimeObserved(
              [['Suspended Paused', '2025-01-01T10:00:00.700Z', '2025-01-01T10:00:02.200Z']],
              '2025-01-01T10:00:00.450Z',
              '2025-01-01T10:00:02.300Z',
            )
            .downtimeObserved(
              [['Suspended Paused', '2025-01-01T10:00:03.000Z', '2025-01-01T10:00:03.250Z', true]],
              '2025-01-01T10:00:02.300Z',
              '2025-01-01T10:00:03.250Z',
            ),
        ),
      );
      const row = await history();
      expect(row.downtimeMs).toBe(1750);
      expect(row.downtimeIntervals).toEqual([
        {
          source: 'libvirt',
          cause: 'Suspended Paused',
          startedAt: '2025-01-01T10:00:00.700Z',
          endedAt: '2025-01-01T10:00:02.200Z',
          ongoing: false,
        },
        {
          source: 'libvirt',
          cause: 'Suspended Paused',
          startedAt: '2025-01-01T10:00:03.000Z',
          endedAt: '2025-01-01T10:00:03.250Z',
          ongoing: true,
        },
      ]);
      const audit = await views
        .getRepository(AuditLogEntry)
        .find({ where: { type: 'DowntimeObserved' }, order: { position: 'ASC' } });
      expect(audit[0].summary).toBe(
        'libvirt saw the domain down 1× for 1500 ms (Suspended Paused)',
      );
    });

    it("counts a cold save from its recorded start, and libvirt's view of the same save once", async () => {
      await project(
        await append(
          new Given()
            .registered()
            .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
            .reserved('2025-01-01T10:00:00.100Z')
            .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
            .planned('cold', '2025-01-01T10:00:00.400Z')
            // the first save was cut short by a crash; the resumed one started later
            .saveStarted('2025-01-01T10:00:00.500Z', '2025-01-01T10:00:00.501Z')
            .saved('2025-01-01T10:00:01.000Z', 1000, '2025-01-01T10:00:02.000Z')
            .restored('2025-01-01T10:00:03.000Z', 400, '2025-01-01T10:00:03.400Z')
            .downtimeObserved(
              [['Suspended Paused', '2025-01-01T10:00:00.550Z', '2025-01-01T10:00:03.390Z']],
              '2025-01-01T10:00:00.450Z',
              '2025-01-01T10:00:03.500Z',
            ),
        ),
      );
      const row = await history();
      expect(row.downtimeMs).toBe(2900);
      expect(row.downtimeIntervals.map((r) => [r.source, r.startedAt, r.endedAt])).toEqual([
        ['save', '2025-01-01T10:00:00.500Z', '2025-01-01T10:00:03.400Z'],
        ['libvirt', '2025-01-01T10:00:00.550Z', '2025-01-01T10:00:03.390Z'],
      ]);
    });

    it('is unknown (null) while a save is still open', async () => {
      await project(
        await append(
          new Given()
            .registered()
            .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
            .reserved('2025-01-01T10:00:00.100Z')
            .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
            .planned('cold', '2025-01-01T10:00:00.400Z')
            .saveStarted('2025-01-01T10:00:00.500Z', '2025-01-01T10:00:00.501Z'),
        ),
      );
      expect(await history()).toMatchObject({ downtimeMs: null });
    });
  });

  describe('a snapshot that fails at extract', () => {
    const failing = () =>
      new Given()
        .registered()
        .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
        .reserved('2025-01-01T10:00:00.100Z')
        .task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:00.300Z')
        .planned('cold', '2025-01-01T10:00:00.400Z')
        .task('image_snapshot', 'image_pending_upload', '2025-01-01T10:00:00.500Z')
        .saved('2025-01-01T10:00:00.600Z', 1400, '2025-01-01T10:00:02.000Z')
        .progressed(10, '2025-01-01T10:00:03.000Z')
        .retried('extract', 1, '2025-01-01T10:00:03.500Z')
        .retried('extract', 2, '2025-01-01T10:00:04.000Z')
        .failed('extract', 'qemu-img: No space left on device', '2025-01-01T10:00:05.000Z')
        .restored('2025-01-01T10:00:05.100Z', 300, '2025-01-01T10:00:05.400Z')
        .task(
          'image_pending_upload',
          null,
          '2025-01-01T10:00:05.500Z',
          'snapshot failed at extract',
        );

    it('keeps the image, killed, with the failing step and the reason', async () => {
      const last = await append(failing());
      await project(last);
      expect(await image()).toMatchObject({
        status: 'killed',
        failedStep: 'extract',
        failureReason: 'qemu-img: No space left on device',
        progress: 10,
        size: null,
        checksum: null,
      });
    });

    it('records the result, retries, the downtime until the restore and the end', async () => {
      const last = await append(failing());
      await project(last);
      const row = await history();
      expect(row).toMatchObject({
        result: 'killed',
        failedStep: 'extract',
        failureReason: 'qemu-img: No space left on device',
        retries: 2,
        taskState: null,
        downtimeMs: 4800,
        finishedAt: '2025-01-01T10:00:05.500Z',
        durationMs: 5400,
      });
      expect(row.steps.map((s) => s.step)).toEqual(['begin', 'plan', 'save', 'restore']);
      expect(await instance()).toMatchObject({ taskState: null, powerState: 'running' });
    });

    it('ignores progress after the failure, and becomes deleted only by ImageDeleted', async () => {
      const given = failing()
        .progressed(50, '2025-01-01T10:00:06.000Z')
        .event(
          imageStream(IMG),
          'ImageDeleted',
          { imageId: IMG, reason: 'user' },
          '2025-01-01T11:00:00.000Z',
        );
      await project(await append(given));
      expect(await image()).toMatchObject({
        status: 'deleted',
        progress: 10,
        failedStep: 'extract',
        deletedAt: '2025-01-01T11:00:00.000Z',
        updatedAt: '2025-01-01T11:00:00.000Z',
      });
    });
  });

  describe('the audit log', () => {
    it('has one row per event with the actor, request, correlation and causation ids', async () => {
      // given: the service registers the domain, an admin of another project snapshots it
      const sync = new Given(
        { userId: 'snapledger', projectId: 'snapledger', roles: ['admin', 'system'] },
        'req-99999999-0000-4000-8000-000000000000',
      ).registered();
      const request = new Given(ADMIN, 'req-aaaaaaaa-0000-4000-8000-000000000000')
        .task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z')
        .reserved('2025-01-01T10:00:00.100Z')
        .progressed(12.5, '2025-01-01T10:00:01.000Z');
      await append(sync);
      const last = await append(request);
      await project(last);
      const rows = await views.getRepository(AuditLogEntry).find({ order: { position: 'ASC' } });
      expect(rows).toHaveLength(4);
      const [registered, pending, reserved, progressed] = rows;
      expect(registered).toMatchObject({
        position: 1,
        type: 'InstanceRegistered',
        actorUserId: 'snapledger',
        actorRoles: 'admin,system',
        projectId: PROJECT,
        instanceId: VM,
        imageId: null,
      });
      expect(pending).toMatchObject({
        position: 2,
        eventId: request.events[0]!.event.metadata.eventId,
        streamName: instanceStream(VM),
        occurredAt: '2025-01-01T10:00:00.000Z',
        actorUserId: 'u-root',
        actorProjectId: OTHER_PROJECT,
        actorRoles: 'admin,member',
        requestId: 'req-aaaaaaaa-0000-4000-8000-000000000000',
        correlationId: 'req-aaaaaaaa-0000-4000-8000-000000000000',
        causationId: 'req-aaaaaaaa-0000-4000-8000-000000000000',
        // the owner of the instance, not the admin's project
        projectId: PROJECT,
        instanceId: VM,
        imageId: IMG,
        summary: 'task_state None → image_snapshot_pending',
      });
      expect(reserved).toMatchObject({
        causationId: request.events[0]!.event.metadata.eventId,
        projectId: PROJECT,
        summary: 'snapshot image "snap-1" reserved',
      });
      // ConversionProgressed names only the image: the instance comes from the image row
      expect(progressed).toMatchObject({
        causationId: request.events[1]!.event.metadata.eventId,
        instanceId: VM,
        imageId: IMG,
        projectId: PROJECT,
        summary: 'conversion 12%',
        data: { imageId: IMG, percent: 12.5 },
      });
    });

    it('records event types it does not know, and the views ignore them', async () => {
      const given = new Given().registered();
      given.events.push({
        stream: instanceStream(VM),
        event: {
          type: 'SomethingNew',
          data: { instanceId: VM, colour: 'blue' },
          metadata: {
            ...given.events[0]!.event.metadata,
            eventId: 'e-unknown',
            occurredAt: '2025-02-02T00:00:00.000Z',
          },
        },
      });
      await project(await append(given));
      const audit = await views.getRepository(AuditLogEntry).findOneByOrFail({ position: 2 });
      expect(audit).toMatchObject({
        type: 'SomethingNew',
        summary: 'SomethingNew',
        projectId: PROJECT,
      });
      expect((await instance()).updatedAt).toBe('2025-01-01T00:00:00.000Z');
    });
  });

  describe('the runner', () => {
    it('waitFor resolves once a live append is applied, and false on timeout', async () => {
      await project(0);
      const pending = runner!.waitFor(1);
      await append(new Given().registered());
      expect(await pending).toBe(true);
      expect((await instance()).name).toBe('vm-1');
      expect(runner!.position).toBe(1);
      expect(await runner!.waitFor(5, 50)).toBe(false);
    });

    it('writes the checkpoints in the transaction of the rows: a throwing projection advances nothing', async () => {
      // given: a projection that writes its rows and then throws on the second event
      let broken = true;
      const inner = new InstanceViewProjection();
      const exploding: Projection = {
        name: 'exploding-instance-view',
        tables: ['instance_view'],
        async apply(event: RecordedEvent, manager: EntityManager) {
          await inner.apply(event, manager);
          if (broken && event.position === 2) throw new Error('boom after writing');
        },
      };
      const audit = createViewProjections().find((p) => p.name === 'audit-log')!;
      const given = new Given()
        .registered('2025-01-01T00:00:00.000Z')
        .event(
          instanceStream(VM),
          'PowerStateSynced',
          { instanceId: VM, powerState: 'paused', vmState: 'paused' },
          '2025-01-01T00:01:00.000Z',
        );
      await append(given);

      // when
      runner = new ProjectionRunner(store, views, [audit, exploding], undefined, {
        retryDelayMs: 20,
      });
      await runner.start();
      expect(await runner.waitFor(2, 300)).toBe(false);

      // then: event 1 is applied; event 2's rows and checkpoints (of both projections) are not
      expect(runner.lastError?.message).toBe('boom after writing');
      expect(runner.position).toBe(1);
      expect(await checkpoints()).toEqual({ 'audit-log': 1, 'exploding-instance-view': 1 });
      expect((await instance()).powerState).toBe('running');
      expect(await views.getRepository(AuditLogEntry).count()).toBe(1);

      // and when the fault goes away, the runner retries from the checkpoints and catches up
      broken = false;
      expect(await runner.waitFor(2, 5000)).toBe(true);
      expect(runner.lastError).toBeUndefined();
      expect((await instance()).powerState).toBe('paused');
      expect(await views.getRepository(AuditLogEntry).count()).toBe(2);
      expect(await checkpoints()).toEqual({ 'audit-log': 2, 'exploding-instance-view': 2 });
    });

    it('applies each event once across restarts, and a new projection catches up alone', async () => {
      const first = await append(new Given().registered());
      await project(
        first,
        createViewProjections().filter((p) => p.name !== 'audit-log'),
      );
      await runner!.stop();
      const last = await append(
        new Given(USER, 'req-bbbbbbbb-0000-4000-8000-000000000000').coldSnapshot(),
      );

      // restart with the audit log added: it starts at 0, the others at their checkpoint
      await project(last);
      expect(await checkpoints()).toEqual({
        'instance-view': last,
        'image-view': last,
        'snapshot-history': last,
        'audit-log': last,
        'instance-actions': last,
      });
      expect(await views.getRepository(AuditLogEntry).count()).toBe(last);
      await runner!.stop();
      await project(last);
      expect(await views.getRepository(AuditLogEntry).count()).toBe(last);
    });

    it('rebuild empties the views and replays them identically', async () => {
      const last = await append(new Given().registered().coldSnapshot());
      await project(last);
      const live = await dumpViews(views);
      await views.getRepository(InstanceView).update({ id: VM }, { name: 'tampered' });

      const result = await runner!.rebuild();
      expect(result.events).toBe(last);
      expect(runner!.isRunning).toBe(false);
      expect(JSON.stringify(await dumpViews(views))).toBe(JSON.stringify(live));
      expect(await checkpoints()).toEqual({
        'instance-view': last,
        'image-view': last,
        'snapshot-history': last,
        'audit-log': last,
        'instance-actions': last,
      });

      // and the runner follows live appends again after start()
      await runner!.start();
      const next = await append(
        new Given(USER, 'req-cccccccc-0000-4000-8000-000000000000').event(
          instanceStream(VM),
          'PowerStateSynced',
          { instanceId: VM, powerState: 'paused', vmState: 'paused' },
          '2025-01-02T00:00:00.000Z',
        ),
      );
      expect(await runner!.waitFor(next)).toBe(true);
      expect((await instance()).vmState).toBe('paused');
    });
  });
});
