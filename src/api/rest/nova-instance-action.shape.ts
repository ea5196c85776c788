import type { InstanceActionEvent } from '../../projections/entities/instance-action-event.entity';
import type { InstanceAction } from '../../projections/entities/instance-action.entity';
import { novaDbTime } from './nova-server.shape';

/** An instance action as Nova shows it before microversion 2.58 (no updated_at). */
export function instanceActionShape(action: InstanceAction) {
  return {
    action: action.action,
    instance_uuid: action.instanceId,
    message: action.message,
    project_id: action.projectId,
    request_id: action.requestId,
    start_time: novaDbTime(action.startTime),
    user_id: action.userId,
  };
}

/**
 * An action event as Nova shows it before 2.62 (no host). `traceback` is only present for
 * admins (Nova's os-instance-actions:events:details policy).
 */
export function instanceActionEventShape(event: InstanceActionEvent, admin: boolean) {
  return {
    event: event.event,
    start_time: novaDbTime(event.startTime),
    finish_time: novaDbTime(event.finishTime),
    result: event.result,
    ...(admin ? { traceback: event.traceback } : {}),
  };
}
