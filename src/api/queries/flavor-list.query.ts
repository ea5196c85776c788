import type { DataSource } from 'typeorm';
import { isAdmin } from '../../domain/request-context';
import type { Actor } from '../../events';
import { InstanceView } from '../../projections/entities/instance-view.entity';

/** A flavor as snapledger derives it: the size of at least one instance. */
export interface FlavorSize {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

/**
 * The distinct sizes of the instances `actor` may see (its project's; an admin's, every
 * project's), smallest first, in one query. With `only`, just that size if some visible
 * instance has it. Sizes of other projects' instances are never shown to a non-admin.
 */
export async function listFlavorSizes(
  db: DataSource,
  actor: Actor,
  only?: FlavorSize,
): Promise<FlavorSize[]> {
  const q = db
    .getRepository(InstanceView)
    .createQueryBuilder('i')
    .select('i.vcpus', 'vcpus')
    .addSelect('i.memoryMiB', 'memoryMiB')
    .distinct(true);
  if (!isAdmin(actor)) q.andWhere('i.projectId = :projectId', { projectId: actor.projectId });
  if (only)
    q.andWhere('i.vcpus = :vcpus AND i.memoryMiB = :memoryMiB', {
      vcpus: only.vcpus,
      memoryMiB: only.memoryMiB,
    });
  const rows = await q
    .orderBy('i.memoryMiB', 'ASC')
    .addOrderBy('i.vcpus', 'ASC')
    .getRawMany<{ vcpus: number; memoryMiB: number }>();
  return rows.map((r) => ({ vcpus: Number(r.vcpus), memoryMiB: Number(r.memoryMiB) }));
}
