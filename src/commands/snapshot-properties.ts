/**
 * The Glance properties Nova puts on a snapshot image (compute/utils.py create_image), with
 * the user's metadata laid over them: in Nova the request's metadata wins.
 */
export function snapshotProperties(input: {
  instanceId: string;
  userId: string;
  projectId: string;
  imageType: 'snapshot' | 'backup';
  baseImageRef: string;
  metadata: Readonly<Record<string, string>>;
}): Record<string, string> {
  return {
    image_type: input.imageType,
    instance_uuid: input.instanceId,
    user_id: input.userId,
    base_image_ref: input.baseImageRef,
    owner: input.projectId,
    ...input.metadata,
  };
}
