import {
  decideExtracted,
  decideFailure,
  decideProgress,
  decideUploaded,
} from '../domain/image.decider';
import { evolveImage } from '../domain/image.state';
import {
  decideDomainRestored,
  decideDomainSaved,
  decideTaskRelease,
  decideTaskTransition,
  SNAPSHOT_ALLOWED_VM_STATES,
} from '../domain/instance.decider';
import { novaStateOf } from '../domain/nova-state.mapping';
import type { EventAppender } from '../commands/event-appender';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  type CausationContext,
  type SnapshotPlanned,
  type SnapshotStep,
  type SnapshotStepRetried,
} from '../events';
import type { LifecycleNotice } from '../drivers/domain-lifecycle.port';
import { DowntimeWatch, isDownIn, isWatchedPowerState, type WatchedDomain } from './downtime-watch';
import { LiveMirrorSteps } from './live-mirror.steps';
import type { SnapshotStepDependencies } from './snapshot-step.dependencies';
import { PermanentStepError } from './permanent-step.error';
import { ProgressSampler } from './progress-sampler';
import { StagingSpace } from './space-check';
import { planTargetFormat } from '../domain/target-format';
import type { SnapshotAction } from './snapshot-next-step';
import type { SnapshotProcessState } from './snapshot-process.state';

export { PermanentStepError } from './permanent-step.error';
export type { SnapshotStepDependencies } from './snapshot-step.dependencies';

/** How often the newest qemu-img progress is written while converting. */
const PROGRESS_SAMPLE_MS = 1000;

/** Disk formats the live path mirrors (local files only; lvm and rbd never get here). */
const LIVE_FORMATS: readonly string[] = ['qcow2', 'raw'];

/**
 * Performs one action of the snapshot process: the driver call (idempotent: it checks
 * before it acts) and the append of its event, expecting the revision it read.
 */
export class SnapshotSteps {
  /** The live path's own steps: mirror and cleanup. */
  private readonly live: LiveMirrorSteps;

  constructor(
    private readonly deps: SnapshotStepDependencies,
    /** This boot of the host, recorded with extracted data (see drivers/host-boot.ts). */
    private readonly bootId: string,
  ) {
    this.live = new LiveMirrorSteps(deps);
  }

