import {
  ActionForbiddenError,
  PolicyForbiddenError,
  ValidationError,
} from '../../domain/domain-errors';
import { isAdmin } from '../../domain/request-context';
import type { Actor } from '../../events';
import {
  INSTANCE_LIST_MAX_LIMIT,
  type InstanceListFilter,
  type InstanceListPage,
} from '../queries/instance-list.query';
import { vmStatesForStatus } from './nova-server.shape';
import { startsWithCalendarDate } from './calendar-date';

const TRUE_STRINGS = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE_STRINGS = ['0', 'f', 'false', 'off', 'n', 'no'];
const MAX_NAME_FILTER = 255;

/** oslo's strict bool_from_string; Nova also takes a bare `all_tenants` as true. */
function allTenantsFrom(value: string | null): boolean {
  if (value === null) return false;
  const lowered = value.trim().toLowerCase();
  if (lowered === '' || TRUE_STRINGS.includes(lowered)) return true;
  if (FALSE_STRINGS.includes(lowered)) return false;
  throw new ValidationError(
    `Invalid input received: Unrecognized value '${value}', acceptable values are: '${[...TRUE_STRINGS, ...FALSE_STRINGS].sort().join("', '")}'`,
  );
}

/** oslo's bool_from_string with default False: anything not true-ish is false (Nova's `deleted`). */
const loosely = (value: string): boolean => TRUE_STRINGS.includes(value.trim().toLowerCase());

/** Nova's `changes-since`: an ISO-8601 time, normalised to the views' UTC form. */
function changesSinceFrom(value: string | null): string | undefined {
  if (value === null) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
  const at = Date.parse(value.trim());
  if (!iso.test(value.trim()) || !startsWithCalendarDate(value.trim()) || Number.isNaN(at))
    throw new ValidationError(
      `Invalid input for query parameters changes-since. Value: ${value}. '${value}' is not a 'date-time'`,
    );
  return new Date(at).toISOString();
}

function limitFrom(value: string | null): number {
  if (value === null) return INSTANCE_LIST_MAX_LIMIT;
  if (!/^\s*[+-]?\d+\s*$/.test(value))
    throw new ValidationError('Invalid input received: limit must be an integer');
  const limit = Number(value);
  if (limit < 0) throw new ValidationError('Invalid input received: limit must be >= 0');
  return Math.min(limit, INSTANCE_LIST_MAX_LIMIT);
}

/**
 * Reads Nova's server-list query (`limit`, `marker`, `name`, `status`, `all_tenants`, and with
 * it `project_id`/`tenant_id`) into the shared query's filter and page. Other parameters are
 * ignored, as Nova ignores parameters it does not filter on. A non-admin asking for all
 * tenants gets Nova's policy 403; a malformed limit or all_tenants value is a 400.
 */
export function serverListParams(
  query: URLSearchParams,
  actor: Actor,
): { filter: InstanceListFilter; page: InstanceListPage } {
  const allProjects = allTenantsFrom(query.get('all_tenants'));
  if (allProjects && !isAdmin(actor))
    throw new PolicyForbiddenError('os_compute_api:servers:index:get_all_tenants');
  const name = query.get('name') ?? undefined;
  if (name !== undefined && name.length > MAX_NAME_FILTER)
    throw new ValidationError(
      `Invalid input for query parameters name: longer than ${MAX_NAME_FILTER} characters`,
    );
  const statuses = query.getAll('status');
  // As Nova: `deleted` is an admin's filter (others' is dropped); status DELETED asks for it.
  const admin = isAdmin(actor);
  const onlyDeleted =
    statuses.length > 0 && statuses.every((s) => s.trim().toUpperCase() === 'DELETED');
  if (onlyDeleted && !admin)
    throw new ActionForbiddenError('Only administrators may list deleted instances');
  const deletedParam = query.get('deleted');
  const deleted = onlyDeleted
    ? true
    : admin && deletedParam !== null
      ? loosely(deletedParam)
      : undefined;
  const filter: InstanceListFilter = {
    deleted,
    changesSince: changesSinceFrom(query.get('changes-since') ?? query.get('changes_since')),
    allProjects,
    projectId: allProjects
      ? (query.get('project_id') ?? query.get('tenant_id') ?? undefined)
      : undefined,
    name,
    vmStates: statuses.length > 0 ? [...new Set(statuses.flatMap(vmStatesForStatus))] : undefined,
  };
  const marker = query.get('marker') ?? undefined;
  return { filter, page: { limit: limitFrom(query.get('limit')), marker } };
}
