import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ID_GENERATOR, type IdGenerator } from './clock';
import { CreateImageCommand, type CreateImageResult } from './create-image.command';
import { parseCreateImageBody } from './create-image.validation';
import { EventAppender } from './event-appender';
import { requestSnapshot } from './snapshot-request';

/**
 * Nova's createImage: the body's schema first, then the policy (against the caller's
 * project), then the server; load → decide → append as in requestSnapshot.
 */
@CommandHandler(CreateImageCommand)
export class CreateImageHandler implements ICommandHandler<CreateImageCommand, CreateImageResult> {
  constructor(
    private readonly appender: EventAppender,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  async execute(command: CreateImageCommand): Promise<CreateImageResult> {
    const request = parseCreateImageBody(command.body, {
      metadataQuota: command.metadataQuota,
    });
    return requestSnapshot(this.appender, this.ids, {
      action: 'createImage',
      policy: 'os_compute_api:servers:create_image',
      instanceId: command.instanceId,
      imageType: 'snapshot',
      name: request.name,
      metadata: request.metadata,
      incremental: request.incremental,
      request: command.request,
    });
  }
}
