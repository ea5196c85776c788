import { ValidationError } from '../../domain/domain-errors';
import {
  IMAGE_SORT_KEYS,
  type ColumnEquals,
  type ImageListFilter,
  type ImageListPage,
  type ImageSort,
  type ImageSortKey,
  type ImageVisibilityFilter,
  type MemberStatus,
  type SortDirection,
  type TimeCondition,
  type TimeOperator,
} from '../queries/image-list.query';

/** Glance's `limit_param_default` and `api_limit_max`. */
export const GLANCE_DEFAULT_LIMIT = 25;
export const GLANCE_MAX_LIMIT = 1000;

/** A parsed `GET /v2/images` query string. */
export interface GlanceImageQuery {
  readonly filter: ImageListFilter;
  readonly page: ImageListPage;
}

/** The query string as ordered key/value pairs (URLSearchParams order, repeats kept). */
export type QueryPairs = readonly (readonly [string, string])[];

/** Parameters that steer the list rather than filter it. */
const PAGING_AND_SORTING = new Set(['limit', 'marker', 'sort', 'sort_key', 'sort_dir']);

/** Python's int() on a query value: optional sign and surrounding blanks, digits only. */
const PY_INT = /^\s*[+-]?\d+\s*$/;

/**
 * Glance's (iso8601) time forms: a date (YYYY, YYYY-M[M], YYYY-M[M]-D[D] or YYYYMMDD), then
 * optionally `T` or a space, a time (HH, HH:MM, HH:MM:SS with a fraction, or without colons)
 * and a zone (Z, +HH, +HHMM, +HH:MM).
 */
const ISO_TIME =
  /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?|(\d{2})(\d{2}))?(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{1,2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses an ISO-8601 time as Glance does (iso8601.parse_date; no zone means UTC) into the UTC
 * form TimeCondition.at uses, or null when it is not a valid time.
 */
export function parseIsoTime(text: string): string | null {
  const m = ISO_TIME.exec(text);
  if (!m) return null;
  const [, y, monthDash, dayDash, monthBasic, dayBasic, h, mi, s, fraction, zone] = m;
  const mo = monthDash ?? monthBasic ?? '1';
  const d = dayDash ?? dayBasic ?? '1';
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) return null;
  let offsetMinutes = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) return null;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const utc = new Date(date.getTime() - offsetMinutes * 60_000);
  const utcYear = utc.getUTCFullYear();
  if (utcYear < 1 || utcYear > 9999) return null;
  const iso = utc.toISOString();
  // toISOString writes years past 9999 or before 1 with a sign; those were refused above.
  const seconds = iso.slice(0, 19);
  const digits = (fraction ?? '').replace(/0+$/, '');
  return digits ? `${seconds}.${digits}` : seconds;
}

/**
 * Glance's split_filter_op: `op:value`, or `eq` when there is no colon, or when the whole
 * value is an ISO-8601 time (whose colons are not an operator).
 */
export function splitFilterOp(expression: string): { op: string; value: string } {
  const colon = expression.indexOf(':');
  if (colon < 0) return { op: 'eq', value: expression };
  if (parseIsoTime(expression) !== null) return { op: 'eq', value: expression };
  return { op: expression.slice(0, colon), value: expression.slice(colon + 1) };
}

/**
 * Glance's split_filter_value_for_quotes: the comma-separated values of an `in:` filter, where a
 * value may be double-quoted to hold commas (`in:"a,b",c`), and `\"` escapes a quote.
 */
export function splitInValues(value: string): string[] {
  // validate_quotes: a quote opens only after a comma (or at the start), closes only before one.
  let open = false;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '"' || (i > 0 && value[i - 1] === '\\')) continue;
    if (!open && i > 0 && value[i - 1] !== ',')
      throw new ValidationError(
        `Invalid filter value ${value}. There is no comma before opening quotation mark.`,
      );
    if (open && i + 1 !== value.length && value[i + 1] !== ',')
      throw new ValidationError(
        `Invalid filter value ${value}. There is no comma after closing quotation mark.`,
      );
    open = !open;
  }
  if (open) throw new ValidationError(`Invalid filter value ${value}. The quote is not closed.`);
  const values: string[] = [];
  const token = /"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,/g;
  for (const m of value.matchAll(token)) values.push(m[1] ?? m[2] ?? '');
  return values;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return GLANCE_DEFAULT_LIMIT;
  if (!PY_INT.test(text)) throw new ValidationError('limit param must be an integer');
  const limit = Number(text.trim());
  if (limit < 0) throw new ValidationError('limit param must be positive');
  return Math.min(limit, GLANCE_MAX_LIMIT);
}

function sortKey(text: string): ImageSortKey {
  const key = text.trim();
  if (!(IMAGE_SORT_KEYS as readonly string[]).includes(key))
    throw new ValidationError(
      `Invalid sort key: ${key}. It must be one of the following: ${IMAGE_SORT_KEYS.join(', ')}.`,
    );
  return key as ImageSortKey;
}

