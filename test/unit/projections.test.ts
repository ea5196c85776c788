import type { EntityManager } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { instanceStream, type Actor, type RecordedEvent } from '../../src/events';
import { AuditLogEntry } from '../../src/projections/entities/audit-log-entry.entity';
import { ImageView } from '../../src/projections/entities/image-view.entity';
import { InstanceView } from '../../src/projections/entities/instance-view.entity';
import { ProjectionCheckpoint } from '../../src/projections/entities/projection-checkpoint.entity';
import { SnapshotHistory } from '../../src/projections/entities/snapshot-history.entity';
import { InstanceViewProjection } from '../../src/projections/instance-view.projection';
import type { Projection } from '../../src/projections/projection';
import { createViewProjections } from '../../src/projections/projection-runner';
import { dumpViews } from '../../src/projections/view-dump';
import {
  DOMAIN_NAME,
  EventHistory,
  IMAGE_ID as IMG,
  INSTANCE_ID as VM,
  OWNER_PROJECT as PROJECT,
  OWNER as USER,
  type EventHistoryOptions,
} from '../support/event-history';
import { DATABASE_ENGINES } from '../support/database-targets';
import { row, useProjectionSpecification } from '../support/projection-specification';

const OTHER_PROJECT = 'p-admin';
const ADMIN: Actor = { userId: 'u-root', projectId: OTHER_PROJECT, roles: ['admin', 'member'] };
const REGISTERED_AT = '2025-01-01T00:00:00.000Z';
/** A time on the morning of the snapshots: t('00.400') is 10:00:00.400. */
const t = (seconds: string) => `2025-01-01T10:00:${seconds}Z`;

const given = (options: EventHistoryOptions = {}) =>
  new EventHistory({ at: REGISTERED_AT, ...options });
/** A running instance whose createImage was accepted: task pending, then the image reserved. */
const requested = (powerState: 'running' | 'shutdown' = 'running') =>
  given()
    .registered(powerState)
    .taskTo('image_snapshot_pending', { at: t('00.000') })
    .reserved(t('00.100'))
    .taskTo('image_snapshot', { at: t('00.300') });

const historyRow = (expected: object) => row(SnapshotHistory, { imageId: IMG }, expected);
const imageRow = (expected: object) => row(ImageView, { id: IMG }, expected);
const instanceRow = (expected: object) => row(InstanceView, { id: VM }, expected);

