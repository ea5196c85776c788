import type { GuestQuiesced, QuiesceSkipped } from '../../events';
import { PermanentStepError } from '../permanent-step.error';
import type { PlannedSnapshot } from '../snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import type { PlanStep } from './snapshot-step.handler';
import { appendToSnapshot } from './step-appends';

/** How often a failed thaw is tried again: a guest must not stay frozen because of us. */
const THAW_ATTEMPTS = 3;

/**
 * Live path, Nova's order: a qcow2 delta over the disk's backing file, the guest frozen if
 * it has an agent, a shallow transient block copy into the delta ended without pivoting,
 * the guest thawed whatever happened. A try cut short by a crash may have left a copy job,
 * a frozen guest or a delta: each is cleared before the copy starts again.
 */
export class MirrorStep implements PlanStep<'mirror'> {
  readonly action = 'mirror';
  readonly needs = 'plan';

  constructor(private readonly deps: SnapshotStepDependencies) {}

  async run(state: PlannedSnapshot): Promise<void> {
    const { hypervisor, deltas, clock, config, faults } = this.deps;
    const { imageId, plan } = state;
    const instanceId = plan.instanceId;
    const target = plan.diskTarget;
    if (!target) throw new PermanentStepError('the live plan names no disk target');
    const domain = await hypervisor.describe(instanceId);
    if (!['running', 'idle', 'paused'].includes(domain.state)) {
      throw new PermanentStepError(
        `domain ${domain.name} became ${domain.state} during its live snapshot`,
      );
    }
    await hypervisor.abortMirror(instanceId, target, deltas.pathOf(imageId));
    const delta = await deltas.create(imageId, {
      diskPath: plan.diskPath,
      diskFormat: plan.sourceFormat,
    });

    const quiesce = await this.quiesce(domain.guestAgent, domain.state === 'paused', state);
    const startedAt = clock.now();
    let thawed: Date | null = null;
    try {
      await faults.during('mirror', () =>
        hypervisor.mirrorDisk(instanceId, {
          target,
          destination: delta.path,
          timeoutMs: config.mirrorTimeoutMs,
          bandwidthMiB: config.mirrorBandwidthMiB ?? undefined,
        }),
      );
    } finally {
      if (quiesce.type === 'GuestQuiesced') thawed = await this.thaw(instanceId);
    }
    faults.failIfArmed('mirror-copied');
    const finishedAt = clock.now();
    const quiesced =
      quiesce.type === 'GuestQuiesced'
        ? {
            ...quiesce,
            data: {
              ...quiesce.data,
              durationMs: (thawed ?? finishedAt).getTime() - Date.parse(quiesce.data.startedAt),
            },
          }
        : quiesce;
    await appendToSnapshot(this.deps.appender, state, [
      quiesced,
      {
        type: 'DiskMirrored',
        data: {
          imageId,
          instanceId,
          overBackingFile: delta.overBackingFile,
          startedAt: startedAt.toISOString(),
          durationMs: finishedAt.getTime() - startedAt.getTime(),
        },
      },
    ]);
  }

  /**
   * Freezes the guest's filesystems through its agent, or says why not. A paused guest is not
   * asked: its agent cannot answer, and its vCPUs write nothing anyway.
   */
  private async quiesce(
    hasAgent: boolean,
    paused: boolean,
    state: PlannedSnapshot,
  ): Promise<GuestQuiesced | QuiesceSkipped> {
    const base = { imageId: state.imageId, instanceId: state.instanceId };
    const skipped = (reason: string): QuiesceSkipped => ({
      type: 'QuiesceSkipped',
      data: { ...base, reason },
    });
    if (!hasAgent) return skipped('the domain has no QEMU guest agent channel');
    if (paused) return skipped('the domain is paused');
    // A freeze left by a crashed try is undone first (thawing a thawed guest is harmless).
    await this.deps.hypervisor.thawFilesystems(base.instanceId).catch(() => undefined);
    const startedAt = this.deps.clock.now();
    try {
      const frozen = await this.deps.hypervisor.freezeFilesystems(base.instanceId);
      return {
        type: 'GuestQuiesced',
        data: {
          ...base,
          frozenFilesystems: frozen,
          startedAt: startedAt.toISOString(),
          durationMs: 0,
        },
      };
    } catch (error) {
      return skipped(
        `the guest agent did not freeze the filesystems: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Thaws the guest, trying again on failure; returns when it was thawed. */
  private async thaw(instanceId: string): Promise<Date> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.deps.hypervisor.thawFilesystems(instanceId);
        return this.deps.clock.now();
      } catch (error) {
        if (attempt >= THAW_ATTEMPTS) throw error;
      }
    }
  }
}
