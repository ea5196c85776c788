import { ValidationError } from '../../domain/domain-errors';
import {
  AUDIT_LOG_MAX_LIMIT,
  auditCursorPosition,
  type AuditLogFilter,
  type AuditLogPage,
} from '../queries/audit-log.query';
import {
  enumParam,
  idParam,
  intParam,
  isoParam,
  listParam,
  type RawQuery,
  rejectUnknownParams,
  singleParam,
  uuidParam,
} from './query-params.parser';

export const AUDIT_QUERY_PARAMS = [
  'instance',
  'image',
  'user',
  'project',
  'type',
  'since',
  'until',
  'limit',
  'cursor',
  'order',
] as const;

export const AUDIT_DEFAULT_LIMIT = 100;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
const MAX_TYPES = 50;

/**
 * Parses GET /v1/audit's query string: instance, image (uuids), user, project, type
 * (repeatable and/or comma-separated), since/until (ISO-8601; since inclusive, until
 * exclusive), limit (1..1000, default 100), cursor (opaque) and order (asc|desc).
 * Throws ValidationError (400) on anything malformed.
 */
export function parseAuditQuery(query: RawQuery): { filter: AuditLogFilter; page: AuditLogPage } {
  rejectUnknownParams(query, AUDIT_QUERY_PARAMS);
  const types = listParam(query, 'type');
  if (types.length > MAX_TYPES)
    throw new ValidationError(`At most ${MAX_TYPES} event types may be given.`);
  const badType = types.find((t) => !EVENT_TYPE.test(t));
  if (badType !== undefined)
    throw new ValidationError(`Query parameter type has a malformed event type: ${badType}.`);
  const since = isoParam(query, 'since');
  const until = isoParam(query, 'until');
  if (since !== undefined && until !== undefined && since >= until)
    throw new ValidationError('Query parameter since must be earlier than until.');

  const cursor = singleParam(query, 'cursor');
  const afterPosition = cursor === undefined ? undefined : auditCursorPosition(cursor);
  if (afterPosition === null) throw new ValidationError('Query parameter cursor is not valid.');

  const filter: AuditLogFilter = {
    instanceId: uuidParam(query, 'instance'),
    imageId: uuidParam(query, 'image'),
    userId: idParam(query, 'user'),
    projectId: idParam(query, 'project'),
    types: types.length > 0 ? [...new Set(types)] : undefined,
    since,
    until,
  };
  const page: AuditLogPage = {
    limit: intParam(query, 'limit', {
      min: 1,
      max: AUDIT_LOG_MAX_LIMIT,
      fallback: AUDIT_DEFAULT_LIMIT,
    }),
    afterPosition,
    order: enumParam(query, 'order', ['asc', 'desc'] as const) ?? 'asc',
  };
  return { filter: dropUndefined(filter), page };
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
