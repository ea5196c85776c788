import { intParam, type RawQuery, rejectUnknownParams } from './query-params.parser';

export const EVENTS_DEFAULT_LIMIT = 100;
export const EVENTS_MAX_LIMIT = 1000;

/**
 * Parses GET /v1/events's query string: from (a position; events strictly after it, default
 * 0 = from the start) and limit (1..1000, default 100). Throws ValidationError (400).
 */
export function parseEventsQuery(query: RawQuery): { from: number; limit: number } {
  rejectUnknownParams(query, ['from', 'limit']);
  return {
    from: intParam(query, 'from', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }),
    limit: intParam(query, 'limit', {
      min: 1,
      max: EVENTS_MAX_LIMIT,
      fallback: EVENTS_DEFAULT_LIMIT,
    }),
  };
}
