import { decideUploaded } from '../../domain/image.decider';
import { PermanentStepError } from '../permanent-step.error';
import type { PlannedSnapshot } from '../snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { PlanStep } from './snapshot-step.handler';
import { appendToImage, timedSince } from './step-appends';

/** Waits for the staged image's fsync and hashes, and renames it into the store. */
export class UploadStep implements PlanStep<'upload'> {
  readonly action = 'upload';
  readonly needs = 'plan';

  constructor(
    private readonly deps: SnapshotStepDependencies,
    /** This boot of the host, recorded with extracted data (see drivers/host-boot.ts). */
    private readonly bootId: string,
  ) {}

  async run(state: PlannedSnapshot): Promise<void> {
    const { appender, clock, images } = this.deps;
    const { imageId, plan } = state;
    await this.requireDurableExtraction(state);
    const startedAt = clock.now();
    const stored = await images.commit(imageId);
    await appendToImage(
      appender,
      state,
      decideUploaded(state.image, {
        size: stored.size,
        // qemu-img convert keeps the virtual size, which the plan read from the source.
        virtualSize: plan.virtualSize,
        checksum: stored.checksum,
        osHashAlgo: 'sha512',
        osHashValue: stored.osHashValue,
        diskFormat: plan.targetFormat,
        containerFormat: 'bare',
        ...timedSince(clock, startedAt),
      }),
    );
  }

  /**
   * The staged file is made durable only on the way to the store. A process crash keeps it in
   * the page cache; a host reboot may not have: data extracted on another boot, and not yet
   * stored, is not trusted.
   */
  private async requireDurableExtraction(state: PlannedSnapshot): Promise<void> {
    const extractedOn = state.image.extractedOnBoot;
    if (extractedOn === null || extractedOn === this.bootId) return;
    if (await this.deps.images.has(state.imageId)) return; // stored and fsynced before the reboot
    throw new PermanentStepError(
      'the host restarted after the image was extracted and before it was stored; the extracted data may be incomplete',
    );
  }
}
