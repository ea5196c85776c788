import type { RequestContext } from '../domain/request-context';

/** Nova's createBackup server action: an image of type backup, rotated within its backup_type. */
export class CreateBackupCommand {
  constructor(
    readonly instanceId: string,
    /** The raw request body; the handler validates it as Nova does. */
    readonly body: unknown,
    readonly request: RequestContext,
    /** Nova's metadata-items quota, checked up to compute microversion 2.38 (as for createImage). */
    readonly metadataQuota: boolean = true,
  ) {}
}

export interface CreateBackupResult {
  readonly imageId: string;
  /** Global position of the last event appended, for read-your-writes. */
  readonly position: number;
  /** The rotation asked for: Nova gives a Location header (before 2.45) only when it is > 0. */
  readonly rotation: number;
}
