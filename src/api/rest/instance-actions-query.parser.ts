import { ValidationError } from '../../domain/domain-errors';
import type { InstanceActionPage } from '../queries/instance-actions.query';
import { parseIsoTime } from './glance-image-query.parser';
import { atLeast, type Microversion } from './microversion';

/** Nova's default and largest page of instance actions (CONF.api.max_limit). */
export const INSTANCE_ACTIONS_MAX_LIMIT = 1000;

function timeParam(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  const at = parseIsoTime(value);
  if (at === null)
    throw new ValidationError(
      `Invalid input for query parameters ${name}. Value: ${value}. '${value}' is not a 'date-time'`,
    );
  return at;
}

/**
 * Nova's os-instance-actions list query: from 2.58 `limit`, `marker` and `changes-since`,
 * from 2.66 also `changes-before`; below 2.58 every parameter is ignored, as Nova does.
 */
export function instanceActionsPage(
  query: URLSearchParams,
  version: Microversion,
): InstanceActionPage {
  if (!atLeast(version, 2, 58)) return {};
  const limitText = query.get('limit');
  let limit: number | undefined;
  if (limitText !== null) {
    if (!/^\d+$/.test(limitText.trim()))
      throw new ValidationError(
        `Invalid input for query parameters limit. Value: ${limitText}. '${limitText}' does not match '^[0-9]*$'`,
      );
    limit = Math.min(Number(limitText), INSTANCE_ACTIONS_MAX_LIMIT);
  }
  const changesSince = timeParam(query, 'changes-since');
  const changesBefore = atLeast(version, 2, 66) ? timeParam(query, 'changes-before') : undefined;
  if (changesSince !== undefined && changesBefore !== undefined && changesSince > changesBefore)
    throw new ValidationError(
      'The value of changes-since must be less than or equal to changes-before.',
    );
  return { limit, marker: query.get('marker') ?? undefined, changesSince, changesBefore };
}