describe.each(DATABASE_ENGINES)('projections on %s', (engine) => {
  const spec = useProjectionSpecification(engine);

  const history = () => spec.views.getRepository(SnapshotHistory).findOneByOrFail({ imageId: IMG });
  const instance = () => spec.views.getRepository(InstanceView).findOneByOrFail({ id: VM });
  const audit = () => spec.views.getRepository(AuditLogEntry);
  const checkpoints = async () =>
    Object.fromEntries(
      (await spec.views.getRepository(ProjectionCheckpoint).find()).map((c) => [
        c.name,
        c.position,
      ]),
    );

  describe('a cold snapshot that succeeds', () => {
    it('records every step in order, the downtime and the duration', () =>
      spec.given(given().registered().coldSnapshot()).then(
        async () => {
          const { steps, downtimeMs } = await history();
          expect(steps).toEqual([
            { step: 'begin', startedAt: t('00.100'), finishedAt: t('00.300'), durationMs: 200 },
            // from begin's end (00.300) to SnapshotPlanned (00.400)
            { step: 'plan', startedAt: t('00.300'), finishedAt: t('00.400'), durationMs: 100 },
            { step: 'save', startedAt: t('00.600'), finishedAt: t('02.000'), durationMs: 1400 },
            { step: 'extract', startedAt: t('02.050'), finishedAt: t('04.100'), durationMs: 2000 },
            { step: 'restore', startedAt: t('04.200'), finishedAt: t('04.500'), durationMs: 300 },
            { step: 'upload', startedAt: t('04.700'), finishedAt: t('05.500'), durationMs: 800 },
          ]);
          // restored at 04.500 − save started at 00.600
          expect(downtimeMs).toBe(3900);
        },
        historyRow({
          mode: 'cold',
          result: 'active',
          taskState: null,
          progress: 100,
          retries: 0,
          requestId: 'req-00000000-0000-4000-8000-000000000001',
          requestedAt: t('00.100'),
          finishedAt: t('05.600'),
          durationMs: 5500,
        }),
      ));

    it('makes the image active with its size, checksums and formats', () =>
      spec.given(given().registered().coldSnapshot()).then(
        imageRow({
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
          createdAt: t('00.100'),
          updatedAt: t('05.500'),
        }),
        instanceRow({ powerState: 'running', taskState: null, taskImageId: null }),
      ));
  });

  describe('a chain backup, hashed after it finished', () => {
    const layerBackup = () =>
      given()
        .registered()
        .taskTo('image_snapshot_pending', { at: t('00.000') })
        .reserved(t('00.100'))
        .taskTo('image_snapshot', { at: t('00.300') })
        .planned('live', t('00.400'))
        .taskTo('image_pending_upload', { at: t('00.500') })
        .extracted(t('00.500'), 500, t('01.000'))
        .taskTo('image_uploading', { at: t('01.100') })
        .uploadedAsLayer(t('01.100'), 100, t('01.200'))
        .taskTo(null, { at: t('01.300') });

    it('shows the image active with no size or checksums until they are recorded', () =>
      spec.given(layerBackup()).then(
        imageRow({
          status: 'active',
          size: null,
          checksum: null,
          osHashAlgo: null,
          osHashValue: null,
        }),
        historyRow({ result: 'active', finishedAt: t('01.300'), durationMs: 1200 }),
      ));

    it('records the size and checksums, and a checksum step after the finish', () =>
      spec.given(layerBackup().checksummed(t('01.400'), 900, t('02.300'))).then(
        imageRow({
          status: 'active',
          size: 327680,
          checksum: 'e'.repeat(32),
          osHashAlgo: 'sha512',
          osHashValue: 'f'.repeat(128),
          updatedAt: t('02.300'),
        }),
        async () => {
          const { steps, finishedAt, durationMs, result } = await history();
          expect(steps.at(-1)).toEqual({
            step: 'checksum',
            startedAt: t('01.400'),
            finishedAt: t('02.300'),
            durationMs: 900,
          });
          // The backup finished when it released the task state; the hash came after.
          expect({ finishedAt, durationMs, result }).toEqual({
            finishedAt: t('01.300'),
            durationMs: 1200,
            result: 'active',
          });
          const summaries = (await audit().find({ where: { imageId: IMG } })).map((e) => e.summary);
          expect(summaries).toContain(
            `whole image hashed: 327680 bytes, md5 ${'e'.repeat(32)}, in 900 ms`,
          );
          expect(summaries).toContain(
            'image uploaded: active, its whole image to be hashed next, qcow2/bare',
          );
        },
      ));

    it('keeps the image active without checksums when hashing is given up, and says why', () =>
      spec.given(layerBackup().checksumFailed('no room to flatten', t('02.000'))).then(
        imageRow({ status: 'active', checksum: null }),
        historyRow({
          result: 'active',
          failedStep: 'checksum',
          failureReason: 'no room to flatten',
        }),
      ));
  });

  describe('while a snapshot runs', () => {
    it('shows the task state, the progress (whole percent) and the saving status', async () => {
      // given: a cold snapshot up to the start of its upload
      const running = given()
        .registered()
        .taskTo('image_snapshot_pending', { at: t('00.000') })
        .reserved(t('00.100'));
      // then: the reservation sees the task state the API set just before
      await spec
        .given(running)
        .then(
          historyRow({ taskState: 'image_snapshot_pending' }),
          imageRow({ status: 'queued' }),
          instanceRow({ taskState: 'image_snapshot_pending', taskImageId: IMG }),
        );

      // when: the saga goes on
      running
        .taskTo('image_snapshot', { at: t('00.300') })
        .planned('cold', t('00.400'))
        .taskTo('image_pending_upload', { at: t('00.500') })
        .saved(t('00.600'), 1400, t('02.000'))
        .progressed(42.99, t('03.000'));
      await spec
        .given(running)
        .then(
          historyRow({ taskState: 'image_pending_upload', progress: 42, downtimeMs: null }),
          imageRow({ status: 'queued', progress: 42 }),
          instanceRow({ powerState: 'shutdown' }),
        );

      running
        .extracted(t('02.050'), 2000, t('04.100'))
        .restored(t('04.200'), 300, t('04.500'))
        .taskTo('image_uploading', { at: t('04.600') });
      await spec
        .given(running)
        .then(
          imageRow({ status: 'saving' }),
          historyRow({ downtimeMs: 3900 }),
          instanceRow({ powerState: 'running' }),
        );
    });
  });

  describe('an image deleted while its snapshot runs', () => {
    it('records the snapshot as deleted, with who deleted it and where it was stopped', () =>
      spec
        .given(
          requested()
            .planned('cold', t('00.400'))
            .saved(t('00.500'), 1400, t('01.900'))
            .taskTo('image_pending_upload', { at: t('02.000') })
            .deleted(t('03.000'))
            .restored(t('03.100'), 300, t('03.400'))
            .taskTo(null, { at: t('03.500'), reason: 'image was deleted' }),
        )
        .then(
          historyRow({
            result: 'deleted',
            taskState: null,
            failedStep: null,
            downtimeMs: 2900,
            finishedAt: t('03.500'),
          }),
          async () =>
            expect((await history()).failureReason).toMatch(
              /^the image was deleted by user \S+ \(request \S+\) while the snapshot was in task_state image_pending_upload/,
            ),
          imageRow({ status: 'deleted' }),
        ));

    it('leaves a finished snapshot active when its image is deleted later', () =>
      spec
        .given(given().registered().coldSnapshot().deleted('2025-01-02T00:00:00.000Z'))
        .then(historyRow({ result: 'active', failureReason: null })));
  });

  describe('an offline snapshot', () => {
    it('has no downtime and no save or restore step', () =>
      spec
        .given(
          requested('shutdown')
            .planned('offline', t('00.400'))
            .taskTo('image_pending_upload', { at: t('00.500') })
            .extracted(t('00.510'), 1000, t('01.600'))
            .taskTo('image_uploading', { at: t('01.700') })
            .uploaded(t('01.710'), 500, t('02.300'))
            .taskTo(null, { at: t('02.400') }),
        )
        .then(
          async () =>
            expect((await history()).steps.map((s) => s.step)).toEqual([
              'begin',
              'plan',
              'extract',
              'upload',
            ]),
          historyRow({ mode: 'offline', downtimeMs: 0, result: 'active', durationMs: 2300 }),
        ));
  });

  describe('a live snapshot', () => {
    it('has the quiesce, mirror and cleanup steps, and audit summaries for them', () =>
      spec
        .given(
          requested()
            .planned('live', t('00.400'))
            .taskTo('image_pending_upload', { at: t('00.500') })
            .mirrored(t('00.600'), 600, t('01.200'))
            .extracted(t('01.300'), 1000, t('02.300'))
            .deltaRemoved(t('02.400'), 5, t('02.405'))
            .taskTo('image_uploading', { at: t('02.500') })
            .uploaded(t('02.600'), 400, t('03.000'))
            .taskTo(null, { at: t('03.100') }),
        )
        .then(
          async () => {
            const { steps } = await history();
            expect(steps.map((s) => s.step)).toEqual([
              'begin',
              'plan',
              'quiesce',
              'mirror',
              'extract',
              'cleanup',
              'upload',
            ]);
            expect(steps.find((s) => s.step === 'mirror')).toEqual({
              step: 'mirror',
              startedAt: t('00.600'),
              finishedAt: t('01.200'),
              durationMs: 600,
            });
          },
          // Nothing was watched in this log: the downtime is unknown, not assumed from the mode.
          historyRow({ mode: 'live', downtimeMs: null, result: 'active' }),
          async () => {
            const rows = await audit().find({
              where: { imageId: IMG },
              order: { position: 'ASC' },
            });
            const summaryOf = (type: string) => rows.find((a) => a.type === type)?.summary;
            expect(summaryOf('QuiesceSkipped')).toBe(
              'quiesce skipped: the domain has no QEMU guest agent channel',
            );
            expect(summaryOf('DiskMirrored')).toBe(
              'disk mirrored into a delta (full copy) in 600 ms, domain kept running',
            );
            expect(summaryOf('DeltaRemoved')).toBe('delta removed');
            expect(rows.find((a) => a.type === 'DiskMirrored')?.projectId).toBe(PROJECT);
          },
        ));
  });

  describe('downtime, from what was observed', () => {
    const live = () =>
      requested()
        .planned('live', t('00.400'))
        .taskTo('image_pending_upload', { at: t('00.500') });

    it('is 0 for a watched live snapshot in which libvirt saw nothing', () =>
      spec
        .given(
          live()
            .mirrored(t('00.600'), 600, t('01.200'))
            .downtimeObserved([], t('00.450'), t('03.000')),
        )
        .then(historyRow({ downtimeMs: 0, downtimeIntervals: [] })));

    it('counts a pause libvirt saw during a live snapshot, and one still open at its end', () =>
      spec
        .given(
          live()
            .downtimeObserved(
              [['Suspended Paused', t('00.700'), t('02.200')]],
              t('00.450'),
              t('02.300'),
            )
            .downtimeObserved(
              [['Suspended Paused', t('03.000'), t('03.250'), true]],
              t('02.300'),
              t('03.250'),
            ),
        )
        .then(async () => {
          const { downtimeMs, downtimeIntervals } = await history();
          expect(downtimeMs).toBe(1750);
          expect(downtimeIntervals).toEqual([
            {
              source: 'libvirt',
              cause: 'Suspended Paused',
              startedAt: t('00.700'),
              endedAt: t('02.200'),
              ongoing: false,
            },
            {
              source: 'libvirt',
              cause: 'Suspended Paused',
              startedAt: t('03.000'),
              endedAt: t('03.250'),
              ongoing: true,
            },
          ]);
          const observed = await audit().find({
            where: { type: 'DowntimeObserved' },
            order: { position: 'ASC' },
          });
          expect(observed[0].summary).toBe(
            'libvirt saw the domain down 1× for 1500 ms (Suspended Paused)',
          );
        }));

    it("counts a cold save from its recorded start, and libvirt's view of the same save once", () =>
      spec
        .given(
          requested()
            .planned('cold', t('00.400'))
            // the first save was cut short by a crash; the resumed one started later
            .saveStarted(t('00.500'), t('00.501'))
            .saved(t('01.000'), 1000, t('02.000'))
            .restored(t('03.000'), 400, t('03.400'))
            .downtimeObserved(
              [['Suspended Paused', t('00.550'), t('03.390')]],
              t('00.450'),
              t('03.500'),
            ),
        )
        .then(async () => {
          const { downtimeMs, downtimeIntervals } = await history();
          expect(downtimeMs).toBe(2900);
          expect(downtimeIntervals.map((r) => [r.source, r.startedAt, r.endedAt])).toEqual([
            ['save', t('00.500'), t('03.400')],
            ['libvirt', t('00.550'), t('03.390')],
          ]);
        }));

    it('is unknown (null) while a save is still open', () =>
      spec
        .given(requested().planned('cold', t('00.400')).saveStarted(t('00.500'), t('00.501')))
        .then(historyRow({ downtimeMs: null })));
  });

  describe('a snapshot that fails at extract', () => {
    const failing = () =>
      requested()
        .planned('cold', t('00.400'))
        .taskTo('image_pending_upload', { at: t('00.500') })
        .saved(t('00.600'), 1400, t('02.000'))
        .progressed(10, t('03.000'))
        .retried('extract', 1, t('03.500'))
        .retried('extract', 2, t('04.000'))
        .failed('extract', 'qemu-img: No space left on device', t('05.000'))
        .restored(t('05.100'), 300, t('05.400'))
        .taskTo(null, { at: t('05.500'), reason: 'snapshot failed at extract' });

    it('keeps the image, killed, with the failing step and the reason', () =>
      spec.given(failing()).then(
        imageRow({
          status: 'killed',
          failedStep: 'extract',
          failureReason: 'qemu-img: No space left on device',
          progress: 10,
          size: null,
          checksum: null,
        }),
      ));

    it('records the result, retries, the downtime until the restore and the end', () =>
      spec.given(failing()).then(
        historyRow({
          result: 'killed',
          failedStep: 'extract',
          failureReason: 'qemu-img: No space left on device',
          retries: 2,
          taskState: null,
          downtimeMs: 4800,
          finishedAt: t('05.500'),
          durationMs: 5400,
        }),
        async () =>
          expect((await history()).steps.map((s) => s.step)).toEqual([
            'begin',
            'plan',
            'save',
            'restore',
          ]),
        instanceRow({ taskState: null, powerState: 'running' }),
      ));

    it('ignores progress after the failure, and becomes deleted only by ImageDeleted', () =>
      spec.given(failing().progressed(50, t('06.000')).deleted('2025-01-01T11:00:00.000Z')).then(
        imageRow({
          status: 'deleted',
          progress: 10,
          failedStep: 'extract',
          deletedAt: '2025-01-01T11:00:00.000Z',
          updatedAt: '2025-01-01T11:00:00.000Z',
        }),
      ));
  });

  describe('the audit log', () => {
    it('has one row per event with the actor, request, correlation and causation ids', async () => {
      // given: the service registers the domain, an admin of another project snapshots it
      const sync = given({
        actor: { userId: 'snapledger', projectId: 'snapledger', roles: ['admin', 'system'] },
        requestId: 'req-99999999-0000-4000-8000-000000000000',
      }).registered();
      const request = given({ actor: ADMIN, requestId: 'req-aaaaaaaa-0000-4000-8000-000000000000' })
        .taskTo('image_snapshot_pending', { at: t('00.000') })
        .reserved(t('00.100'))
        .progressed(12.5, t('01.000'));
      const eventId = (i: number) => request.events[i]!.metadata.eventId;
      await spec.given(sync, request).then(async () => {
        const rows = await audit().find({ order: { position: 'ASC' } });
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
          eventId: eventId(0),
          streamName: instanceStream(VM),
          occurredAt: t('00.000'),
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
          causationId: eventId(0),
          projectId: PROJECT,
          summary: 'snapshot image "snap-1" reserved',
        });
        // no name was recorded: an admin token made for a bare user id
        expect(reserved?.actorUserName).toBeNull();
        // ConversionProgressed names only the image: the instance comes from the image row
        expect(progressed).toMatchObject({
          causationId: eventId(1),
          instanceId: VM,
          imageId: IMG,
          projectId: PROJECT,
          summary: 'conversion 12%',
          data: { imageId: IMG, percent: 12.5 },
        });
      });
    });

    it("keeps the user's name an event recorded, in the audit log and the snapshot history", async () => {
      // given: a user account of the owning project (signed in through Keystone) asks
      const alice: Actor = { ...USER, userName: 'alice' };
      const events = given({ actor: alice })
        .registered()
        .taskTo('image_snapshot_pending', { at: t('00.000') })
        .reserved(t('00.100'));
      await spec.given(events).then(async () => {
        const rows = await audit().find({ order: { position: 'ASC' } });
        expect(rows.map((r) => [r.type, r.actorUserId, r.actorUserName])).toEqual([
          ['InstanceRegistered', USER.userId, 'alice'],
          ['TaskStateChanged', USER.userId, 'alice'],
          ['ImageReserved', USER.userId, 'alice'],
        ]);
        expect(await history()).toMatchObject({ userId: USER.userId, userName: 'alice' });
      });
    });

    it('gives the events after a new registration the project the instance moved to, live and in one rebuild batch', async () => {
      // given: the instance is registered again, into another project, between two syncs
      const history = given().registered().powerSynced('paused', 'paused', t('01.000'));
      const first = history.events[0]!.data as Record<string, unknown>;
      history
        .record(
          instanceStream(VM),
          'InstanceRegistered',
          { ...first, projectId: 'p-new' },
          t('02.000'),
        )
        .powerSynced('running', 'active', t('03.000'));
      const last = await spec.append(history);
      await spec.project(last);
      const owners = async () =>
        (await audit().find({ order: { position: 'ASC' } })).map((r) => [r.type, r.projectId]);
      const expected = [
        ['InstanceRegistered', PROJECT],
        ['PowerStateSynced', PROJECT],
        ['InstanceRegistered', 'p-new'],
        ['PowerStateSynced', 'p-new'],
      ];
      expect(await owners()).toEqual(expected);
      // a rebuild applies all four in one transaction, which remembers the owners it read
      await spec.runner!.rebuild();
      expect(await owners()).toEqual(expected);
    });

    it('records event types it does not know, and the views ignore them', () =>
      spec
        .given(
          given()
            .registered()
            .record(
              instanceStream(VM),
              'SomethingNew',
              { instanceId: VM, colour: 'blue' },
              '2025-02-02T00:00:00.000Z',
            ),
        )
        .then(
          row(
            AuditLogEntry,
            { position: 2 },
            { type: 'SomethingNew', summary: 'SomethingNew', projectId: PROJECT },
          ),
          instanceRow({ updatedAt: REGISTERED_AT }),
        ));
  });

  describe('the runner', () => {
    it('waitFor resolves once a live append is applied, and false on timeout', async () => {
      await spec.project(0);
      const runner = spec.runner!;
      const pending = runner.waitFor(1);
      await spec.append(given().registered());
      expect(await pending).toBe(true);
      expect((await instance()).name).toBe(DOMAIN_NAME);
      expect(runner.position).toBe(1);
      expect(await runner.waitFor(5, 50)).toBe(false);
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
      const auditLog = createViewProjections().find((p) => p.name === 'audit-log')!;
      await spec.append(
        given().registered().powerSynced('paused', 'paused', '2025-01-01T00:01:00.000Z'),
      );

      // when
      const runner = await spec.start([auditLog, exploding]);
      expect(await runner.waitFor(2, 300)).toBe(false);

      // then: event 1 is applied; event 2's rows and checkpoints (of both projections) are not
      expect(runner.lastError?.message).toBe('boom after writing');
      expect(runner.position).toBe(1);
      expect(await checkpoints()).toEqual({ 'audit-log': 1, 'exploding-instance-view': 1 });
      expect((await instance()).powerState).toBe('running');
      expect(await audit().count()).toBe(1);

      // and when the fault goes away, the runner retries from the checkpoints and catches up
      broken = false;
      expect(await runner.waitFor(2, 5000)).toBe(true);
      expect(runner.lastError).toBeUndefined();
      expect((await instance()).powerState).toBe('paused');
      expect(await audit().count()).toBe(2);
      expect(await checkpoints()).toEqual({ 'audit-log': 2, 'exploding-instance-view': 2 });
    });

    it('applies each event once across restarts, and a new projection catches up alone', async () => {
      const first = await spec.append(given().registered());
      await spec.project(
        first,
        createViewProjections().filter((p) => p.name !== 'audit-log'),
      );
      await spec.runner!.stop();
      const last = await spec.append(
        given({
          actor: USER,
          requestId: 'req-bbbbbbbb-0000-4000-8000-000000000000',
        }).coldSnapshot(),
      );

      // restart with the audit log added: it starts at 0, the others at their checkpoint
      await spec.project(last);
      expect(await checkpoints()).toEqual({
        'instance-view': last,
        'image-view': last,
        'snapshot-history': last,
        'audit-log': last,
        'instance-actions': last,
      });
      expect(await audit().count()).toBe(last);
      await spec.runner!.stop();
      await spec.project(last);
      expect(await audit().count()).toBe(last);
    });

    it('rebuild empties the views and replays them identically', async () => {
      const last = await spec.append(given().registered().coldSnapshot());
      await spec.project(last);
      const runner = spec.runner!;
      const live = await dumpViews(spec.views);
      await spec.views.getRepository(InstanceView).update({ id: VM }, { name: 'tampered' });

      // The audit log's indexes are dropped while it replays and built again at the end.
      const indexNames = async () =>
        (
          (await spec.views.query(
            spec.views.options.type === 'postgres'
              ? 'SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1'
              : "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1",
          )) as { name: string }[]
        ).map((r) => r.name);
      const indexesBefore = await indexNames();
      expect(indexesBefore).toContain('idx_audit_log_correlation');

      const progress: [number, number][] = [];
      const result = await runner.rebuild((events, end) => progress.push([events, end]));
      expect(await indexNames()).toEqual(indexesBefore);
      expect(result.events).toBe(last);
      // One report per batch; the last one says the whole log was replayed.
      expect(progress.at(-1)).toEqual([last, last]);
      expect(progress.map(([events]) => events)).toEqual(
        [...progress.map(([events]) => events)].sort((a, b) => a - b),
      );
      expect(runner.isRunning).toBe(false);
      expect(JSON.stringify(await dumpViews(spec.views))).toBe(JSON.stringify(live));
      expect(await checkpoints()).toEqual({
        'instance-view': last,
        'image-view': last,
        'snapshot-history': last,
        'audit-log': last,
        'instance-actions': last,
      });

      // and the runner follows live appends again after start()
      await runner.start();
      const next = await spec.append(
        given({ requestId: 'req-cccccccc-0000-4000-8000-000000000000' }).powerSynced(
          'paused',
          'paused',
          '2025-01-02T00:00:00.000Z',
        ),
      );
      expect(await runner.waitFor(next)).toBe(true);
      expect((await instance()).vmState).toBe('paused');
    });
  });
});
