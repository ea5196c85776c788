import type { SnapshotStep } from '../events';
import type { SnapshotProcessState } from './snapshot-process.state';

/**
 * The next thing the snapshot process manager must do, in Nova's order:
 * image_snapshot_pending → image_snapshot → plan → (cold: managedsave) → image_pending_upload
 * → (live: quiesce + mirror into a delta) → convert → (live: remove the delta; cold: restore)
 * → image_uploading → store → task_state None → (a chain's backup: its whole image hashed).
 * On failure: the image is killed first, then the domain is restored if we saved it, a live
 * snapshot's delta and block job are removed, the data is discarded and the task state is
 * released.
 */
export type SnapshotAction =
  | { readonly kind: 'begin' }
  | { readonly kind: 'plan' }
  | { readonly kind: 'save' }
  | { readonly kind: 'mirror' }
  | { readonly kind: 'cleanup' }
  | { readonly kind: 'mark-pending-upload' }
  | { readonly kind: 'extract' }
  | { readonly kind: 'restore' }
  | { readonly kind: 'mark-uploading' }
  | { readonly kind: 'upload' }
  | { readonly kind: 'finish' }
  | { readonly kind: 'checksum' }
  | { readonly kind: 'fail'; readonly step: SnapshotStep; readonly reason: string }
  | { readonly kind: 'release'; readonly reason: string }
  | { readonly kind: 'done' };

export interface NextStepOptions {
  /** Compensation could not restore the domain (it is gone); release without restoring. */
  readonly restoreGivenUp?: boolean;
  /** Why it was given up (the last error), added to the release's reason. */
  readonly restoreGivenUpReason?: string;
}

/** The step a forward action belongs to, for SnapshotFailed. */
export const stepOf: Record<
  Exclude<SnapshotAction['kind'], 'fail' | 'release' | 'done'>,
  SnapshotStep
> = {
  begin: 'begin',
  plan: 'plan',
  save: 'save',
  mirror: 'mirror',
  cleanup: 'cleanup',
  'mark-pending-upload': 'save',
  extract: 'extract',
  restore: 'restore',
  'mark-uploading': 'upload',
  upload: 'upload',
  finish: 'upload',
  checksum: 'checksum',
};

export function nextStep(
  state: SnapshotProcessState,
  options: NextStepOptions = {},
): SnapshotAction {
  const { image, instance, plan, imageId } = state;
  const held = instance.taskImageId === imageId && instance.taskState !== null;
  const savedByUs = instance.savedForImageId === imageId;
  const deltaLeft = plan?.mode === 'live' && !state.deltaRemoved;

  if (!image.exists) {
    return held
      ? { kind: 'release', reason: 'the image reservation was lost before it was recorded' }
      : { kind: 'done' };
  }

  if (image.status === 'killed' || image.status === 'deleted') {
    if (savedByUs && !options.restoreGivenUp) return { kind: 'restore' };
    if (deltaLeft) return { kind: 'cleanup' };
    if (held) {
      const why = image.failure
        ? `snapshot failed at ${image.failure.step}: ${image.failure.reason}`
        : 'image was deleted while its snapshot ran';
      // Say so when the domain we saved is left as it is: an operator must know.
      const reason =
        savedByUs && options.restoreGivenUp
          ? `${why}; the domain was not restored, restoring it was given up: ${options.restoreGivenUpReason ?? 'it cannot be started'}`
          : why;
      return { kind: 'release', reason };
    }
    return { kind: 'done' };
  }

  if (!held) {
    // A chain's backup is hashed once it is active and its task state is given back.
    if (image.status === 'active')
      return image.checksumsPending ? { kind: 'checksum' } : { kind: 'done' };
    return {
      kind: 'fail',
      step: 'begin',
      reason: 'the instance task state no longer belongs to this snapshot',
    };
  }

  switch (instance.taskState) {
    case 'image_snapshot_pending':
    case 'image_backup': // createBackup's requested state
      return { kind: 'begin' };
    case 'image_snapshot':
      if (plan === null) return { kind: 'plan' };
      if (plan.mode === 'cold' && !savedByUs) return { kind: 'save' };
      return { kind: 'mark-pending-upload' };
    case 'image_pending_upload':
      // A live backup of a chain copies with libvirt's backup job, in its extract step.
      if (plan?.mode === 'live' && !plan.chain && !state.mirrored) return { kind: 'mirror' };
      if (!image.extracted) return { kind: 'extract' };
      if (deltaLeft) return { kind: 'cleanup' };
      if (savedByUs) return { kind: 'restore' };
      return { kind: 'mark-uploading' };
    case 'image_uploading':
      return image.uploaded ? { kind: 'finish' } : { kind: 'upload' };
    default:
      return {
        kind: 'fail',
        step: 'begin',
        reason: `unexpected task_state ${String(instance.taskState)}`,
      };
  }
}
