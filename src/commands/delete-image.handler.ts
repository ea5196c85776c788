import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { imageStream } from '../events';
import { DeleteImageCommand, type DeleteImageResult } from './delete-image.command';
import { ActionForbiddenError, ImageNotFoundError } from './domain-errors';
import { EventAppender } from './event-appender';
import { decideDeletion } from './image.decider';
import { foldImage, type ImageState } from './image.state';
import {
  canSee,
  causationFromRequest,
  isMemberOrAdmin,
  isUuid,
  type RequestContext,
} from './request-context';

/** A snapshot appends progress about once a second, so a delete may race it; re-read this often. */
const CAS_ATTEMPTS = 10;

/**
 * Who may delete: the owning project's members and admins. The project a shared snapshot is
 * shared with sees the image but may not delete it (403); anyone else gets 404, as if the
 * image did not exist.
 */
export function authorizeImageDeletion(
  state: ImageState,
  imageId: string,
  request: RequestContext,
): void {
  const { actor } = request;
  const owner = state.exists && canSee(actor, state.projectId);
  const member = state.exists && state.sharedWithProjectId === actor.projectId;
  if (!owner && !member) throw new ImageNotFoundError(imageId);
  if (!owner) throw new ActionForbiddenError('You are not permitted to delete this image.');
  if (!isMemberOrAdmin(actor))
    throw new ActionForbiddenError('You are not authorized to complete delete_image action.');
}

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
