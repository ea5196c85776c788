import { In, type DataSource } from 'typeorm';
import { InstanceNotFoundError, ValidationError } from '../../domain/domain-errors';
import { canSee, isAdmin } from '../../domain/request-context';
import type { Actor } from '../../events';
import { InstanceActionEvent } from '../../projections/entities/instance-action-event.entity';
import { InstanceAction } from '../../projections/entities/instance-action.entity';
import { InstanceView } from '../../projections/entities/instance-view.entity';
import { getInstance } from './instance-list.query';

/** Nova's paging of the action list (from microversion 2.58; changes-before from 2.66). */
export interface InstanceActionPage {
  readonly limit?: number;
  /** The request id of the last action of the previous page. */
  readonly marker?: string;
  /** UTC ISO times, compared with the action's updated_at. */
  readonly changesSince?: string;
  readonly changesBefore?: string;
}

/** An instance action with its events (newest first, as Nova orders them). */
export interface InstanceActionWithEvents {
  readonly action: InstanceAction;
  /** `traceback` is null unless the actor is an admin. */
  readonly events: InstanceActionEvent[];
}

/** Admins see the failure details; everyone else gets the event without them. */
function forActor(actor: Actor, events: InstanceActionEvent[]): InstanceActionEvent[] {
  if (isAdmin(actor)) return events;
  return events.map((e) => ({ ...e, traceback: null }));
}

async function visibleInstance(db: DataSource, actor: Actor, instanceId: string) {
  // As Nova from 2.21: a deleted server's actions stay readable.
  const instance = await getInstance(db, actor, instanceId, { includeDeleted: true });
  if (!instance) throw new InstanceNotFoundError(instanceId);
  return instance;
}

/**
 * The actions of one instance, newest first (startTime, then requestId, descending), in one
 * indexed query. Visible to the instance's project and to admins, whoever started them;
 * throws InstanceNotFoundError (404) for an instance the actor may not see.
 */
export async function listInstanceActions(
  db: DataSource,
  actor: Actor,
  filter: { readonly instanceId: string },
  page: InstanceActionPage = {},
): Promise<InstanceAction[]> {
  const { id: instanceId } = await visibleInstance(db, actor, filter.instanceId);
  const query = db
    .getRepository(InstanceAction)
    .createQueryBuilder('a')
    .where('a.instanceId = :instanceId', { instanceId })
    .orderBy('a.startTime', 'DESC')
    .addOrderBy('a.requestId', 'DESC');
  if (page.marker !== undefined) {
    const marker = await db
      .getRepository(InstanceAction)
      .findOneBy({ instanceId, requestId: page.marker });
    if (!marker) throw new ValidationError(`Marker ${page.marker} could not be found.`);
    query.andWhere(
      '(a.startTime < :markerTime OR (a.startTime = :markerTime AND a.requestId < :markerId))',
      { markerTime: marker.startTime, markerId: marker.requestId },
    );
  }
  // Times are stored as ISO strings in UTC, so they compare as text.
  if (page.changesSince !== undefined)
    query.andWhere('a.updatedAt >= :since', { since: page.changesSince });
  if (page.changesBefore !== undefined)
    query.andWhere('a.updatedAt <= :before', { before: page.changesBefore });
  if (page.limit !== undefined) query.take(page.limit);
  return query.getMany();
}

/**
 * One action of an instance, by its request id, with its events; null when the instance has
 * no such action. Throws InstanceNotFoundError for an instance the actor may not see.
 * Tracebacks are only kept for admins.
 */
export async function getInstanceAction(
  db: DataSource,
  actor: Actor,
  instanceId: string,
  requestId: string,
): Promise<(InstanceActionWithEvents & { readonly instanceProjectId: string }) | null> {
  const { id, projectId: instanceProjectId } = await visibleInstance(db, actor, instanceId);
  const action = await db.getRepository(InstanceAction).findOneBy({ instanceId: id, requestId });
  if (!action) return null;
  const events = await db.getRepository(InstanceActionEvent).find({
    where: { instanceId: id, requestId },
    order: { startTime: 'DESC', event: 'ASC' },
  });
  return { action, events: forActor(actor, events), instanceProjectId };
}

/**
 * Batch form for loaders (GraphQL's nested `actions`): the actions, each with its events, of
 * every instance id given, in two queries whatever the number of ids. Instances the actor
 * may not see (or that do not exist) map to an empty list. Same order and traceback rule as
 * the single-instance functions.
 */
export async function loadInstanceActions(
  db: DataSource,
  actor: Actor,
  instanceIds: readonly string[],
): Promise<Map<string, InstanceActionWithEvents[]>> {
  const result = new Map<string, InstanceActionWithEvents[]>();
  const wanted = [...new Set(instanceIds.map((id) => id.toLowerCase()))];
  for (const id of instanceIds) result.set(id, []);
  if (wanted.length === 0) return result;

  const instances = await db.getRepository(InstanceView).find({
    where: { id: In(wanted) },
    select: { id: true, projectId: true },
  });
  const visible = instances.filter((i) => canSee(actor, i.projectId)).map((i) => i.id);
  if (visible.length === 0) return result;

  const actions = await db.getRepository(InstanceAction).find({
    where: { instanceId: In(visible) },
    order: { startTime: 'DESC', requestId: 'DESC' },
  });
  const events = await db.getRepository(InstanceActionEvent).find({
    where: { instanceId: In(visible) },
    order: { startTime: 'DESC', event: 'ASC' },
  });
  const byAction = new Map<string, InstanceActionEvent[]>();
  for (const e of forActor(actor, events)) {
    const key = `${e.instanceId} ${e.requestId}`;
    byAction.set(key, [...(byAction.get(key) ?? []), e]);
  }
  const byInstance = new Map<string, InstanceActionWithEvents[]>();
  for (const action of actions) {
    const list = byInstance.get(action.instanceId) ?? [];
    list.push({ action, events: byAction.get(`${action.instanceId} ${action.requestId}`) ?? [] });
    byInstance.set(action.instanceId, list);
  }
  for (const id of instanceIds) result.set(id, byInstance.get(id.toLowerCase()) ?? []);
  return result;
}
