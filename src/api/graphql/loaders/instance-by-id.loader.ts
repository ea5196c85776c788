import DataLoader from 'dataloader';
import { In, type DataSource } from 'typeorm';
import { canSee } from '../../../domain/request-context';
import type { Actor } from '../../../events';
import { InstanceView } from '../../../projections/entities/instance-view.entity';

/**
 * `Image.instance` (and `instance(id)`): instances by id in one `WHERE id IN (...)` query;
 * another project's instance is null, as getInstance answers.
 */
export function instanceByIdLoader(
  db: DataSource,
  actor: Actor,
): DataLoader<string, InstanceView | null> {
  return new DataLoader(async (ids) => {
    const rows = await db
      .getRepository(InstanceView)
      .findBy({ id: In([...new Set(ids.map((id) => id.toLowerCase()))]) });
    const visible = new Map(rows.filter((r) => canSee(actor, r.projectId)).map((r) => [r.id, r]));
    return ids.map((id) => visible.get(id.toLowerCase()) ?? null);
  });
}