  /**
   * `signal` stops a long driver call (the conversion) when the snapshot is no longer wanted,
   * e.g. its image was deleted; the caller then re-reads the streams and compensates.
   */
  async perform(
    action: SnapshotAction,
    state: SnapshotProcessState,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.deps.faults.stallIfArmed(action.kind);
    this.deps.faults.failIfArmed(action.kind);
    const ctx = state.origin as CausationContext;
    const { imageId, instance } = state;
    const instanceId = instance.instanceId as string;
    const { appender, clock } = this.deps;
    const onInstance = (events: Parameters<EventAppender['append']>[1]) =>
      appender.append(instanceStream(instanceId), events, state.instanceRevision, ctx);

    switch (action.kind) {
      case 'begin':
        await onInstance(
          decideTaskTransition(instance, {
            imageId,
            // createBackup holds image_backup, createImage image_snapshot_pending
            from: instance.taskState === 'image_backup' ? 'image_backup' : 'image_snapshot_pending',
            to: 'image_snapshot',
          }),
        );
        return;
      case 'plan': {
        const plan = await this.plan(state);
        await appender.append(
          snapshotStream(imageId),
          [{ type: 'SnapshotPlanned', data: plan }],
          state.snapshotRevision,
          ctx,
        );
        return;
      }
      case 'save': {
        const plan = state.plan as SnapshotPlanned['data'];
        // The downtime starts here: recorded before the save, so a crash during it cannot
        // hide it. Once only: a resumed save keeps the first start.
        if (!state.saveStarted) {
          await appender.append(
            snapshotStream(imageId),
            [
              {
                type: 'DomainSaveStarted',
                data: { imageId, instanceId, startedAt: clock.now().toISOString() },
              },
            ],
            state.snapshotRevision,
            ctx,
          );
        }
        const startedAt = clock.now();
        await this.deps.faults.during('save', () => this.deps.hypervisor.managedSave(instanceId));
        await onInstance(
          decideDomainSaved(instance, {
            imageId,
            priorPowerState: plan.priorPowerState,
            startedAt: startedAt.toISOString(),
            durationMs: clock.now().getTime() - startedAt.getTime(),
          }),
        );
        return;
      }
      case 'mark-pending-upload':
        await onInstance(
          decideTaskTransition(instance, {
            imageId,
            from: 'image_snapshot',
            to: 'image_pending_upload',
          }),
        );
        return;
      case 'mirror':
        await this.live.mirror(state, ctx);
        return;
      case 'extract':
        await this.extract(state, ctx, signal);
        return;
      case 'cleanup':
        await this.live.cleanup(state, ctx);
        return;
      case 'restore': {
        const plan = state.plan as SnapshotPlanned['data'];
        const startedAt = clock.now();
        const paused = plan.priorPowerState === 'paused';
        await this.deps.faults.during('restore', () =>
          this.deps.hypervisor.start(instanceId, { paused }),
        );
        await onInstance(
          decideDomainRestored(instance, {
            imageId,
            powerState: paused ? 'paused' : 'running',
            startedAt: startedAt.toISOString(),
            durationMs: clock.now().getTime() - startedAt.getTime(),
          }),
        );
        return;
      }
      case 'mark-uploading':
        await onInstance(
          decideTaskTransition(instance, {
            imageId,
            from: 'image_pending_upload',
            to: 'image_uploading',
          }),
        );
        return;
      case 'upload': {
        await this.requireDurableExtraction(state);
        const startedAt = clock.now();
        const stored = await this.deps.images.commit(imageId);
        const plan = state.plan as SnapshotPlanned['data'];
        await appender.append(
          imageStream(imageId),
          decideUploaded(state.image, {
            size: stored.size,
            // qemu-img convert keeps the virtual size, which the plan read from the source.
            virtualSize: plan.virtualSize,
            checksum: stored.checksum,
            osHashAlgo: 'sha512',
            osHashValue: stored.osHashValue,
            diskFormat: plan.targetFormat,
            containerFormat: 'bare',
            startedAt: startedAt.toISOString(),
            durationMs: clock.now().getTime() - startedAt.getTime(),
          }),
          state.imageRevision,
          ctx,
        );
        return;
      }
      case 'finish':
        await onInstance(
          decideTaskTransition(instance, { imageId, from: 'image_uploading', to: null }),
        );
        return;
      case 'fail':
        await this.fail(state, action.step, action.reason);
        return;
      case 'release': {
        // Leftover data must not hold the instance: release the task state even if removing
        // it fails (staging leftovers are swept at the next start).
        const discarded = await this.deps.images.discard(imageId).then(
          () => null,
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        );
        const reason =
          discarded === null
            ? action.reason
            : `${action.reason}; its data could not be removed: ${discarded}`;
        await onInstance(decideTaskRelease(instance, { imageId, reason }));
        return;
      }
      case 'done':
        return;
    }
  }

  async fail(state: SnapshotProcessState, step: SnapshotStep, reason: string): Promise<void> {
    if (step === 'save') await this.recordSaveThatHappenedAnyway(state);
    await this.deps.appender.append(
      imageStream(state.imageId),
      decideFailure(state.image, { step, reason }),
      state.imageRevision,
      state.origin as CausationContext,
    );
  }

  /**
   * The staged file is made durable only on the way to the store. A process crash keeps it in
   * the page cache; a host reboot may not have: data extracted on another boot, and not yet
   * stored, is not trusted.
   */
  private async requireDurableExtraction(state: SnapshotProcessState): Promise<void> {
    const extractedOn = state.image.extractedOnBoot;
    if (extractedOn === null || extractedOn === this.bootId) return;
    if (await this.deps.images.has(state.imageId)) return; // stored and fsynced before the reboot
    throw new PermanentStepError(
      'the host restarted after the image was extracted and before it was stored; the extracted data may be incomplete',
    );
  }

