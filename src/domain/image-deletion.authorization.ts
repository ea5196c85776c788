import { ActionForbiddenError, ImageNotFoundError } from './domain-errors';
import type { ImageState } from './image.state';
import { canSee, isMemberOrAdmin, type RequestContext } from './request-context';

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
