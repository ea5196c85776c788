import type { RequestContext } from './request-context';

/** Nova's createImage server action: snapshot an instance into a new image. */
export class CreateImageCommand {
  constructor(
    readonly instanceId: string,
    /** The raw request body; the handler validates it as Nova does. */
    readonly body: unknown,
    readonly request: RequestContext,
  ) {}
}

export interface CreateImageResult {
  readonly imageId: string;
  /** Global position of the last event appended, for read-your-writes. */
  readonly position: number;
}
