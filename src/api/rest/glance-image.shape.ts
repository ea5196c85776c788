import type { ImageView } from '../../projections/entities/image-view.entity';

/** Glance writes times without fractions of a second. */
export const glanceTime = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z');

/** An image in Glance v2's shape, with its properties flattened into the object as Glance does. */
export function glanceImage(image: ImageView, prefix = ''): Record<string, unknown> {
  return {
    ...image.properties,
    id: image.id,
    name: image.name,
    status: image.status,
    visibility: image.visibility,
    protected: false,
    os_hidden: false,
    checksum: image.checksum,
    os_hash_algo: image.osHashAlgo,
    os_hash_value: image.osHashValue,
    owner: image.projectId,
    size: image.size,
    virtual_size: image.virtualSize,
    min_ram: 0,
    min_disk: 0,
    disk_format: image.diskFormat,
    container_format: image.containerFormat,
    created_at: glanceTime(image.createdAt),
    updated_at: glanceTime(image.updatedAt),
    tags: [],
    self: `${prefix}/v2/images/${image.id}`,
    file: `${prefix}/v2/images/${image.id}/file`,
    schema: `${prefix}/v2/schemas/image`,
  };
}
