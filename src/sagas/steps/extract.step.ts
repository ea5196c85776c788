import { decideExtracted, decideProgress } from '../../domain/image.decider';
import { evolveImage } from '../../domain/image.state';
import { imageStream } from '../../events';
import { PermanentStepError } from '../permanent-step.error';
import type { PlannedSnapshot } from '../../domain/snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import { StagingSpace } from '../space-check';
import type { PlanStep } from './snapshot-step.handler';
import { copyChainLayer } from './chain-copy';
import { appendToSnapshot, ImageProgressWriter, timedSince } from './step-appends';

/** How often the newest qemu-img progress is written while converting. */
const PROGRESS_SAMPLE_MS = 1000;

/** qemu-img convert into the store's staging area, with throttled progress events. */
export class ExtractStep implements PlanStep<'extract'> {
  readonly action = 'extract';
  readonly needs = 'plan';

  constructor(
    private readonly deps: SnapshotStepDependencies,
    /** This boot of the host, recorded with extracted data (see drivers/host-boot.ts). */
    private readonly bootId: string,
  ) {}

  async run(state: PlannedSnapshot, _action: unknown, signal?: AbortSignal): Promise<void> {
    const { images, disks, appender, clock, config, faults } = this.deps;
    const { imageId, plan, origin: ctx } = state;
    const startedAt = clock.now();
    if (plan.chain) {
      const copied = await copyChainLayer(this.deps, state, plan.chain, signal);
      await appendToSnapshot(appender, state, [{ type: 'BlocksCopied', data: copied }]);
      faults.failIfArmed('extract-converted');
      await appender.append(
        imageStream(imageId),
        decideExtracted(state.image, {
          diskFormat: 'qcow2',
          virtualSize: plan.virtualSize,
          ...timedSince(clock, startedAt),
          bootId: this.bootId,
        }),
        state.imageRevision,
        ctx,
      );
      return;
    }
    // Always convert: a staged file without ImageExtracted in the log may predate a power
    // loss and hold less than it should; the source is still quiescent, so convert again.
    const { source, sourceFormat } = await this.source(state);
    let image = state.image;
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
    const progress = new ImageProgressWriter(
      appender,
      state,
      (percent) => {
        const events = decideProgress(image, percent);
        if (events[0]) image = evolveImage(image, events[0]);
        return events;
      },
      { everyMs: PROGRESS_SAMPLE_MS },
    );
    try {
      await faults.during('convert', () =>
        disks.convert({
          source,
          sourceFormat,
          target,
          targetFormat: plan.targetFormat,
          onProgress: (percent) => progress.report(percent),
          signal,
          rateLimit: config.convertRateLimit ?? undefined,
          compression: plan.compression,
        }),
      );
    } finally {
      room.release();
      await progress.stop();
    }
    faults.failIfArmed('extract-converted');
    // A cold snapshot's domain is restored next, while the staged file is hashed.
    await images.markStaged(imageId, { restoreFollows: plan.mode === 'cold' });
    await appender.append(
      imageStream(imageId),
      decideExtracted(image, {
        diskFormat: plan.targetFormat,
        virtualSize: plan.virtualSize,
        ...timedSince(clock, startedAt),
        bootId: this.bootId,
      }),
      progress.revision,
      ctx,
    );
  }

  /** What the conversion reads: the live path's delta (through its backing chain), else the disk. */
  private async source(state: PlannedSnapshot): Promise<{ source: string; sourceFormat: string }> {
    const { plan } = state;
    if (plan.mode !== 'live') return { source: plan.diskPath, sourceFormat: plan.sourceFormat };
    if (!(await this.deps.deltas.exists(state.imageId))) {
      throw new PermanentStepError("the live snapshot's delta is gone; it cannot be converted");
    }
    return { source: this.deps.deltas.pathOf(state.imageId), sourceFormat: 'qcow2' };
  }
}
