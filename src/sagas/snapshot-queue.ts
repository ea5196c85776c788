/**
 * The per-host concurrency limit of snapshots (SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS).
 *
 * A snapshot holds a slot from the moment it is admitted to start its hypervisor work (just
 * before its first forward step, `begin`) until its worker is done. Snapshots that find every
 * slot taken wait in FIFO order of their ImageReserved position. Compensation never waits: a
 * snapshot that has begun keeps (or takes back) its slot whatever the count, and one that is
 * stopped before it begun simply leaves the queue.
 *
 * The rules are pure functions over an immutable state; `SnapshotGate` wraps them with the
 * waiting (promises) the saga needs.
 */
import { isRequestedTaskState } from '../events';
import type { SnapshotAction } from '../domain/snapshot-next-step';
import type { SnapshotProcessState } from '../domain/snapshot-process.state';

/** A snapshot waiting for a slot: its image id and the log position of its ImageReserved. */
export interface QueuedSnapshot {
  readonly imageId: string;
  readonly position: number;
}

export interface SnapshotQueueState {
  /** At most this many snapshots do hypervisor work at once. */
  readonly limit: number;
  /** Snapshots holding a slot, by image id. */
  readonly active: ReadonlySet<string>;
  /** Snapshots waiting for a slot, oldest ImageReserved first. */
  readonly waiting: readonly QueuedSnapshot[];
  /** False while the queue is being rebuilt after a start: nobody is admitted until then. */
  readonly open: boolean;
}

/** The result of a transition: the new state and the snapshots it admitted. */
export interface QueueTransition {
  readonly state: SnapshotQueueState;
  readonly admitted: readonly string[];
}

export function emptyQueue(limit: number, open = true): SnapshotQueueState {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be an integer >= 1');
  return { limit, active: new Set(), waiting: [], open };
}

/** Admits waiting snapshots, oldest first, while slots are free and the queue is open. */
function promote(state: SnapshotQueueState): QueueTransition {
  if (!state.open) return { state, admitted: [] };
  const free = Math.max(0, state.limit - state.active.size);
  if (free === 0 || state.waiting.length === 0) return { state, admitted: [] };
  const admitted = state.waiting.slice(0, free).map((w) => w.imageId);
  return {
    state: {
      ...state,
      active: new Set([...state.active, ...admitted]),
      waiting: state.waiting.slice(admitted.length),
    },
    admitted,
  };
}

/**
 * A snapshot asks for a slot. It joins the queue in ImageReserved order (a second ask
 * changes nothing) and is admitted if a slot is free and no older snapshot waits.
 */
export function enqueue(state: SnapshotQueueState, entry: QueuedSnapshot): QueueTransition {
  if (state.active.has(entry.imageId) || state.waiting.some((w) => w.imageId === entry.imageId))
    return promote(state);
  const waiting = [...state.waiting, entry].sort(
    (a, b) => a.position - b.position || a.imageId.localeCompare(b.imageId),
  );
  return promote({ ...state, waiting });
}

/**
 * A snapshot that has already begun its hypervisor work (found so after a restart, or
 * compensating) holds a slot, even beyond the limit: it cannot be stopped half-way.
 */
export function hold(state: SnapshotQueueState, imageId: string): QueueTransition {
  if (state.active.has(imageId)) return { state, admitted: [] };
  return promote({
    ...state,
    active: new Set([...state.active, imageId]),
    waiting: state.waiting.filter((w) => w.imageId !== imageId),
  });
}

/** A snapshot is done, or stopped before it began: it frees its slot or leaves the queue. */
export function leave(state: SnapshotQueueState, imageId: string): QueueTransition {
  if (!state.active.has(imageId) && !state.waiting.some((w) => w.imageId === imageId))
    return { state, admitted: [] };
  const active = new Set(state.active);
  active.delete(imageId);
  return promote({ ...state, active, waiting: state.waiting.filter((w) => w.imageId !== imageId) });
}

/** Opens a queue rebuilt after a start, admitting the oldest waiting snapshots. */
export function openQueue(state: SnapshotQueueState): QueueTransition {
  return promote({ ...state, open: true });
}

/** 1-based place of a waiting snapshot in the queue; null if it is not waiting. */
export function queuePosition(state: SnapshotQueueState, imageId: string): number | null {
  const index = state.waiting.findIndex((w) => w.imageId === imageId);
  return index < 0 ? null : index + 1;
}

