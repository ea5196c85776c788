import type { AuditLogEntry } from '../../projections/entities/audit-log-entry.entity';

/** One audit-log entry in the native API's snake_case shape. */
export const auditEntryShape = (a: AuditLogEntry) => ({
  position: a.position,
  event_id: a.eventId,
  stream: a.streamName,
  type: a.type,
  occurred_at: a.occurredAt,
  user_id: a.actorUserId,
  user_name: a.actorUserName,
  actor_project_id: a.actorProjectId,
  actor_roles: a.actorRoles.split(',').filter(Boolean),
  request_id: a.requestId,
  correlation_id: a.correlationId,
  causation_id: a.causationId,
  instance_id: a.instanceId,
  image_id: a.imageId,
  project_id: a.projectId,
  summary: a.summary,
  data: a.data,
});
