import type { RequestContext } from '../domain/request-context';

/** Glance's image delete: the image becomes `deleted`, its data is removed, and a snapshot still making it is stopped. */
export class DeleteImageCommand {
  constructor(
    readonly imageId: string,
    readonly request: RequestContext,
  ) {}
}

export interface DeleteImageResult {
  /** Global position of the ImageDeleted event, for read-your-writes. */
  readonly position: number;
}
