import type { RequestContext } from '../domain/request-context';

/** Nova's createImage server action: snapshot an instance into a new image. */
export class CreateImageCommand {
  constructor(
    readonly instanceId: string,
    /** The raw request body; the handler validates it as Nova does. */
    readonly body: unknown,
    readonly request: RequestContext,
    /**
     * Nova's metadata-items quota (128). Nova checks it up to compute microversion 2.38 and no
     * longer from 2.39; callers outside the compute API keep it.
     */
    readonly metadataQuota: boolean = true,
  ) {}
}

export interface CreateImageResult {
  readonly imageId: string;
  /** Global position of the last event appended, for read-your-writes. */
  readonly position: number;
}