function sortDir(text: string): SortDirection {
  const dir = text.trim();
  if (dir !== 'asc' && dir !== 'desc') throw new ValidationError(`Invalid sort direction: ${dir}`);
  return dir;
}

/** Glance's two sort syntaxes: `sort=k:dir,k2` or repeated `sort_key` / `sort_dir`. */
function parseSort(pairs: QueryPairs): ImageSort[] {
  const all = (name: string) => pairs.filter(([k]) => k === name).map(([, v]) => v);
  const sorts = all('sort');
  const keys = all('sort_key');
  const dirs = all('sort_dir');
  if (sorts.length > 0) {
    if (keys.length > 0 || dirs.length > 0)
      throw new ValidationError('Old and new sorting syntax cannot be combined');
    return sorts[sorts.length - 1]
      .trim()
      .split(',')
      .map((part) => {
        const colon = part.indexOf(':');
        const key = colon < 0 ? part : part.slice(0, colon);
        const dir = colon < 0 ? '' : part.slice(colon + 1);
        return { key: sortKey(key), dir: dir ? sortDir(dir) : 'desc' };
      });
  }
  const sortKeys = keys.map(sortKey);
  const sortDirs = dirs.map(sortDir);
  if (sortDirs.length > 1 && sortDirs.length !== sortKeys.length)
    throw new ValidationError('Number of sort dirs does not match the number of sort keys');
  const finalKeys: ImageSortKey[] = sortKeys.length > 0 ? sortKeys : ['created_at'];
  return finalKeys.map((key, i) => ({
    key,
    dir: sortDirs.length === 0 ? 'desc' : sortDirs.length === 1 ? sortDirs[0] : sortDirs[i],
  }));
}

const TIME_OPERATORS: readonly TimeOperator[] = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'];

function timeCondition(name: string, expression: string): TimeCondition {
  const { op, value } = splitFilterOp(expression);
  const at = parseIsoTime(value);
  if (at === null)
    throw new ValidationError(`Bad "${name}" query filter format. Use ISO 8601 DateTime notation.`);
  if (!(TIME_OPERATORS as readonly string[]).includes(op))
    throw new ValidationError('Unable to filter on a unknown operator.');
  return { op: op as TimeOperator, at };
}

/** `name`, `id`, `status`, `disk_format`, `container_format`: `eq:` (default) or `in:`. */
function listFilter(expression: string): string[] {
  const { op, value } = splitFilterOp(expression);
  if (op === 'in') return splitInValues(value);
  if (op === 'eq') return [value];
  throw new ValidationError(`Unable to filter by unknown operator '${op}'.`);
}

function booleanFilter(name: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v !== 'true' && v !== 'false')
    throw new ValidationError(
      `Invalid value '${value}' for '${name}' filter. Valid values are 'true' or 'false'.`,
    );
  return v === 'true';
}

function rangeBound(value: string): number {
  if (!PY_INT.test(value))
    throw new ValidationError('Unable to filter on a range with a non-numeric value.');
  return Number(value.trim());
}

/** Integer columns compared for equality: a value that is not an integer matches nothing. */
function integerOrNull(value: string): number | null {
  return PY_INT.test(value) ? Number(value.trim()) : null;
}

/**
 * Parses the query string of `GET /v2/images` the way Glance's v2 API does: paging (`limit`,
 * `marker`), both sort syntaxes, and the filters. Any parameter Glance does not know as an
 * image attribute is a property filter (e.g. `instance_uuid`, `image_type`, `user_id`).
 * A repeated filter keeps its last value, except `created_at` / `updated_at`, whose
 * conditions all apply (so a range can be given). Bad values throw ValidationError (400).
 */
