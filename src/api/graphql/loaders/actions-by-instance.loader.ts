import DataLoader from 'dataloader';
import type { DataSource } from 'typeorm';
import { isAdmin } from '../../../domain/request-context';
import type { Actor } from '../../../events';
import {
  type InstanceActionWithEvents,
  loadInstanceActions,
} from '../../queries/instance-actions.query';
import { decodeCursor, encodeCursor } from '../../queries/query-cursor';
import { afterKey, type ConnectionValue, type PageRequest, toConnection } from '../connection';
import type { InstanceAction } from '../types/instance-action.type';

/** Cursor of an action in its instance's list (newest first: startTime, then requestId). */
const actionCursorOf = (a: InstanceAction) => encodeCursor([a.startTime, a.requestId]);

function actionCursorKey(cursor: string): { startTime: string; requestId: string } | null {
  const key = decodeCursor(cursor, 2);
  if (!key || typeof key[0] !== 'string' || typeof key[1] !== 'string') return null;
  return { startTime: key[0], requestId: key[1] };
}

/** The GraphQL shape of an action; the compute host is shown to admins only, as in Nova. */
function toInstanceAction(actor: Actor, item: InstanceActionWithEvents): InstanceAction {
  const admin = isAdmin(actor);
  return {
    ...item.action,
    events: item.events.map((e) => ({ ...e, host: admin ? e.host : null })),
  };
}

/**
 * `Instance.actions`: the actions of every instance of the response through
 * loadInstanceActions (a fixed number of queries for any number of instances), paged here
 * in their order, newest first.
 */
export function actionsByInstanceLoader(
  db: DataSource,
  actor: Actor,
  page: PageRequest,
): DataLoader<string, ConnectionValue<InstanceAction>> {
  const after = afterKey(page, actionCursorKey);
  return new DataLoader(async (instanceIds) => {
    const byInstance = await loadInstanceActions(db, actor, instanceIds);
    return instanceIds.map((id) => {
      let list = (byInstance.get(id) ?? []).map((item) => toInstanceAction(actor, item));
      if (after) {
        list = list.filter(
          (a) =>
            a.startTime < after.startTime ||
            (a.startTime === after.startTime && a.requestId < after.requestId),
        );
      }
      return toConnection(list.slice(0, page.first), actionCursorOf, list.length > page.first);
    });
  });
}
