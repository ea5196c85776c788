import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { decideBackupPolicy } from '../domain/backup-policy.decider';
import { InstanceNotFoundError, PolicyForbiddenError } from '../domain/domain-errors';
import { foldInstance } from '../domain/instance.state';
import { canSee, causationFromRequest, isMemberOrAdmin, isUuid } from '../domain/request-context';
import { instanceStream } from '../events';
import { EventAppender } from './event-appender';
import { SetBackupPolicyCommand, type SetBackupPolicyResult } from './set-backup-policy.command';

const CAS_ATTEMPTS = 5;
/** The rule named in the 403, as the snapshot actions name Nova's. */
const POLICY = 'snapledger:instances:backup-policy';

/** Appends BackupPolicySet on the instance's stream, for members of its project and admins. */
@CommandHandler(SetBackupPolicyCommand)
export class SetBackupPolicyHandler implements ICommandHandler<
  SetBackupPolicyCommand,
  SetBackupPolicyResult
> {
  constructor(private readonly appender: EventAppender) {}

  async execute(command: SetBackupPolicyCommand): Promise<SetBackupPolicyResult> {
    const { actor } = command.request;
    if (!isUuid(command.instanceId)) throw new InstanceNotFoundError(command.instanceId);
    const instanceId = command.instanceId.toLowerCase();
    const { appended } = await this.appender.decideAndAppend(
      instanceStream(instanceId),
      foldInstance,
      (state) => {
        if (!state.exists || !canSee(actor, state.projectId)) {
          throw new InstanceNotFoundError(instanceId);
        }
        if (!isMemberOrAdmin(actor)) throw new PolicyForbiddenError(POLICY);
        return decideBackupPolicy(state, { instanceId, incremental: command.incremental });
      },
      causationFromRequest(command.request),
      CAS_ATTEMPTS,
    );
    return { incremental: command.incremental, position: appended?.position ?? 0 };
  }
}
