import { DomainError } from '../domain/domain-errors';
import { InjectedFaultError } from '../commands/fault-injection';
import { DiskImageToolError } from '../drivers/disk-image.port';
import { DomainNotFoundError, DomainStateError } from '../drivers/hypervisor.port';
import { GlanceRefusedError } from '../drivers/glance-client';
import { GlanceUploadRejectedError } from '../drivers/glance-image-store';
import { PermanentStepError } from './permanent-step.error';

/**
 * The saga's half of the retry policy: which thrown errors are permanent. It knows the
 * drivers' error classes, so it stays out of src/domain/; the pure policy
 * (domain/step-retry.policy.ts) is handed the answer as FailedTry.permanent.
 */
/** Errors that trying again cannot fix. */
export function isPermanent(error: unknown): boolean {
  if (error instanceof InjectedFaultError) return error.permanent;
  return (
    error instanceof PermanentStepError ||
    error instanceof DomainNotFoundError ||
    error instanceof DomainStateError ||
    error instanceof DomainError ||
    error instanceof DiskImageToolError ||
    error instanceof GlanceRefusedError ||
    error instanceof GlanceUploadRejectedError
  );
}
