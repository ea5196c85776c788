/** A step that cannot succeed however often it is tried (no disk, domain crashed...). */
export class PermanentStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentStepError';
  }
}
