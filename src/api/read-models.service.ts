import type { DataSource } from 'typeorm';
import { canSee } from '../domain/request-context';
import type { Actor } from '../events';
import { ImageView } from '../projections/entities/image-view.entity';
import { InstanceView } from '../projections/entities/instance-view.entity';
import { getInstance } from './queries/instance-list.query';

/**
 * Project-scoped reads of the views. Another project's rows are absent, never forbidden:
 * the caller cannot tell them from rows that do not exist.
 */
export class ReadModels {
  constructor(private readonly db: DataSource) {}

  /**
   * The instance, or null when it does not exist, the actor may not see it, or it was
   * deleted (unless `includeDeleted`: its history stays readable).
   */
  instance(
    actor: Actor,
    id: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<InstanceView | null> {
    return getInstance(this.db, actor, id, options);
  }

  /** Instances the actor may see, by name then id; deleted ones only if asked. */
  async instances(
    actor: Actor,
    options: { includeDeleted?: boolean } = {},
  ): Promise<InstanceView[]> {
    const rows = await this.db.getRepository(InstanceView).find({
      where: options.includeDeleted ? {} : { deleted: false },
      order: { name: 'ASC', id: 'ASC' },
    });
    return rows.filter((r) => canSee(actor, r.projectId));
  }

  async image(actor: Actor, id: string): Promise<ImageView | null> {
    const row = await this.db.getRepository(ImageView).findOneBy({ id: id.toLowerCase() });
    if (!row || row.status === 'deleted') return null;
    // A shared snapshot is also visible to the instance's project (Glance adds it as a member).
    const member = row.visibility === 'shared' && row.properties.instance_owner === actor.projectId;
    return canSee(actor, row.projectId) || member ? row : null;
  }
}
