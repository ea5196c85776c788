import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { imageStream } from '../events';
import { DeleteImageCommand, type DeleteImageResult } from './delete-image.command';
import { authorizeImageDeletion } from '../domain/image-deletion.authorization';
import { ImageNotFoundError } from '../domain/domain-errors';
import { EventAppender } from './event-appender';
import { decideDeletion } from '../domain/image.decider';
import { foldImage } from '../domain/image.state';
import { causationFromRequest, isUuid } from '../domain/request-context';

/** A snapshot appends progress about once a second, so a delete may race it; re-read this often. */
const CAS_ATTEMPTS = 10;

/**
 * Appends ImageDeleted (reason `user`). Removing the data, and stopping a snapshot that is
 * still making the image, is the snapshot saga's work, driven by that event.
 */
@CommandHandler(DeleteImageCommand)
export class DeleteImageHandler implements ICommandHandler<DeleteImageCommand, DeleteImageResult> {
  constructor(private readonly appender: EventAppender) {}

  async execute(command: DeleteImageCommand): Promise<DeleteImageResult> {
    if (!isUuid(command.imageId)) throw new ImageNotFoundError(command.imageId);
    const imageId = command.imageId.toLowerCase();
    const { appended } = await this.appender.decideAndAppend(
      imageStream(imageId),
      foldImage,
      (state) => {
        authorizeImageDeletion(state, imageId, command.request);
        return decideDeletion(state, { imageId, reason: 'user' });
      },
      causationFromRequest(command.request),
      CAS_ATTEMPTS,
    );
    return { position: appended?.position ?? 0 };
  }
}
