/**
 * The Glance properties Nova puts on a snapshot image (compute/utils.py create_image and
 * initialize_instance_snapshot_metadata), with the user's metadata laid over them: in Nova
 * the request's metadata wins. The image belongs to the caller's project; when that is not
 * the instance's project, the image is shared and names the instance's project.
 */
export function snapshotProperties(input: {
  instanceId: string;
  userId: string;
  /** The caller's project: the image's owner. */
  projectId: string;
  instanceProjectId: string;
  imageType: 'snapshot' | 'backup';
  baseImageRef: string;
  metadata: Readonly<Record<string, string>>;
}): { properties: Record<string, string>; visibility: 'private' | 'shared' } {
  const foreign = input.projectId !== input.instanceProjectId;
  return {
    visibility: foreign ? 'shared' : 'private',
    properties: {
      image_type: input.imageType,
      instance_uuid: input.instanceId,
      user_id: input.userId,
      base_image_ref: input.baseImageRef,
      owner: input.projectId,
      ...(foreign ? { instance_owner: input.instanceProjectId } : {}),
      ...input.metadata,
    },
  };
}
