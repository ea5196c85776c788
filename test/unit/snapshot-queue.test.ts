import { describe, expect, it } from 'vitest';
import type { SnapshotAction } from '../../src/domain/snapshot-next-step';
import type { SnapshotProcessState } from '../../src/domain/snapshot-process.state';
import {
  emptyQueue,
  enqueue,
  hold,
  leave,
  openQueue,
  queuePosition,
  queueRole,
  SnapshotGate,
  type SnapshotQueueState,
} from '../../src/sagas/snapshot-queue';

/** Applies transitions in order, collecting everything they admitted. */
function run(
  start: SnapshotQueueState,
  ...steps: ((s: SnapshotQueueState) => {
    state: SnapshotQueueState;
    admitted: readonly string[];
  })[]
) {
  let state = start;
  const admitted: string[] = [];
  for (const step of steps) {
    const t = step(state);
    state = t.state;
    admitted.push(...t.admitted);
  }
  return { state, admitted };
}

describe('the snapshot queue (pure rules)', () => {
  it('admits up to the limit and queues the rest in ImageReserved order', () => {
    const { state, admitted } = run(
      emptyQueue(2),
      (s) => enqueue(s, { imageId: 'a', position: 10 }),
      (s) => enqueue(s, { imageId: 'b', position: 20 }),
      (s) => enqueue(s, { imageId: 'd', position: 40 }),
      (s) => enqueue(s, { imageId: 'c', position: 30 }),
    );
    expect(admitted).toEqual(['a', 'b']);
    expect([...state.active]).toEqual(['a', 'b']);
    expect(state.waiting.map((w) => w.imageId)).toEqual(['c', 'd']);
    expect(queuePosition(state, 'c')).toBe(1);
    expect(queuePosition(state, 'd')).toBe(2);
    expect(queuePosition(state, 'a')).toBeNull();
  });

  it('admits the oldest waiting snapshot when a slot frees (FIFO), one per slot', () => {
    let { state } = run(
      emptyQueue(2),
      (s) => enqueue(s, { imageId: 'a', position: 1 }),
      (s) => enqueue(s, { imageId: 'b', position: 2 }),
      (s) => enqueue(s, { imageId: 'c', position: 3 }),
      (s) => enqueue(s, { imageId: 'd', position: 4 }),
    );
    const first = leave(state, 'b');
    expect(first.admitted).toEqual(['c']);
    state = first.state;
    expect(leave(state, 'zzz').admitted).toEqual([]); // unknown: nothing changes
    const second = leave(state, 'a');
    expect(second.admitted).toEqual(['d']);
    expect([...second.state.active].sort()).toEqual(['c', 'd']);
  });

  it('asking twice changes nothing', () => {
    const once = enqueue(emptyQueue(1), { imageId: 'a', position: 1 }).state;
    const twice = enqueue(once, { imageId: 'a', position: 1 });
    expect(twice.admitted).toEqual([]);
    expect([...twice.state.active]).toEqual(['a']);
    const waiting = enqueue(twice.state, { imageId: 'b', position: 2 }).state;
    expect(enqueue(waiting, { imageId: 'b', position: 2 }).state.waiting).toHaveLength(1);
  });

  it('lets a snapshot that has begun hold a slot beyond the limit, without admitting others', () => {
    const { state, admitted } = run(
      emptyQueue(1),
      (s) => enqueue(s, { imageId: 'a', position: 1 }),
      (s) => enqueue(s, { imageId: 'b', position: 2 }),
      (s) => hold(s, 'x'),
    );
    expect(admitted).toEqual(['a']);
    expect([...state.active].sort()).toEqual(['a', 'x']);
    // Two slots must free before the one limit lets b in.
    expect(leave(state, 'a').admitted).toEqual([]);
    expect(leave(leave(state, 'a').state, 'x').admitted).toEqual(['b']);
  });

  it('a waiting snapshot that is stopped leaves the queue and the next one moves up', () => {
    const { state } = run(
      emptyQueue(1),
      (s) => enqueue(s, { imageId: 'a', position: 1 }),
      (s) => enqueue(s, { imageId: 'b', position: 2 }),
      (s) => enqueue(s, { imageId: 'c', position: 3 }),
    );
    const gone = leave(state, 'b');
    expect(gone.admitted).toEqual([]);
    expect(queuePosition(gone.state, 'c')).toBe(1);
    expect(leave(gone.state, 'a').admitted).toEqual(['c']);
  });

  it('admits nobody while closed (being rebuilt), then the oldest first when opened', () => {
    const { state, admitted } = run(
      emptyQueue(2, false),
      (s) => enqueue(s, { imageId: 'late', position: 9 }),
      (s) => hold(s, 'begun'),
      (s) => enqueue(s, { imageId: 'early', position: 5 }),
    );
    expect(admitted).toEqual([]);
    const opened = openQueue(state);
    expect(opened.admitted).toEqual(['early']);
    expect(queuePosition(opened.state, 'late')).toBe(1);
  });

  it('refuses a limit below 1', () => {
    expect(() => emptyQueue(0)).toThrow(RangeError);
  });
});

