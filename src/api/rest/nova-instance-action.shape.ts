import type { InstanceActionEvent } from '../../projections/entities/instance-action-event.entity';
import type { InstanceAction } from '../../projections/entities/instance-action.entity';
import { atLeast, MIN_COMPUTE_VERSION, type Microversion } from './microversion';
import { novaDbTime, novaHostId } from './nova-server.shape';

/** An instance action as Nova shows it; `updated_at` from microversion 2.58. */
export function instanceActionShape(
  action: InstanceAction,
  version: Microversion = MIN_COMPUTE_VERSION,
) {
  return {
    action: action.action,
    instance_uuid: action.instanceId,
    message: action.message,
    project_id: action.projectId,
    request_id: action.requestId,
    start_time: novaDbTime(action.startTime),
    user_id: action.userId,
    ...(atLeast(version, 2, 58) ? { updated_at: novaDbTime(action.updatedAt) } : {}),
  };
}

/** What an event's shape depends on besides the row. */
export interface ActionEventShapeContext {
  readonly admin: boolean;
  readonly version: Microversion;
  /** The instance's project, for the hostId hash. */
  readonly projectId: string;
}

/**
 * An action event as Nova shows it. `traceback` and (from 2.62) `host` only for admins
 * (Nova's os-instance-actions:events:details policy); from 2.62 everyone sees the hashed
 * `hostId`; from 2.84 `details`, which snapledger has none of (null).
 */
export function instanceActionEventShape(event: InstanceActionEvent, ctx: ActionEventShapeContext) {
  const shape: Record<string, unknown> = {
    event: event.event,
    start_time: novaDbTime(event.startTime),
    finish_time: novaDbTime(event.finishTime),
    result: event.result,
    ...(ctx.admin ? { traceback: event.traceback } : {}),
  };
  if (atLeast(ctx.version, 2, 62)) {
    shape.hostId = novaHostId(ctx.projectId, event.host ?? '');
    if (ctx.admin) shape.host = event.host ?? '';
  }
  if (atLeast(ctx.version, 2, 84)) shape.details = null;
  return shape;
}