export function parseGlanceImageQuery(pairs: QueryPairs): GlanceImageQuery {
  const last = new Map<string, string>();
  for (const [k, v] of pairs) last.set(k, v);

  const limit = parseLimit(last.get('limit'));
  const marker = last.get('marker');
  const sort = parseSort(pairs);

  let memberStatus: MemberStatus = 'accepted';
  let visibility: ImageVisibilityFilter | undefined;
  let matchNothing = false;
  const ids: string[] = [];
  const names: string[] = [];
  const statuses: string[] = [];
  const diskFormats: string[] = [];
  const containerFormats: string[] = [];
  const createdAt: TimeCondition[] = [];
  const updatedAt: TimeCondition[] = [];
  const columns: ColumnEquals[] = [];
  const properties: Record<string, string> = {};
  let owner: string | undefined;
  let instanceUuid: string | undefined;
  let imageType: string | undefined;
  let sizeMin: number | undefined;
  let sizeMax: number | undefined;
  let virtualSizeMin: number | undefined;
  let virtualSizeMax: number | undefined;

  // Repeatable time conditions first, in order.
  for (const [key, value] of pairs) {
    if (key === 'created_at') createdAt.push(timeCondition(key, value));
    if (key === 'updated_at') updatedAt.push(timeCondition(key, value));
  }
  if (pairs.some(([k]) => k === 'tag')) matchNothing = true; // snapledger images carry no tags

  for (const [key, value] of last) {
    if (PAGING_AND_SORTING.has(key)) continue;
    switch (key) {
      case 'created_at':
      case 'updated_at':
      case 'tag':
        break;
      case 'member_status':
        if (!['pending', 'accepted', 'rejected', 'all'].includes(value))
          throw new ValidationError(`Invalid status: ${value}`);
        memberStatus = value as MemberStatus;
        break;
      case 'visibility':
        if (!['community', 'public', 'private', 'shared', 'all'].includes(value))
          throw new ValidationError(`Invalid visibility value: ${value}`);
        visibility = value as ImageVisibilityFilter;
        break;
      case 'changes-since':
        throw new ValidationError('The "changes-since" filter is no longer available on v2.');
      case 'os_hidden':
        // No snapledger image is hidden.
        if (booleanFilter(key, value)) matchNothing = true;
        break;
      case 'protected':
        // No snapledger image is protected.
        if (booleanFilter(key, value)) matchNothing = true;
        break;
      case 'deleted':
        // Glance's list always excludes deleted images, whatever this says.
        break;
      case 'name':
        names.splice(0, names.length, ...listFilter(value));
        break;
      case 'id':
        ids.splice(0, ids.length, ...listFilter(value));
        break;
      case 'status':
        statuses.splice(0, statuses.length, ...listFilter(value));
        break;
      case 'disk_format':
        diskFormats.splice(0, diskFormats.length, ...listFilter(value));
        break;
      case 'container_format':
        containerFormats.splice(0, containerFormats.length, ...listFilter(value));
        break;
      case 'owner':
        owner = value;
        break;
      case 'instance_uuid':
        instanceUuid = value;
        break;
      case 'image_type':
        imageType = value;
        break;
      case 'size_min':
        sizeMin = rangeBound(value);
        break;
      case 'size_max':
        sizeMax = rangeBound(value);
        break;
      case 'virtual_size_min':
        virtualSizeMin = rangeBound(value);
        break;
      case 'virtual_size_max':
        virtualSizeMax = rangeBound(value);
        break;
      case 'min_ram_min':
      case 'min_disk_min':
        // min_ram and min_disk are always 0 on a snapledger image.
        if (rangeBound(value) > 0) matchNothing = true;
        break;
      case 'min_ram_max':
      case 'min_disk_max':
        if (rangeBound(value) < 0) matchNothing = true;
        break;
      case 'checksum':
        columns.push({ column: 'checksum', value });
        break;
      case 'os_hash_algo':
        columns.push({ column: 'osHashAlgo', value });
        break;
      case 'os_hash_value':
        columns.push({ column: 'osHashValue', value });
        break;
      case 'size':
      case 'virtual_size': {
        const n = integerOrNull(value);
        if (n === null) matchNothing = true;
        else columns.push({ column: key === 'size' ? 'size' : 'virtualSize', value: n });
        break;
      }
      case 'min_ram':
      case 'min_disk':
        // Always 0 on a snapledger image.
        if (integerOrNull(value) !== 0) matchNothing = true;
        break;
      case 'deleted_at':
        matchNothing = true; // a listed image is never deleted
        break;
      default:
        properties[key] = value;
    }
  }

  const filter: ImageListFilter = {
    ...(ids.length ? { ids } : {}),
    ...(names.length ? { names } : {}),
    ...(statuses.length ? { statuses } : {}),
    ...(diskFormats.length ? { diskFormats } : {}),
    ...(containerFormats.length ? { containerFormats } : {}),
    ...(visibility !== undefined ? { visibility } : {}),
    ...(owner !== undefined ? { owner } : {}),
    ...(instanceUuid !== undefined ? { instanceUuid } : {}),
    ...(imageType !== undefined ? { imageType } : {}),
    ...(Object.keys(properties).length ? { properties } : {}),
    ...(createdAt.length ? { createdAt } : {}),
    ...(updatedAt.length ? { updatedAt } : {}),
    ...(sizeMin !== undefined ? { sizeMin } : {}),
    ...(sizeMax !== undefined ? { sizeMax } : {}),
    ...(virtualSizeMin !== undefined ? { virtualSizeMin } : {}),
    ...(virtualSizeMax !== undefined ? { virtualSizeMax } : {}),
    ...(columns.length ? { columns } : {}),
    memberStatus,
    ...(matchNothing ? { matchNothing } : {}),
  };
  return { filter, page: { limit, sort, ...(marker !== undefined ? { marker } : {}) } };
}

/**
 * Glance's `first` and `next` links: the request's own parameters without `marker`, and for
 * `next` with the new marker appended. Values are re-encoded as Python's urlencode does.
 */
export function glanceListLinks(
  pairs: QueryPairs,
  nextMarker: string | null,
): { first: string; next?: string } {
  const kept = new URLSearchParams();
  for (const [k, v] of pairs) if (k !== 'marker') kept.append(k, v);
  const query = kept.toString();
  const first = query ? `/v2/images?${query}` : '/v2/images';
  if (nextMarker === null) return { first };
  kept.append('marker', nextMarker);
  return { first, next: `/v2/images?${kept.toString()}` };
}
