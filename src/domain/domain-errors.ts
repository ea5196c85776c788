/** Errors the deciders raise. The API maps each one to its 4xx. */
export abstract class DomainError extends Error {}

export class InstanceNotFoundError extends DomainError {
  constructor(readonly instanceId: string) {
    super(`Instance ${instanceId} could not be found.`);
    this.name = 'InstanceNotFoundError';
  }
}

export class ImageNotFoundError extends DomainError {
  constructor(readonly imageId: string) {
    super(`No image found with ID ${imageId}`);
    this.name = 'ImageNotFoundError';
  }
}

/** Nova's InstanceInvalidState, rendered as its 409 message. */
export class InstanceInvalidStateError extends DomainError {
  constructor(
    readonly instanceId: string,
    readonly action: string,
    readonly attribute: 'vm_state' | 'task_state',
    readonly state: string | null,
  ) {
    super(`Cannot '${action}' instance ${instanceId} while it is in ${attribute} ${String(state)}`);
    this.name = 'InstanceInvalidStateError';
  }
}

/** A step was asked of an aggregate in a state where it does not apply (a saga bug or a race). */
export class InvalidTransitionError extends DomainError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTransitionError';
  }
}

/** Input that fails validation; `message` is shown to the caller. */
export class ValidationError extends DomainError {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** A request that is valid but over a limit (Nova answers 403 for metadata quota). */
export class QuotaExceededError extends DomainError {
  constructor(message: string) {
    super(message);
    this.name = 'QuotaExceededError';
  }
}

/** The caller may see the resource but not do this to it (e.g. delete a shared image): 403. */
export class ActionForbiddenError extends DomainError {
  constructor(message: string) {
    super(message);
    this.name = 'ActionForbiddenError';
  }
}

/** The caller's roles do not allow the action (Nova's policy check): 403. */
export class PolicyForbiddenError extends DomainError {
  constructor(readonly rule: string) {
    super(`Policy doesn't allow ${rule} to be performed.`);
    this.name = 'PolicyForbiddenError';
  }
}