  /**
   * A managedsave reported as failed (a timeout, say) may still have saved the domain. If
   * libvirt now holds a managed-save image of this cold snapshot's domain, record it, so that
   * compensation restores the domain instead of leaving it saved.
   */
  private async recordSaveThatHappenedAnyway(state: SnapshotProcessState): Promise<void> {
    const plan = state.plan;
    const instanceId = state.instance.instanceId;
    if (
      plan?.mode !== 'cold' ||
      instanceId === null ||
      state.instance.savedForImageId === state.imageId
    )
      return;
    const now = await this.deps.hypervisor.state(instanceId).catch(() => null);
    if (now?.state !== 'shut off' || !now.hasManagedSave) return;
    const at = this.deps.clock.now().toISOString();
    await this.deps.appender.append(
      instanceStream(instanceId),
      decideDomainSaved(state.instance, {
        imageId: state.imageId,
        priorPowerState: plan.priorPowerState,
        startedAt: at,
        durationMs: 0,
      }),
      state.instanceRevision,
      state.origin as CausationContext,
    );
  }

  /** Removes an image's data (a deleted image's); absent data is fine. */
  async discardData(imageId: string): Promise<void> {
    await this.deps.images.discard(imageId);
  }

  /**
   * Records what the snapshot's watch on libvirt saw since it last recorded (see
   * DowntimeWatch); with `final`, also a stretch still open, cut now. Returns false when
   * there was nothing to record.
   */
  async recordDowntime(
    state: SnapshotProcessState,
    watch: DowntimeWatch,
    final: boolean,
  ): Promise<boolean> {
    const now = this.deps.clock.now();
    const seen = watch.take(now, final);
    if (!final && seen.intervals.length === 0) return false;
    await this.deps.appender.append(
      snapshotStream(state.imageId),
      [
        {
          type: 'DowntimeObserved',
          data: {
            imageId: state.imageId,
            instanceId: state.instance.instanceId as string,
            intervals: seen.intervals,
            watchedFrom: seen.watchedFrom.toISOString(),
            watchedUntil: seen.watchedUntil.toISOString(),
            gaps: seen.gaps,
          },
        },
      ],
      state.snapshotRevision,
      state.origin as CausationContext,
    );
    watch.recorded(now, seen.intervals.filter((i) => !i.ongoing).length);
    return true;
  }

