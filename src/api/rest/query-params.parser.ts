import { ValidationError } from '../../domain/domain-errors';
import { isUuid } from '../../domain/request-context';
import { startsWithCalendarDate } from './calendar-date';

/** A parsed query string as Express gives it: repeated keys become arrays. */
export type RawQuery = Readonly<Record<string, unknown>>;

/** Refuses parameters a route does not know, so a typo is a 400 rather than a silent no-op. */
export function rejectUnknownParams(query: RawQuery, known: readonly string[]): void {
  const unknown = Object.keys(query).filter((k) => !known.includes(k));
  if (unknown.length > 0)
    throw new ValidationError(
      `Unknown query parameter(s): ${unknown.join(', ')}. Known: ${known.join(', ')}.`,
    );
}

/** The value of a parameter that may appear once; undefined when absent. */
export function singleParam(query: RawQuery, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new ValidationError(`Query parameter ${name} may be given only once.`);
  return value;
}

/** Every value of a repeatable, comma-separated parameter, trimmed, empties dropped. */
export function listParam(query: RawQuery, name: string): string[] {
  const value = query[name];
  if (value === undefined) return [];
  const parts = Array.isArray(value) ? value : [value];
  if (!parts.every((p): p is string => typeof p === 'string'))
    throw new ValidationError(`Query parameter ${name} is malformed.`);
  return parts
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** A whole number in [min, max], or `fallback` when absent. */
export function intParam(
  query: RawQuery,
  name: string,
  range: { min: number; max: number; fallback: number },
): number {
  const text = singleParam(query, name);
  if (text === undefined) return range.fallback;
  const value = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max)
    throw new ValidationError(
      `Query parameter ${name} must be a whole number from ${range.min} to ${range.max}.`,
    );
  return value;
}

const ISO_8601 =
  /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/**
 * An ISO-8601 date or date-time, normalised to Date#toISOString (UTC, milliseconds), the
 * form occurredAt is stored in, so it compares as text. A time needs a zone (Z or ±hh:mm).
 */
export function isoParam(query: RawQuery, name: string): string | undefined {
  const text = singleParam(query, name);
  if (text === undefined) return undefined;
  const ms = ISO_8601.test(text) && startsWithCalendarDate(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms))
    throw new ValidationError(
      `Query parameter ${name} must be an ISO-8601 date or date-time with a zone, e.g. 2024-05-01T12:00:00Z.`,
    );
  return new Date(ms).toISOString();
}

/** One of `allowed`, or undefined when absent. */
export function enumParam<T extends string>(
  query: RawQuery,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const text = singleParam(query, name);
  if (text === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(text))
    throw new ValidationError(`Query parameter ${name} must be one of: ${allowed.join(', ')}.`);
  return text as T;
}

/** A non-empty identifier of at most 255 characters, or undefined when absent. */
/** A uuid parameter, lower-cased; anything else is a 400. */
export function uuidParam(query: RawQuery, name: string): string | undefined {
  const text = singleParam(query, name);
  if (text === undefined) return undefined;
  if (!isUuid(text)) throw new ValidationError(`Query parameter ${name} must be a uuid.`);
  return text.toLowerCase();
}

export function idParam(query: RawQuery, name: string): string | undefined {
  const text = singleParam(query, name);
  if (text === undefined) return undefined;
  if (text.length === 0 || text.length > 255)
    throw new ValidationError(`Query parameter ${name} must be 1 to 255 characters.`);
  return text;
}

/** The same route with the same parameters, `cursor` (or another key) replaced. */
export function linkWith(
  path: string,
  query: RawQuery,
  replace: Readonly<Record<string, string>>,
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (key in replace) continue;
    for (const v of Array.isArray(value) ? value : [value])
      if (typeof v === 'string') params.append(key, v);
  }
  for (const [key, value] of Object.entries(replace)) params.append(key, value);
  return `${path}?${params.toString()}`;
}
