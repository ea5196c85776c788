import { describe, expect, it } from 'vitest';
import type { Clock, IdGenerator } from '../../src/commands/clock';
import { stampEvents } from '../../src/commands/event-stamping';
import {
  schemaVersionOf,
  type Actor,
  type CausationContext,
  type SnapledgerEvent,
} from '../../src/events';

const VM = '11111111-1111-4111-8111-111111111111';
const IMG = '22222222-2222-4222-8222-222222222222';
const NOW = '2030-01-02T03:04:05.678Z';

const actor: Actor = { userId: 'u-alice', projectId: 'p-owner', roles: ['member'] };
const context: CausationContext = {
  actor,
  requestId: 'req-1',
  correlationId: 'corr-1',
  causationId: 'cause-0',
};

const fixedClock = (iso = NOW): Clock & { calls: number } => {
  const clock = {
    calls: 0,
    now() {
      clock.calls += 1;
      return new Date(iso);
    },
  };
  return clock;
};

const sequentialIds = (): IdGenerator => {
  let n = 0;
  return { uuid: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` };
};

const events: SnapledgerEvent[] = [
  {
    type: 'TaskStateChanged',
    data: { instanceId: VM, from: null, to: 'image_snapshot_pending', imageId: IMG },
  },
  {
    type: 'TaskStateChanged',
    data: { instanceId: VM, from: 'image_snapshot_pending', to: 'image_snapshot', imageId: IMG },
  },
  {
    type: 'TaskStateChanged',
    data: { instanceId: VM, from: 'image_snapshot', to: 'image_pending_upload', imageId: IMG },
  },
];

describe('stampEvents', () => {
  it('given one event, when stamped, then every metadata field comes from the context, clock and id generator', () => {
    const [stamped] = stampEvents(events.slice(0, 1), context, fixedClock(), sequentialIds());
    expect(stamped).toEqual({
      type: 'TaskStateChanged',
      data: events[0].data,
      metadata: {
        eventId: '00000000-0000-4000-8000-000000000001',
        correlationId: 'corr-1',
        causationId: 'cause-0',
        actor,
        requestId: 'req-1',
        occurredAt: NOW,
        schemaVersion: 1,
      },
    });
  });

  it('given three events, when stamped, then the first is caused by the context and each next by the previous event', () => {
    const stamped = stampEvents(events, context, fixedClock(), sequentialIds());
    expect(stamped.map((e) => e.metadata.eventId)).toEqual([
      '00000000-0000-4000-8000-000000000001',
      '00000000-0000-4000-8000-000000000002',
      '00000000-0000-4000-8000-000000000003',
    ]);
    expect(stamped.map((e) => e.metadata.causationId)).toEqual([
      'cause-0',
      stamped[0].metadata.eventId,
      stamped[1].metadata.eventId,
    ]);
  });

  it('given a batch, when stamped, then all events share correlation, request, actor and one timestamp', () => {
    const clock = fixedClock();
    const stamped = stampEvents(events, context, clock, sequentialIds());
    for (const event of stamped) {
      expect(event.metadata.correlationId).toBe('corr-1');
      expect(event.metadata.requestId).toBe('req-1');
      expect(event.metadata.actor).toEqual(actor);
      expect(event.metadata.occurredAt).toBe(NOW);
    }
    expect(clock.calls).toBe(1);
  });

  it('given a batch, when stamped, then type and data are kept and order is preserved', () => {
    const stamped = stampEvents(events, context, fixedClock(), sequentialIds());
    expect(stamped.map((e) => ({ type: e.type, data: e.data }))).toEqual(events);
  });

  it("given any event, when stamped, then schemaVersion is its type's current one", () => {
    const stamped = stampEvents(events, context, fixedClock(), sequentialIds());
    expect(stamped.map((e) => e.metadata.schemaVersion)).toEqual(
      events.map((e) => schemaVersionOf(e.type)),
    );
    expect(schemaVersionOf('SnapshotPlanned')).toBe(2);
    expect(schemaVersionOf('TaskStateChanged')).toBe(1);
  });

  it('given no events, when stamped, then nothing is returned', () => {
    expect(stampEvents([], context, fixedClock(), sequentialIds())).toEqual([]);
  });

  it('given two batches with the same id generator, when stamped, then every event id is unique', () => {
    const ids = sequentialIds();
    const first = stampEvents(events, context, fixedClock(), ids);
    const second = stampEvents(events, context, fixedClock(), ids);
    const all = [...first, ...second].map((e) => e.metadata.eventId);
    expect(new Set(all).size).toBe(all.length);
    expect(second[0].metadata.causationId).toBe('cause-0');
  });
});