  /**
   * Starts watching the domain's lifecycle events for this snapshot, if it can take the
   * domain down: the plan found it running or paused. The domain's state now is the start.
   */
  async watchDowntime(state: SnapshotProcessState): Promise<WatchedDomain | null> {
    const plan = state.plan;
    if (plan === null || !isWatchedPowerState(plan.priorPowerState)) return null;
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

  async recordRetry(
    state: SnapshotProcessState,
    retry: Omit<SnapshotStepRetried['data'], 'imageId'>,
  ): Promise<void> {
    await this.deps.appender.append(
      snapshotStream(state.imageId),
      [{ type: 'SnapshotStepRetried', data: { imageId: state.imageId, ...retry } }],
      state.snapshotRevision,
      state.origin as CausationContext,
    );
  }

  /** Reads the domain and its disk from libvirt and qemu-img, and picks the path and format. */
  private async plan(state: SnapshotProcessState): Promise<SnapshotPlanned['data']> {
    const instanceId = state.instance.instanceId as string;
    const domain = await this.deps.hypervisor.describe(instanceId);
    if (!domain.firstFileDisk)
      throw new PermanentStepError(`domain ${domain.name} has no file-backed disk`);
    const sourceFormat = domain.firstFileDisk.format;
    if (!sourceFormat) {
      throw new PermanentStepError(
        `the disk of domain ${domain.name} declares no format (<driver type=...>)`,
      );
    }
    const { vmState, powerState } = novaStateOf(domain.state, domain.hasManagedSave);
    // The state seen now, not the view's: the same states createImage accepts. A guest that
    // suspended itself to RAM still has a live QEMU holding the disk.
    if (!SNAPSHOT_ALLOWED_VM_STATES.includes(vmState) || domain.state === 'pmsuspended') {
      throw new PermanentStepError(`domain ${domain.name} is ${domain.state}; cannot snapshot it`);
    }
    const running = powerState === 'running' || powerState === 'paused';
    // Live, as Nova decides it: a running or paused QEMU domain on a local qcow2/raw file,
    // unless the operator forced the cold path.
    const live =
      running &&
      this.deps.config.liveSnapshot &&
      LIVE_FORMATS.includes(sourceFormat) &&
      domain.firstFileDisk.target !== '';
    // The format comes from libvirt, and qemu-img is told it: probing would trust the guest.
    const info = await this.deps.disks.info(domain.firstFileDisk.path, {
      shared: running,
      format: sourceFormat,
    });
    return {
      imageId: state.imageId,
      instanceId,
      mode: live ? 'live' : running ? 'cold' : 'offline',
      priorPowerState: powerState,
      priorVmState: vmState,
      domainName: domain.name,
      diskPath: domain.firstFileDisk.path,
      sourceFormat,
      ...planTargetFormat(sourceFormat, this.deps.config),
      virtualSize: info.virtualSize,
      ...(live ? { diskTarget: domain.firstFileDisk.target } : {}),
    };
  }

  /** What the conversion reads: the live path's delta (through its backing chain), else the disk. */
  private async extractSource(
    state: SnapshotProcessState,
  ): Promise<{ source: string; sourceFormat: string }> {
    const plan = state.plan as SnapshotPlanned['data'];
    if (plan.mode !== 'live') return { source: plan.diskPath, sourceFormat: plan.sourceFormat };
    if (!(await this.deps.deltas.exists(state.imageId))) {
      throw new PermanentStepError("the live snapshot's delta is gone; it cannot be converted");
    }
    return { source: this.deps.deltas.pathOf(state.imageId), sourceFormat: 'qcow2' };
  }

  /** qemu-img convert into the store's staging area, with throttled progress events. */
  private async extract(
    state: SnapshotProcessState,
    ctx: CausationContext,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { images, disks, appender, clock } = this.deps;
    const plan = state.plan as SnapshotPlanned['data'];
    const { imageId } = state;
    const startedAt = clock.now();
    let image = state.image;
    let revision = state.imageRevision;

    // Always convert: a staged file without ImageExtracted in the log may predate a power
    // loss and hold less than it should; the source is still quiescent, so convert again.
    const { source, sourceFormat } = await this.extractSource(state);
    const sampler = new ProgressSampler();
    let pending: Promise<void> = Promise.resolve();
    const record = (percent: number) => {
      const events = decideProgress(image, percent);
      if (events.length === 0) return;
      image = evolveImage(image, events[0]);
      pending = pending
        .then(async () => {
          const r = await appender.append(imageStream(imageId), events, revision, ctx);
          if (r) revision = r.nextExpectedRevision;
        })
        .catch(() => undefined);
    };
    const flush = () => {
      const percent = sampler.take();
      if (percent !== null) record(percent);
    };
    // A fresh partial file: a qemu-img left running by a crashed service may still hold the
    // old one's write lock (found by the crash matrix: the resumed conversion failed on it).
    const target = await images.prepareStaging(imageId);
    // Measure first: a conversion that cannot fit fails now, before it fills the store.
    const room = await StagingSpace.of(disks).claim({
      imageId,
      source,
      sourceFormat,
      target,
      targetFormat: plan.targetFormat,
      compression: plan.compression,
    });
    if (!room.ok) throw new PermanentStepError(room.reason);
    const sampling = setInterval(flush, PROGRESS_SAMPLE_MS);
    try {
      await this.deps.faults.during('convert', () =>
        disks.convert({
          source,
          sourceFormat,
          target,
          targetFormat: plan.targetFormat,
          onProgress: (percent) => sampler.report(percent),
          signal,
          rateLimit: this.deps.config.convertRateLimit ?? undefined,
          compression: plan.compression,
        }),
      );
    } finally {
      clearInterval(sampling);
      room.release();
    }
    await pending;
    this.deps.faults.failIfArmed('extract-converted');
    await images.markStaged(imageId);
    await appender.append(
      imageStream(imageId),
      decideExtracted(image, {
        diskFormat: plan.targetFormat,
        virtualSize: plan.virtualSize,
        startedAt: startedAt.toISOString(),
        durationMs: clock.now().getTime() - startedAt.getTime(),
        bootId: this.bootId,
      }),
      revision,
      ctx,
    );
  }
}