/** How a snapshot waits for its slot (SnapshotGate.waitForSlot). */
export interface SlotWait {
  /** Called once the snapshot is known to wait, with its 1-based place in the queue. */
  queued(position: number): Promise<void>;
  /** Aborted when the snapshot is no longer wanted (its image deleted). */
  readonly stop: AbortSignal;
  /** Aborted when the service stops: queued snapshots resume at the next start. */
  readonly draining: AbortSignal;
}

/**
 * The queue as the saga uses it: the pure state plus a promise per waiting snapshot that
 * resolves when it is admitted. Single-threaded (Node): no locking needed.
 */
export class SnapshotGate {
  private state: SnapshotQueueState;
  private readonly wakers = new Map<string, () => void>();

  constructor(limit: number) {
    // Closed until the saga has rebuilt it from the process table (open()).
    this.state = emptyQueue(limit, false);
  }

  get limit(): number {
    return this.state.limit;
  }

  /** Image ids holding a slot (for logs and tests). */
  get active(): readonly string[] {
    return [...this.state.active];
  }

  isAdmitted(imageId: string): boolean {
    return this.state.active.has(imageId);
  }

  positionOf(imageId: string): number | null {
    return queuePosition(this.state, imageId);
  }

  enqueue(entry: QueuedSnapshot): void {
    this.apply(enqueue(this.state, entry));
  }

  hold(imageId: string): void {
    this.apply(hold(this.state, imageId));
  }

  leave(imageId: string): void {
    this.wakers.get(imageId)?.();
    this.apply(leave(this.state, imageId));
  }

  open(): void {
    this.apply(openQueue(this.state));
  }

  /**
   * Resolves true once the snapshot holds a slot; false if `signal` aborts first (the
   * snapshot then leaves the queue). The snapshot must have been enqueued.
   */
  async admitted(imageId: string, signal: AbortSignal): Promise<boolean> {
    if (this.state.active.has(imageId)) return true;
    if (signal.aborted) {
      this.leave(imageId);
      return false;
    }
    await new Promise<void>((resolve) => {
      const wake = () => {
        this.wakers.delete(imageId);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.wakers.set(imageId, wake);
      signal.addEventListener('abort', wake, { once: true });
    });
    if (this.state.active.has(imageId) && !signal.aborted) return true;
    this.leave(imageId);
    return false;
  }

  /**
   * Waits until the snapshot holds a slot. If it must wait, `queued` is told its place first
   * (the saga records SnapshotQueued). `stop` (the image deleted) or `draining` (the service
   * stopping) ends the wait; a wait the service is already stopping for is not begun.
   */
  async waitForSlot(entry: QueuedSnapshot, wait: SlotWait): Promise<void> {
    this.enqueue(entry);
    if (this.isAdmitted(entry.imageId)) return;
    await wait.queued(this.positionOf(entry.imageId) ?? 1);
    if (wait.draining.aborted) return;
    await this.admitted(entry.imageId, AbortSignal.any([wait.stop, wait.draining]));
  }

  private apply(transition: QueueTransition): void {
    this.state = transition.state;
    for (const imageId of transition.admitted) this.wakers.get(imageId)?.();
  }
}

/**
 * What a snapshot's next action means for the queue:
 * - `wait`: it is about to begin (task_state image_snapshot_pending or image_backup →
 *   image_snapshot) and needs a slot first;
 * - `hold`: it has begun its hypervisor work (planned, or past the requested task state) and
 *   keeps its slot, also while it compensates;
 * - `leave`: it is done, or stopped before it began (deleted or failed while waiting): it
 *   frees its slot or leaves the queue.
 */
export type QueueRole = 'wait' | 'hold' | 'leave';

export function queueRole(state: SnapshotProcessState, action: SnapshotAction): QueueRole {
  if (action.kind === 'begin') return 'wait';
  // Hashing a chain's backup comes after its task state is given back: it holds no slot.
  if (action.kind === 'done' || action.kind === 'checksum') return 'leave';
  const { instance, imageId, plan } = state;
  const held = instance.taskImageId === imageId && instance.taskState !== null;
  const begun = plan !== null || (held && !isRequestedTaskState(instance.taskState));
  return begun ? 'hold' : 'leave';
}
