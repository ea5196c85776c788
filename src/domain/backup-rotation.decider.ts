import type { ImageReserved } from '../events';

/** One active backup of an instance and backup type, as the rotation saga knows it. */
export interface RotatableBackup {
  readonly imageId: string;
  /** Global log position of its ImageReserved: the order Nova's created_at gives. */
  readonly reservedAt: number;
}

/**
 * Nova's _rotate_backups (compute/manager.py): list the backups newest first, keep the first
 * `rotation`, delete the rest. With rotation 0 every backup goes, the new one included,
 * exactly as in Nova. Returns the images to delete, oldest first.
 */
export function backupsToRotate(
  backups: readonly RotatableBackup[],
  rotation: number,
): RotatableBackup[] {
  if (!Number.isFinite(rotation) || rotation < 0) return [];
  const newestFirst = [...backups].sort((a, b) => b.reservedAt - a.reservedAt);
  return newestFirst.slice(Math.floor(rotation)).reverse();
}

/**
 * Which rotation group an image belongs to, from its Glance properties, as Nova's filter
 * (`property-image_type=backup`, `property-backup_type`, `property-instance_uuid`) finds it;
 * null when it is not a backup. Groups are also kept per owning project: a rotation never
 * deletes another project's images.
 */
export function rotationGroupOf(
  reserved: ImageReserved['data'],
): { instanceUuid: string; backupType: string; projectId: string } | null {
  const p = reserved.properties;
  const instanceUuid = p['instance_uuid'];
  const backupType = p['backup_type'];
  if (p['image_type'] !== 'backup' || instanceUuid === undefined || backupType === undefined)
    return null;
  return { instanceUuid, backupType, projectId: reserved.projectId };
}
