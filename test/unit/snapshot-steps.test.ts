import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/commands/clock';
import type { EventAppender } from '../../src/commands/event-appender';
import { FaultInjector } from '../../src/commands/fault-injection';
import { loadConfig } from '../../src/config/snapledger.config';
import type { Hypervisor } from '../../src/drivers/hypervisor.port';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  SYSTEM_ACTOR,
  type CausationContext,
  type EventOfType,
  type RecordedEvent,
  type SnapledgerEvent,
  type SnapledgerEventType,
} from '../../src/events';
import type { SnapshotStepDependencies } from '../../src/sagas/snapshot-step.dependencies';
import { foldSnapshotProcess } from '../../src/domain/snapshot-process.state';
import { SnapshotSteps } from '../../src/sagas/snapshot-steps';
import { StepPreconditionError } from '../../src/sagas/steps/snapshot-step.handler';

const VM = '11111111-1111-4111-8111-111111111111';
const IMG = '22222222-2222-4222-8222-222222222222';
const T0 = '2030-01-02T03:04:05.000Z';

let position = 0;
function recorded<T extends SnapledgerEventType>(
  streamName: string,
  revision: number,
  type: T,
  data: EventOfType<T>['data'],
): RecordedEvent {
  position += 1;
  return {
    streamName,
    revision,
    position,
    type,
    data,
    metadata: {
      eventId: `evt-${position}`,
      correlationId: 'req-1',
      causationId: 'req-1',
      actor: SYSTEM_ACTOR,
      requestId: 'req-1',
      occurredAt: T0,
      schemaVersion: 1,
    },
  };
}

/**
 * A cold snapshot of a paused domain: image reserved, task state taken; moved on to
 * image_snapshot, planned and saved if asked.
 */
function snapshot(options: { begun?: boolean; planned?: boolean; saved?: boolean }) {
  const imageEvents = [
    recorded(imageStream(IMG), 0, 'ImageReserved', {
      imageId: IMG,
      name: 'nightly',
      instanceId: VM,
      projectId: 'p-owner',
      userId: 'u-alice',
      imageType: 'snapshot',
      properties: {},
    }),
  ];
  const instanceEvents = [
    recorded(instanceStream(VM), 0, 'TaskStateChanged', {
      instanceId: VM,
      from: null,
      to: 'image_snapshot_pending',
      imageId: IMG,
    }),
  ];
  if (options.begun) {
    instanceEvents.push(
      recorded(instanceStream(VM), 1, 'TaskStateChanged', {
        instanceId: VM,
        from: 'image_snapshot_pending',
        to: 'image_snapshot',
        imageId: IMG,
      }),
    );
  }
  if (options.saved) {
    instanceEvents.push(
      recorded(instanceStream(VM), 2, 'DomainSaved', {
        instanceId: VM,
        imageId: IMG,
        priorPowerState: 'paused',
        startedAt: T0,
        durationMs: 1,
      }),
    );
  }
  const snapshotEvents = options.planned
    ? [
        recorded(snapshotStream(IMG), 0, 'SnapshotPlanned', {
          imageId: IMG,
          instanceId: VM,
          mode: 'cold',
          priorPowerState: 'paused',
          priorVmState: 'paused',
          domainName: 'vm-alpha',
          diskPath: '/var/lib/libvirt/images/vm-alpha.qcow2',
          diskKind: 'file',
          sourceFormat: 'qcow2',
          targetFormat: 'qcow2',
          virtualSize: 1024,
        }),
      ]
    : [];
  return foldSnapshotProcess({ imageId: IMG, imageEvents, instanceEvents, snapshotEvents });
}

/** Steps acting on fakes that record every driver call and append. */
function fakeSteps() {
  const calls: string[] = [];
  const appends: {
    stream: string;
    events: readonly SnapledgerEvent[];
    expected: unknown;
    ctx: CausationContext;
  }[] = [];
  const appender = {
    append: async (
      stream: string,
      events: readonly SnapledgerEvent[],
      expected: unknown,
      ctx: CausationContext,
    ) => {
      appends.push({ stream, events, expected, ctx });
      return null;
    },
  } as unknown as EventAppender;
  const hypervisor = {
    start: async (domain: string, options: { paused: boolean }) => {
      calls.push(`start ${domain} paused=${String(options.paused)}`);
    },
    managedSave: async (domain: string) => {
      calls.push(`managedsave ${domain}`);
    },
  } as unknown as Hypervisor;
  const deps = {
    appender,
    hypervisor,
    clock: systemClock,
    config: loadConfig({}),
    faults: new FaultInjector([]),
  } as unknown as SnapshotStepDependencies;
  return { steps: new SnapshotSteps(deps, 'boot-1'), calls, appends };
}

describe('SnapshotSteps.perform', () => {
  it('given begin, when performed, then the task state moves on at the revision read, for the request', async () => {
    const { steps, appends } = fakeSteps();
    await steps.perform({ kind: 'begin' }, snapshot({}));
    expect(appends).toHaveLength(1);
    expect(appends[0].stream).toBe(instanceStream(VM));
    expect(appends[0].expected).toBe(0);
    expect(appends[0].events).toMatchObject([
      { type: 'TaskStateChanged', data: { from: 'image_snapshot_pending', to: 'image_snapshot' } },
    ]);
    expect(appends[0].ctx.correlationId).toBe('req-1');
  });

  it('given a step that carries out the plan, when performed on an unplanned snapshot, then it refuses before any driver call or append', async () => {
    const { steps, calls, appends } = fakeSteps();
    await expect(steps.perform({ kind: 'save' }, snapshot({ begun: true }))).rejects.toThrow(
      StepPreconditionError,
    );
    expect(calls).toEqual([]);
    expect(appends).toEqual([]);
  });

  it('given restore of a domain saved while paused, when performed, then it is started paused and DomainRestored says so', async () => {
    const { steps, calls, appends } = fakeSteps();
    await steps.perform({ kind: 'restore' }, snapshot({ begun: true, planned: true, saved: true }));
    expect(calls).toEqual([`start ${VM} paused=true`]);
    expect(appends.map((a) => a.stream)).toEqual([instanceStream(VM)]);
    expect(appends[0].events).toMatchObject([
      { type: 'DomainRestored', data: { imageId: IMG, powerState: 'paused' } },
    ]);
  });

  it('given done, when performed, then nothing is called or appended', async () => {
    const { steps, calls, appends } = fakeSteps();
    await steps.perform({ kind: 'done' }, snapshot({ begun: true, planned: true }));
    expect(calls).toEqual([]);
    expect(appends).toEqual([]);
  });

  it('given a failure, when recorded, then SnapshotFailed goes to the image stream', async () => {
    const { steps, appends } = fakeSteps();
    const state = snapshot({ begun: true });
    if (state.phase === 'unrequested') throw new Error('the snapshot must be requested');
    await steps.fail(state, 'plan', 'no disk');
    expect(appends.map((a) => [a.stream, a.events[0]?.type])).toEqual([
      [imageStream(IMG), 'SnapshotFailed'],
    ]);
  });
});
