import type { DataSource } from 'typeorm';
import { ValidationError } from '../../domain/domain-errors';
import { canSee, isAdmin } from '../../domain/request-context';
import type { Actor } from '../../events';
import { InstanceView } from '../../projections/entities/instance-view.entity';

/** What to narrow the instance list to; fields combine with AND. */
export interface InstanceListFilter {
  /** Admins only (Nova's `all_tenants`): every project's instances. Ignored for others. */
  readonly allProjects?: boolean;
  /** Admins only (Nova's `project_id` / `tenant_id`): that project's instances. Ignored for others. */
  readonly projectId?: string;
  /** Case-insensitive substring of the instance (domain) name. */
  readonly name?: string;
  /** Nova vm_states; an instance matches if it is in any of them. An empty array matches none. */
  readonly vmStates?: readonly string[];
  /**
   * Nova's `deleted` (admins only): true lists only deleted instances, false only the others.
   * Absent: only the others, unless `changesSince` is given, which lists both (as Nova does).
   */
  readonly deleted?: boolean;
  /** Nova's `changes-since`: instances changed (or deleted) at or after this ISO-8601 time. */
  readonly changesSince?: string;
}

/** A page of instances, newest first (createdAt, then id, both descending), as Nova sorts. */
export interface InstanceListPage {
  /** 0..INSTANCE_LIST_MAX_LIMIT; larger values are capped. */
  readonly limit: number;
  /** Continue after this instance id (Nova's `marker`). */
  readonly marker?: string;
}

export interface InstanceListResult {
  readonly rows: InstanceView[];
  /** The marker for the next page (the last row's id), or null when no more rows remain. */
  readonly nextMarker: string | null;
}

/** Nova's default `[api] max_limit`. */
export const INSTANCE_LIST_MAX_LIMIT = 1000;

/**
 * The instance with this id if `actor` may see it (another project's is null, as if absent).
 * A deleted instance is absent too (Nova's 404), unless `includeDeleted`: its history and
 * instance actions stay readable.
 */
export async function getInstance(
  db: DataSource,
  actor: Actor,
  id: string,
  options: { includeDeleted?: boolean } = {},
): Promise<InstanceView | null> {
  const row = await db.getRepository(InstanceView).findOneBy({ id: id.toLowerCase() });
  if (!row || !canSee(actor, row.projectId)) return null;
  return row.deleted && !options.includeDeleted ? null : row;
}

/**
 * Lists the instances `actor` may see, in ONE query with keyset paging on
 * (createdAt DESC, id DESC) and a LIMIT of limit + 1 to learn whether more remain.
 *
 * Scoping, as in Nova: a non-admin sees its own project only, whatever the filter says; an
 * admin sees its own project too, unless it asks for `allProjects` or names a `projectId`.
 * An unknown (or invisible) marker is a ValidationError: Nova's 400 "marker [X] not found".
 */
export async function listInstances(
  db: DataSource,
  actor: Actor,
  filter: InstanceListFilter,
  page: InstanceListPage,
): Promise<InstanceListResult> {
  const limit = Math.max(0, Math.min(INSTANCE_LIST_MAX_LIMIT, Math.trunc(page.limit)));
  const admin = isAdmin(actor);
  const projectId = !admin
    ? actor.projectId
    : (filter.projectId ?? (filter.allProjects ? undefined : actor.projectId));

  let after: InstanceView | null = null;
  if (page.marker !== undefined) {
    after = await getInstance(db, actor, page.marker, { includeDeleted: true });
    if (!after || (projectId !== undefined && after.projectId !== projectId))
      throw new ValidationError(`marker [${page.marker}] not found`);
  }
  if (limit === 0 || (filter.vmStates !== undefined && filter.vmStates.length === 0))
    return { rows: [], nextMarker: null };

  const q = db.getRepository(InstanceView).createQueryBuilder('i');
  if (projectId !== undefined) q.andWhere('i.projectId = :projectId', { projectId });
  if (filter.name !== undefined && filter.name !== '')
    q.andWhere('instr(lower(i.name), lower(:name)) > 0', { name: filter.name });
  if (filter.vmStates !== undefined)
    q.andWhere('i.vmState IN (:...vmStates)', { vmStates: [...filter.vmStates] });
  const deleted = filter.deleted ?? (filter.changesSince === undefined ? false : undefined);
  if (deleted !== undefined) q.andWhere('i.deleted = :deleted', { deleted: deleted ? 1 : 0 });
  if (filter.changesSince !== undefined)
    q.andWhere('i.updatedAt >= :since', { since: filter.changesSince });
  if (after)
    q.andWhere('(i.createdAt < :afterAt OR (i.createdAt = :afterAt AND i.id < :afterId))', {
      afterAt: after.createdAt,
      afterId: after.id,
    });
  const rows = await q
    .orderBy('i.createdAt', 'DESC')
    .addOrderBy('i.id', 'DESC')
    .limit(limit + 1)
    .getMany();
  const more = rows.length > limit;
  if (more) rows.length = limit;
  return { rows, nextMarker: more ? rows[rows.length - 1]!.id : null };
}