describe('SnapshotGate', () => {
  it('resolves a waiting snapshot when an older one leaves, in order', async () => {
    const gate = new SnapshotGate(1);
    gate.open();
    gate.enqueue({ imageId: 'a', position: 1 });
    gate.enqueue({ imageId: 'b', position: 2 });
    gate.enqueue({ imageId: 'c', position: 3 });
    const order: string[] = [];
    const never = new AbortController().signal;
    const b = gate.admitted('b', never).then((ok) => order.push(`b:${ok}`));
    const c = gate.admitted('c', never).then((ok) => order.push(`c:${ok}`));
    expect(await gate.admitted('a', never)).toBe(true);
    await Promise.resolve();
    expect(order).toEqual([]);
    gate.leave('a');
    await b;
    expect(order).toEqual(['b:true']);
    gate.leave('b');
    await c;
    expect(order).toEqual(['b:true', 'c:true']);
  });

  it('an aborted wait resolves false and leaves the queue', async () => {
    const gate = new SnapshotGate(1);
    gate.open();
    gate.enqueue({ imageId: 'a', position: 1 });
    gate.enqueue({ imageId: 'b', position: 2 });
    gate.enqueue({ imageId: 'c', position: 3 });
    const stop = new AbortController();
    const waiting = gate.admitted('b', stop.signal);
    stop.abort();
    expect(await waiting).toBe(false);
    expect(gate.positionOf('b')).toBeNull();
    expect(gate.positionOf('c')).toBe(1);
    gate.leave('a');
    expect(gate.isAdmitted('c')).toBe(true);
  });
});

describe('SnapshotGate.waitForSlot', () => {
  const never = () => new AbortController().signal;

  it('given a free slot, when a snapshot asks, then it is admitted at once and not reported queued', async () => {
    const gate = new SnapshotGate(1);
    gate.open();
    const queued: number[] = [];
    const wait = {
      queued: async (p: number) => void queued.push(p),
      stop: never(),
      draining: never(),
    };
    await gate.waitForSlot({ imageId: 'a', position: 1 }, wait);
    expect(gate.isAdmitted('a')).toBe(true);
    expect(queued).toEqual([]);
  });

  it('given every slot taken, when a snapshot asks, then it is reported queued with its place and admitted when the slot frees', async () => {
    const gate = new SnapshotGate(1);
    gate.open();
    gate.enqueue({ imageId: 'a', position: 1 });
    gate.enqueue({ imageId: 'b', position: 2 });
    const queued: number[] = [];
    const wait = {
      queued: async (p: number) => void queued.push(p),
      stop: never(),
      draining: never(),
    };
    let admitted = false;
    const c = gate.waitForSlot({ imageId: 'c', position: 3 }, wait).then(() => (admitted = true));
    await Promise.resolve();
    expect(queued).toEqual([2]);
    gate.leave('a');
    await Promise.resolve();
    expect(admitted).toBe(false);
    gate.leave('b');
    await c;
    expect(gate.isAdmitted('c')).toBe(true);
  });

  it('given a queued snapshot, when the service drains, then its wait ends and it leaves the queue', async () => {
    const gate = new SnapshotGate(1);
    gate.open();
    gate.enqueue({ imageId: 'a', position: 1 });
    const draining = new AbortController();
    const done = gate.waitForSlot(
      { imageId: 'b', position: 2 },
      { queued: async () => undefined, stop: never(), draining: draining.signal },
    );
    await Promise.resolve();
    draining.abort();
    await done;
    expect(gate.isAdmitted('b')).toBe(false);
    expect(gate.positionOf('b')).toBeNull();
  });

  it('given the image deleted while queued, when its wait is stopped, then it leaves the queue and the next one moves up', async () => {
    const gate = new SnapshotGate(1);
    gate.open();
    gate.enqueue({ imageId: 'a', position: 1 });
    gate.enqueue({ imageId: 'c', position: 3 });
    const stop = new AbortController();
    const done = gate.waitForSlot(
      { imageId: 'b', position: 2 },
      { queued: async () => undefined, stop: stop.signal, draining: never() },
    );
    await Promise.resolve();
    expect(gate.positionOf('b')).toBe(1);
    stop.abort();
    await done;
    expect(gate.positionOf('b')).toBeNull();
    expect(gate.positionOf('c')).toBe(1);
  });
});

describe('queueRole', () => {
  const IMG = 'img-1';
  function state(
    taskState: string | null,
    options: { planned?: boolean; taskImageId?: string } = {},
  ) {
    return {
      imageId: IMG,
      instance: { taskState, taskImageId: options.taskImageId ?? IMG },
      plan: options.planned ? { mode: 'cold' } : null,
    } as unknown as SnapshotProcessState;
  }
  const act = (kind: string) => ({ kind }) as SnapshotAction;

  it('waits before begin, whether snapshot or backup', () => {
    expect(queueRole(state('image_snapshot_pending'), act('begin'))).toBe('wait');
    expect(queueRole(state('image_backup'), act('begin'))).toBe('wait');
  });

  it('holds once begun, also while compensating', () => {
    expect(queueRole(state('image_snapshot'), act('plan'))).toBe('hold');
    expect(queueRole(state('image_pending_upload', { planned: true }), act('restore'))).toBe(
      'hold',
    );
    expect(queueRole(state('image_snapshot', { planned: true }), act('release'))).toBe('hold');
    // the task state already released, the domain still to restore
    expect(queueRole(state(null, { planned: true }), act('restore'))).toBe('hold');
  });

  it('leaves when done, or when stopped before it began', () => {
    expect(queueRole(state(null, { planned: true }), act('done'))).toBe('leave');
    // a chain backup hashed after its task state was released holds no slot
    expect(queueRole(state(null, { planned: true }), act('checksum'))).toBe('leave');
    expect(queueRole(state('image_snapshot_pending'), act('release'))).toBe('leave');
    expect(queueRole(state('image_snapshot_pending'), act('fail'))).toBe('leave');
    expect(queueRole(state('image_snapshot', { taskImageId: 'other' }), act('fail'))).toBe('leave');
  });
});
