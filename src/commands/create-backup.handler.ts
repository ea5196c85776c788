import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ID_GENERATOR, type IdGenerator } from './clock';
import { CreateBackupCommand, type CreateBackupResult } from './create-backup.command';
import { parseCreateBackupBody } from './create-backup.validation';
import { EventAppender } from './event-appender';
import { requestSnapshot } from './snapshot-request';

/**
 * Nova's createBackup (compute/api.py backup()): an image with image_type=backup and the
 * backup_type property (which wins over user metadata, as in Nova), the task state
 * None → image_backup by compare-and-swap, and the rotation recorded with the reservation
 * for the backup-rotation saga to apply once the backup is active.
 */
@CommandHandler(CreateBackupCommand)
export class CreateBackupHandler implements ICommandHandler<
  CreateBackupCommand,
  CreateBackupResult
> {
  constructor(
    private readonly appender: EventAppender,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  async execute(command: CreateBackupCommand): Promise<CreateBackupResult> {
    const request = parseCreateBackupBody(command.body, {
      metadataQuota: command.metadataQuota,
    });
    const result = await requestSnapshot(this.appender, this.ids, {
      action: 'createBackup',
      policy: 'os_compute_api:os-create-backup',
      instanceId: command.instanceId,
      imageType: 'backup',
      name: request.name,
      metadata: { ...request.metadata, backup_type: request.backupType },
      reservation: { backupType: request.backupType, rotation: request.rotation },
      ...(request.incremental === undefined ? {} : { incremental: request.incremental }),
      request: command.request,
    });
    return { ...result, rotation: request.rotation };
  }
}
