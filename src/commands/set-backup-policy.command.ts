import type { RequestContext } from '../domain/request-context';

/** Sets whether an instance's backups are incremental (snapledger's own; Nova has no such policy). */
export class SetBackupPolicyCommand {
  constructor(
    readonly instanceId: string,
    readonly incremental: boolean,
    readonly request: RequestContext,
  ) {}
}

export interface SetBackupPolicyResult {
  readonly incremental: boolean;
  /** Global position of the BackupPolicySet event (0 when nothing changed), for read-your-writes. */
  readonly position: number;
}
