import { DomainError } from '../domain/domain-errors';
import { InjectedFaultError } from '../commands/fault-injection';
import { DiskImageToolError } from '../drivers/disk-image.port';
import { DomainNotFoundError, DomainStateError } from '../drivers/hypervisor.port';
import { PermanentStepError } from './permanent-step.error';
import type { SnapshotAction } from './snapshot-next-step';

/**
 * How the snapshot saga retries a step that failed (SNAPLEDGER_STEP_ATTEMPTS,
 * SNAPLEDGER_STEP_BACKOFF_MS, SNAPLEDGER_STEP_BACKOFF_MAX_MS).
 */
export interface StepRetryPolicy {
  /** Tries of a forward step before the snapshot fails (transient errors only); at least 1. */
  readonly attempts: number;
  /** Wait after the first failed try; doubled after each further one. */
  readonly firstBackoffMs: number;
  /** The wait never grows beyond this. */
  readonly maxBackoffMs: number;
}

/** What a failed try of a step leads to. */
export type StepErrorOutcome =
  /** Wait `delayMs`, then try again; `record` says whether to append SnapshotStepRetried. */
  | { readonly kind: 'retry'; readonly delayMs: number; readonly record: boolean }
  /** The snapshot fails at this step (SnapshotFailed); compensation follows. */
  | { readonly kind: 'fail' }
  /** Compensation stops trying to restore the domain and releases the task state. */
  | { readonly kind: 'give-up-restore' };

export interface FailedTry {
  readonly action: SnapshotAction['kind'];
  /** 1 for the first failed try of this action, 2 for the second... */
  readonly attempt: number;
  /** Trying again cannot help (a missing disk, a refused state, an injected permanent fault). */
  readonly permanent: boolean;
  /** The domain no longer exists in libvirt. */
  readonly domainMissing: boolean;
  /** The snapshot has already failed (or its image was deleted): this is cleanup. */
  readonly compensating: boolean;
}

/** The wait before try `attempt + 1`: first, doubled each time, capped. */
export function backoffDelayMs(attempt: number, policy: StepRetryPolicy): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(policy.maxBackoffMs, policy.firstBackoffMs * 2 ** exponent);
}

/**
 * Decides what follows a failed try.
 * - A forward step is tried at most `attempts` times, and only for transient errors: then
 *   the snapshot fails with the step's reason.
 * - Compensation never fails: a transient error (libvirtd restarting) is retried with
 *   capped back-off for as long as it takes, so a domain we saved is restored once libvirt
 *   is back. Only restoring a domain that no longer exists, or one that keeps failing with a
 *   permanent error, is given up.
 */
export function afterStepError(failed: FailedTry, policy: StepRetryPolicy): StepErrorOutcome {
  const delayMs = backoffDelayMs(failed.attempt, policy);
  if (failed.compensating || failed.action === 'fail' || failed.action === 'release') {
    if (
      failed.action === 'restore' &&
      (failed.domainMissing || (failed.permanent && failed.attempt >= policy.attempts))
    ) {
      return { kind: 'give-up-restore' };
    }
    return { kind: 'retry', delayMs, record: false };
  }
  if (!failed.permanent && failed.attempt < policy.attempts) {
    return { kind: 'retry', delayMs, record: true };
  }
  return { kind: 'fail' };
}

/** Errors that trying again cannot fix. */
export function isPermanent(error: unknown): boolean {
  if (error instanceof InjectedFaultError) return error.permanent;
  return (
    error instanceof PermanentStepError ||
    error instanceof DomainNotFoundError ||
    error instanceof DomainStateError ||
    error instanceof DomainError ||
    error instanceof DiskImageToolError
  );
}
