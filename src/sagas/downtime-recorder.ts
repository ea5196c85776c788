import type { LifecycleNotice } from '../drivers/domain-lifecycle.port';
import { DowntimeWatch, isDownIn, isWatchedPowerState, type WatchedDomain } from './downtime-watch';
import type { PlannedSnapshot, RequestedSnapshot } from './snapshot-process.state';
import type { SnapshotStepDependencies } from './snapshot-step.dependencies';
import { appendToSnapshot } from './steps/step-appends';

/**
 * A snapshot's watch on libvirt's lifecycle events (DowntimeWatch), and the DowntimeObserved
 * records of what it saw, which the worker makes at step boundaries.
 */
export class DowntimeRecorder {
  constructor(private readonly deps: SnapshotStepDependencies) {}

  /**
   * Starts watching the domain's lifecycle events for this snapshot, if it can take the
   * domain down: the plan found it running or paused. The domain's state now is the start.
   */
  async watch(state: PlannedSnapshot): Promise<WatchedDomain | null> {
    const { plan } = state;
    if (!isWatchedPowerState(plan.priorPowerState)) return null;
    const prior = plan.priorPowerState;
    const early: LifecycleNotice[] = [];
    let watch: DowntimeWatch | null = null;
    const stop = this.deps.lifecycle.subscribe((notice) => {
      if (watch) watch.observe(notice);
      else early.push(notice);
    });
    try {
      const now = await this.deps.hypervisor.state(plan.instanceId);
      const down = isDownIn(now.state, prior);
      watch = new DowntimeWatch(plan.domainName, prior, {
        at: this.deps.clock.now(),
        down,
        cause: down ? `found ${now.state}${now.hasManagedSave ? ' (saved)' : ''}` : '',
      });
    } catch (error) {
      stop();
      throw error;
    }
    for (const notice of early) watch.observe(notice);
    return { watch, stop };
  }

  /**
   * Records what the watch saw since it last recorded; with `final`, also a stretch still
   * open, cut now. Returns false when there was nothing to record.
   */
  async record(state: RequestedSnapshot, watch: DowntimeWatch, final: boolean): Promise<boolean> {
    const now = this.deps.clock.now();
    const seen = watch.take(now, final);
    if (!final && seen.intervals.length === 0) return false;
    await appendToSnapshot(this.deps.appender, state, [
      {
        type: 'DowntimeObserved',
        data: {
          imageId: state.imageId,
          instanceId: state.instanceId,
          intervals: seen.intervals,
          watchedFrom: seen.watchedFrom.toISOString(),
          watchedUntil: seen.watchedUntil.toISOString(),
          gaps: seen.gaps,
        },
      },
    ]);
    watch.recorded(now, seen.intervals.filter((i) => !i.ongoing).length);
    return true;
  }
}
