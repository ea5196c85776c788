import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageProgressEvent } from '../../src/api/rest/image-progress.state';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  type Actor,
  type EventOfType,
  type SnapledgerEventType,
} from '../../src/events';
import { summarize } from '../../src/projections/audit-log.projection';
import { AuditLogEntry } from '../../src/projections/entities/audit-log-entry.entity';
import { SnapshotHistory } from '../../src/projections/entities/snapshot-history.entity';
import { createViewProjections, ProjectionRunner } from '../../src/projections/projection-runner';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import { sqliteTarget } from '../../src/database/database-target';

const ACTOR: Actor = { userId: 'u-alice', projectId: 'p-1', roles: ['member'] };
const VM = '11111111-1111-4111-8111-111111111111';
const IMG = '33333333-3333-4333-8333-333333333333';

/** SnapshotQueued in the snapshot history, the audit log and the progress stream. */
describe('a snapshot that waits for a slot', () => {
  let dir: string;
  let store: SqliteEventStore;
  let views: DataSource;
  let runner: ProjectionRunner | undefined;
  let seq = 0;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapledger-queued-'));
    store = SqliteEventStore.open(join(dir, 'events.sqlite'), { pollIntervalMs: 20 });
    views = createViewsDataSource(sqliteTarget(join(dir, 'views.sqlite')));
    await views.initialize();
    seq = 0;
  });

  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await store.close();
    await views.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function given<T extends SnapledgerEventType>(
    stream: string,
    type: T,
    data: EventOfType<T>['data'],
    occurredAt: string,
  ): Promise<number> {
    seq += 1;
    const id = `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
    const appended = await store.append(
      stream,
      [
        {
          type,
          data,
          metadata: {
            eventId: id,
            correlationId: 'req-1',
            causationId: 'req-1',
            actor: ACTOR,
            requestId: 'req-1',
            occurredAt,
            schemaVersion: 1,
          },
        },
      ],
      'any',
    );
    return appended.position;
  }

  const task = (from: string | null, to: string | null, at: string, reason?: string) =>
    given(
      instanceStream(VM),
      'TaskStateChanged',
      {
        instanceId: VM,
        imageId: IMG,
        from: from as never,
        to: to as never,
        ...(reason ? { reason } : {}),
      },
      at,
    );

  async function requestedAndQueued(): Promise<number> {
    await given(
      instanceStream(VM),
      'InstanceRegistered',
      {
        instanceId: VM,
        domainName: 'vm-1',
        projectId: 'p-1',
        userId: 'u-alice',
        ownerSource: 'snapledger',
        diskPath: '/var/lib/libvirt/images/vm-1.qcow2',
        diskFormat: 'qcow2',
        powerState: 'shutdown',
        vmState: 'stopped',
        vcpus: 1,
        memoryMiB: 128,
        host: 'host-a',
      },
      '2025-01-01T00:00:00.000Z',
    );
    await task(null, 'image_snapshot_pending', '2025-01-01T10:00:00.000Z');
    await given(
      imageStream(IMG),
      'ImageReserved',
      {
        imageId: IMG,
        name: 'snap',
        instanceId: VM,
        projectId: 'p-1',
        userId: 'u-alice',
        imageType: 'snapshot',
        properties: {},
      },
      '2025-01-01T10:00:00.100Z',
    );
    return given(
      snapshotStream(IMG),
      'SnapshotQueued',
      { imageId: IMG, instanceId: VM, position: 3, limit: 2 },
      '2025-01-01T10:00:00.200Z',
    );
  }

  async function project(position: number): Promise<SnapshotHistory> {
    if (!runner) {
      runner = new ProjectionRunner(store, views, createViewProjections(), undefined, {
        retryDelayMs: 20,
      });
      await runner.start();
    }
    expect(await runner.waitFor(position)).toBe(true);
    return views.getRepository(SnapshotHistory).findOneByOrFail({ imageId: IMG });
  }

  const progressOf = (row: SnapshotHistory) =>
    imageProgressEvent(IMG, { image: { status: 'queued', progress: null }, history: row });

  it('is queued until it begins; the queue step then holds the wait, before begin', async () => {
    const queued = await project(await requestedAndQueued());
    expect(queued.queued).toBe(true);
    expect(queued.taskState).toBe('image_snapshot_pending');
    expect(queued.steps).toEqual([
      {
        step: 'queue',
        startedAt: '2025-01-01T10:00:00.200Z',
        finishedAt: '2025-01-01T10:00:00.200Z',
        durationMs: 0,
      },
    ]);
    expect(progressOf(queued)).toMatchObject({ step: 'queued', final: false });

    const begun = await project(
      await task('image_snapshot_pending', 'image_snapshot', '2025-01-01T10:00:03.200Z'),
    );
    expect(begun.queued).toBe(false);
    expect(begun.steps).toEqual([
      {
        step: 'queue',
        startedAt: '2025-01-01T10:00:00.200Z',
        finishedAt: '2025-01-01T10:00:03.200Z',
        durationMs: 3000,
      },
      {
        step: 'begin',
        startedAt: '2025-01-01T10:00:00.100Z',
        finishedAt: '2025-01-01T10:00:03.200Z',
        durationMs: 3100,
      },
    ]);
    expect(progressOf(begun).step).toBe('image_snapshot');

    const audit = await views.getRepository(AuditLogEntry).findOneByOrFail({
      type: 'SnapshotQueued',
    });
    expect(audit.summary).toBe('snapshot queued at place 3: all 2 slots of the host are taken');
  });

  it('ends the wait when the snapshot is released while queued (its image deleted)', async () => {
    await requestedAndQueued();
    await given(
      imageStream(IMG),
      'ImageDeleted',
      { imageId: IMG, reason: 'user' },
      '2025-01-01T10:00:01.000Z',
    );
    const row = await project(
      await task('image_snapshot_pending', null, '2025-01-01T10:00:01.200Z', 'deleted'),
    );
    expect(row).toMatchObject({ queued: false, result: 'deleted', taskState: null });
    expect(row.steps).toEqual([
      {
        step: 'queue',
        startedAt: '2025-01-01T10:00:00.200Z',
        finishedAt: '2025-01-01T10:00:01.200Z',
        durationMs: 1000,
      },
    ]);
  });

  it('a second SnapshotQueued changes nothing', async () => {
    await requestedAndQueued();
    const again = await given(
      snapshotStream(IMG),
      'SnapshotQueued',
      { imageId: IMG, instanceId: VM, position: 1, limit: 2 },
      '2025-01-01T10:00:05.000Z',
    );
    const row = await project(again);
    expect(row.steps).toHaveLength(1);
    expect(row.steps[0].startedAt).toBe('2025-01-01T10:00:00.200Z');
  });

  it('summarizes the event for the audit log', () => {
    expect(
      summarize({
        streamName: snapshotStream(IMG),
        revision: 0,
        position: 1,
        type: 'SnapshotQueued',
        data: { imageId: IMG, instanceId: VM, position: 1, limit: 5 },
        metadata: {} as never,
      }),
    ).toBe('snapshot queued at place 1: all 5 slots of the host are taken');
  });
});
