import DataLoader from 'dataloader';
import type { DataSource } from 'typeorm';
import type { Actor } from '../../../events';
import type { ImageView } from '../../../projections/entities/image-view.entity';
import { listImages } from '../../queries/image-list.query';

/**
 * `SnapshotRecord.image`: images by id through listImages (one scoped query for all ids);
 * an image the caller may not see, or a deleted one, is null.
 */
export function imageByIdLoader(
  db: DataSource,
  actor: Actor,
): DataLoader<string, ImageView | null> {
  return new DataLoader(async (ids) => {
    const wanted = [...new Set(ids.map((id) => id.toLowerCase()))];
    const { images } = await listImages(db, actor, { ids: wanted }, { limit: wanted.length });
    const byId = new Map(images.map((image) => [image.id, image]));
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  });
}
