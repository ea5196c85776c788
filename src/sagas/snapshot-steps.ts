import {
  decideExtracted,
  decideFailure,
  decideProgress,
  decideUploaded,
} from '../commands/image.decider';
import { evolveImage } from '../commands/image.state';
import {
  decideDomainRestored,
  decideDomainSaved,
  decideTaskRelease,
  decideTaskTransition,
  SNAPSHOT_ALLOWED_VM_STATES,
} from '../commands/instance.decider';
import { novaStateOf } from '../commands/nova-state.mapping';
import type { Clock } from '../commands/clock';
import type { EventAppender } from '../commands/event-appender';
import type { FaultInjector } from '../commands/fault-injection';
import type { SnapledgerConfig } from '../config/snapledger.config';
import type { DiskImageTool } from '../drivers/disk-image.port';
import type { Hypervisor } from '../drivers/hypervisor.port';
import type { ImageStore } from '../drivers/image-store.port';
import {
  imageStream,
  instanceStream,
  snapshotStream,
  type CausationContext,
  type SnapshotPlanned,
  type SnapshotStep,
  type SnapshotStepRetried,
} from '../events';
import { ProgressSampler } from './progress-sampler';
import type { SnapshotAction } from './snapshot-next-step';
import type { SnapshotProcessState } from './snapshot-process.state';

/** How often the newest qemu-img progress is written while converting. */
const PROGRESS_SAMPLE_MS = 1000;

/** A step that cannot succeed however often it is tried (no disk, domain crashed...). */
export class PermanentStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentStepError';
  }
}

export interface SnapshotStepDependencies {
  readonly appender: EventAppender;
  readonly hypervisor: Hypervisor;
  readonly disks: DiskImageTool;
  readonly images: ImageStore;
  readonly clock: Clock;
  readonly config: SnapledgerConfig;
  readonly faults: FaultInjector;
}

/**
 * Performs one action of the snapshot process: the driver call (idempotent: it checks
 * before it acts) and the append of its event, expecting the revision it read.
 */
export class SnapshotSteps {
  constructor(
    private readonly deps: SnapshotStepDependencies,
    /** This boot of the host, recorded with extracted data (see drivers/host-boot.ts). */
    private readonly bootId: string,
  ) {}

  /**
   * `signal` stops a long driver call (the conversion) when the snapshot is no longer wanted,
   * e.g. its image was deleted; the caller then re-reads the streams and compensates.
   */
  async perform(
    action: SnapshotAction,
    state: SnapshotProcessState,
    signal?: AbortSignal,
  ): Promise<void> {
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
            from: 'image_snapshot_pending',
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
        const startedAt = clock.now();
        await this.deps.hypervisor.managedSave(instanceId);
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
      case 'extract':
        await this.extract(state, ctx, signal);
        return;
      case 'restore': {
        const plan = state.plan as SnapshotPlanned['data'];
        const startedAt = clock.now();
        const paused = plan.priorPowerState === 'paused';
        await this.deps.hypervisor.start(instanceId, { paused });
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
    // The format comes from libvirt, and qemu-img is told it: probing would trust the guest.
    const info = await this.deps.disks.info(domain.firstFileDisk.path, {
      shared: running,
      format: sourceFormat,
    });
    return {
      imageId: state.imageId,
      instanceId,
      mode: running ? 'cold' : 'offline',
      priorPowerState: powerState,
      priorVmState: vmState,
      domainName: domain.name,
      diskPath: domain.firstFileDisk.path,
      sourceFormat,
      targetFormat: this.deps.config.snapshotFormat ?? sourceFormat,
      virtualSize: info.virtualSize,
    };
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
    const sampling = setInterval(flush, PROGRESS_SAMPLE_MS);
    try {
      await disks.convert({
        source: plan.diskPath,
        sourceFormat: plan.sourceFormat,
        target: images.stagingPath(imageId),
        targetFormat: plan.targetFormat,
        onProgress: (percent) => sampler.report(percent),
        signal,
        rateLimit: this.deps.config.convertRateLimit ?? undefined,
      });
    } finally {
      clearInterval(sampling);
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
