import type { LifecycleNotice } from '../drivers/domain-lifecycle.port';
import type { LibvirtDomainState } from '../drivers/hypervisor.port';
import type { DowntimeInterval, PowerState } from '../events';

/** The power states a snapshot can take a domain down from. */
export type WatchedPowerState = Extract<PowerState, 'running' | 'paused'>;

export function isWatchedPowerState(state: PowerState): state is WatchedPowerState {
  return state === 'running' || state === 'paused';
}

/**
 * Whether a lifecycle event leaves the domain down (true), up (false), or says nothing about
 * it (null), measured against the state it had when the snapshot began. A domain that was
 * running is down whenever its vCPUs stop (paused, saved, shut off); one that was paused is
 * down only when its QEMU is gone (saved, shut off, crashed): a pause is its normal state.
 */
export function isDownAfter(event: string, prior: WatchedPowerState): boolean | null {
  switch (event) {
    case 'Started':
    case 'Resumed':
      return false;
    case 'Suspended':
      return prior === 'running';
    case 'Stopped':
    case 'Crashed':
    case 'PMSuspended':
      return true;
    default:
      // Defined, Undefined, Shutdown (a guest shutting down is still running until Stopped).
      return null;
  }
}

/** The same judgement for a state read with `virsh dominfo`. */
export function isDownIn(state: LibvirtDomainState, prior: WatchedPowerState): boolean {
  if (state === 'running' || state === 'idle') return false;
  if (state === 'paused') return prior === 'running';
  return state !== 'in shutdown';
}

/**
 * Follows one domain's lifecycle events for one snapshot and turns them into the stretches
 * in which it was down. Pure bookkeeping: the events come in through observe(), and time
 * only from their timestamps and the caller.
 */
export class DowntimeWatch {
  private open: { cause: string; startedAt: Date } | null = null;
  private closed: DowntimeInterval[] = [];
  private gapCount = 0;
  private from: Date;

  constructor(
    readonly domainName: string,
    private readonly prior: WatchedPowerState,
    /** When the watch began, and whether the domain was down then (and why). */
    start: { at: Date; down: boolean; cause: string },
  ) {
    this.from = start.at;
    if (start.down) this.open = { cause: start.cause, startedAt: start.at };
  }

  observe(notice: LifecycleNotice): void {
    if (notice.kind === 'gap') {
      this.gapCount += 1;
      return;
    }
    const { event } = notice;
    if (event.domain !== this.domainName) return;
    const down = isDownAfter(event.event, this.prior);
    if (down === true && this.open === null) {
      this.open = { cause: `${event.event} ${event.detail}`.trim(), startedAt: event.at };
    } else if (down === false && this.open !== null) {
      this.closed.push(interval(this.open, event.at, false));
      this.open = null;
    }
  }

  /** Closed stretches not yet recorded. */
  get pending(): readonly DowntimeInterval[] {
    return this.closed;
  }

  get gaps(): number {
    return this.gapCount;
  }

  /**
   * What to record now: the closed stretches, and with `final` the open one too, cut at
   * `at` and marked ongoing. The caller calls recorded() once they are in the log.
   */
  take(
    at: Date,
    final: boolean,
  ): { intervals: DowntimeInterval[]; watchedFrom: Date; watchedUntil: Date; gaps: number } {
    const intervals = [...this.closed];
    if (final && this.open !== null) intervals.push(interval(this.open, at, true));
    return { intervals, watchedFrom: this.from, watchedUntil: at, gaps: this.gapCount };
  }

  /** The stretches `take` returned are in the log: the watch goes on from `until`. */
  recorded(until: Date, count: number): void {
    this.closed = this.closed.slice(count);
    this.from = until;
    this.gapCount = 0;
  }
}

/** A snapshot's watch, subscribed to the host's lifecycle events until stop(). */
export interface WatchedDomain {
  readonly watch: DowntimeWatch;
  stop(): void;
}

function interval(
  open: { cause: string; startedAt: Date },
  end: Date,
  ongoing: boolean,
): DowntimeInterval {
  const endedAt = end.getTime() < open.startedAt.getTime() ? open.startedAt : end;
  return {
    cause: open.cause,
    startedAt: open.startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationMs: endedAt.getTime() - open.startedAt.getTime(),
    ongoing,
  };
}
