import type { DataSource, SelectQueryBuilder } from 'typeorm';
import { isAdmin } from '../../domain/request-context';
import { ValidationError } from '../../domain/domain-errors';
import type { Actor } from '../../events';
import { ImageView } from '../../projections/entities/image-view.entity';

/** The sort keys Glance v2 accepts (glance/api/v2/images.py `_available_sort_keys`). */
export const IMAGE_SORT_KEYS = [
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'id',
  'created_at',
  'updated_at',
] as const;
export type ImageSortKey = (typeof IMAGE_SORT_KEYS)[number];
export type SortDirection = 'asc' | 'desc';

export interface ImageSort {
  readonly key: ImageSortKey;
  readonly dir: SortDirection;
}

/** Glance's comparison operators for `created_at` / `updated_at`. */
export type TimeOperator = 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'neq';

export interface TimeCondition {
  readonly op: TimeOperator;
  /**
   * The threshold in UTC as `YYYY-MM-DDTHH:MM:SS`, followed by `.fraction` only when the
   * fraction is not zero; compared with the image's time at Glance's whole-second precision.
   */
  readonly at: string;
}

/** Glance's visibility filter values; snapledger images are only ever private or shared. */
export type ImageVisibilityFilter = 'private' | 'shared' | 'public' | 'community' | 'all';

/** Glance's member_status: the membership state of images shared with the caller. */
export type MemberStatus = 'accepted' | 'pending' | 'rejected' | 'all';

/** A filter on a plain column of the image, compared for equality. */
export interface ColumnEquals {
  readonly column: 'checksum' | 'osHashAlgo' | 'osHashValue' | 'size' | 'virtualSize';
  readonly value: string | number;
}

/**
 * What to list. Every field is optional and they all combine with AND; a list of values (ids,
 * names, statuses, formats) matches any one of them (Glance's `in:` operator).
 */
export interface ImageListFilter {
  readonly ids?: readonly string[];
  readonly names?: readonly string[];
  readonly statuses?: readonly string[];
  readonly diskFormats?: readonly string[];
  readonly containerFormats?: readonly string[];
  /** Absent or `all`: every image the caller may see (owned, or shared with them). */
  readonly visibility?: ImageVisibilityFilter;
  /** The owning project (Glance `owner`). */
  readonly owner?: string;
  /** The `instance_uuid` property, as the image shows it. */
  readonly instanceUuid?: string;
  /** The `image_type` property (snapshot or backup), as the image shows it. */
  readonly imageType?: string;
  /** Any other Glance property, compared for equality with the shown value. */
  readonly properties?: Readonly<Record<string, string>>;
  readonly createdAt?: readonly TimeCondition[];
  readonly updatedAt?: readonly TimeCondition[];
  /** Bytes stored, inclusive (Glance `size_min` / `size_max`). */
  readonly sizeMin?: number;
  readonly sizeMax?: number;
  /** Bytes of the virtual disk, inclusive (Glance `virtual_size_min` / `virtual_size_max`). */
  readonly virtualSizeMin?: number;
  readonly virtualSizeMax?: number;
  readonly columns?: readonly ColumnEquals[];
  /** Shared-with-me images are implicitly accepted members; other states exclude them. */
  readonly memberStatus?: MemberStatus;
  /**
   * Set when a filter can never match a snapledger image (a tag, `os_hidden=true`,
   * `protected=true`, a non-zero `min_ram`...): the list is empty.
   */
  readonly matchNothing?: boolean;
}

export interface ImageListPage {
  /** Rows wanted, already capped by the caller (0 gives an empty page). */
  readonly limit: number;
  /** Id of the last image of the previous page; must be an image the caller may see. */
  readonly marker?: string;
  /** Sort keys in order; created_at and id are appended when missing, so ties are stable. */
  readonly sort?: readonly ImageSort[];
}

export interface ImageListResult {
  readonly images: ImageView[];
  /** The marker of the next page, or null when no image follows this page. */
  readonly nextMarker: string | null;
}

/** Glance's default order. */
export const DEFAULT_IMAGE_SORT: readonly ImageSort[] = [{ key: 'created_at', dir: 'desc' }];

/**
 * SQL for each sort key. NULLs compare as Glance's defaults (0 for numbers, '' for text) so
 * that marker comparisons stay total.
 */
const SORT_SQL: Record<ImageSortKey, string> = {
  name: '"i"."name"',
  status: '"i"."status"',
  container_format: `COALESCE("i"."containerFormat", '')`,
  disk_format: `COALESCE("i"."diskFormat", '')`,
  size: 'COALESCE("i"."size", 0)',
  id: '"i"."id"',
  created_at: '"i"."createdAt"',
  updated_at: '"i"."updatedAt"',
};

/** The marker row's value of a sort key, computed as SORT_SQL computes it. */
function sortValue(row: ImageView, key: ImageSortKey): string | number {
  switch (key) {
    case 'name':
      return row.name;
    case 'status':
      return row.status;
    case 'container_format':
      return row.containerFormat ?? '';
    case 'disk_format':
      return row.diskFormat ?? '';
    case 'size':
      return row.size ?? 0;
    case 'id':
      return row.id;
    case 'created_at':
      return row.createdAt;
    case 'updated_at':
      return row.updatedAt;
  }
}

const TIME_SQL_OPERATORS: Record<TimeOperator, string> = {
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  eq: '=',
  neq: '<>',
};

const COLUMN_SQL: Record<ColumnEquals['column'], string> = {
  checksum: '"i"."checksum"',
  osHashAlgo: '"i"."osHashAlgo"',
  osHashValue: '"i"."osHashValue"',
  size: '"i"."size"',
  virtualSize: '"i"."virtualSize"',
};

/** The full sort: the requested keys, then created_at and id in the default direction. */
export function effectiveSort(sort: readonly ImageSort[] | undefined): ImageSort[] {
  const keys = sort && sort.length > 0 ? [...sort] : [...DEFAULT_IMAGE_SORT];
  // As Glance: with one direction given, the appended keys follow it; otherwise descending.
  const fallback: SortDirection = keys.length === 1 ? keys[0].dir : 'desc';
  for (const key of ['created_at', 'id'] as const) {
    if (!keys.some((k) => k.key === key)) keys.push({ key, dir: fallback });
  }
  return keys;
}

/**
 * Binds parameters under unique names. TypeORM's named parameters are global to the query,
 * so every condition gets fresh ones.
 */
class Params {
  private n = 0;
  readonly values: Record<string, unknown> = {};
  bind(value: unknown): string {
    const name = `p${this.n++}`;
    this.values[name] = value;
    return `:${name}`;
  }
  bindList(values: readonly unknown[]): string {
    const name = `p${this.n++}`;
    this.values[name] = [...values];
    return `(:...${name})`;
  }
}

/** Which images the actor may see at all: Glance admins see every image. */
function visibleTo(actor: Actor, params: Params, memberStatus: MemberStatus): string | null {
  if (isAdmin(actor)) return null;
  const project = params.bind(actor.projectId);
  const owned = `"i"."projectId" = ${project}`;
  // A snapshot an admin took of this project's instance is shared with it as an accepted member.
  if (memberStatus !== 'accepted' && memberStatus !== 'all') return owned;
  const member = `("i"."visibility" = 'shared' AND json_extract("i"."properties", '$.instance_owner') = ${project})`;
  return `(${owned} OR ${member})`;
}

/** Equality on a property as the image shows it (user metadata included). */
function propertyEquals(params: Params, key: string, value: string): string {
  return `EXISTS (SELECT 1 FROM json_each("i"."properties") AS prop WHERE prop.key = ${params.bind(key)} AND prop.value = ${params.bind(value)})`;
}

function filterConditions(filter: ImageListFilter, params: Params): string[] {
  const where: string[] = [];
  if (filter.matchNothing) where.push('1 = 0');
  if (filter.ids?.length)
    where.push(`"i"."id" IN ${params.bindList(filter.ids.map((id) => id.toLowerCase()))}`);
  if (filter.names?.length) where.push(`"i"."name" IN ${params.bindList(filter.names)}`);
  if (filter.statuses?.length) where.push(`"i"."status" IN ${params.bindList(filter.statuses)}`);
  if (filter.diskFormats?.length)
    where.push(`"i"."diskFormat" IN ${params.bindList(filter.diskFormats)}`);
  if (filter.containerFormats?.length)
    where.push(`"i"."containerFormat" IN ${params.bindList(filter.containerFormats)}`);
  if (filter.visibility === 'public' || filter.visibility === 'community') where.push('1 = 0');
  else if (filter.visibility === 'private' || filter.visibility === 'shared')
    where.push(`"i"."visibility" = ${params.bind(filter.visibility)}`);
  if (filter.owner !== undefined) where.push(`"i"."projectId" = ${params.bind(filter.owner)}`);
  if (filter.instanceUuid !== undefined)
    where.push(propertyEquals(params, 'instance_uuid', filter.instanceUuid));
  if (filter.imageType !== undefined)
    where.push(propertyEquals(params, 'image_type', filter.imageType));
  for (const [key, value] of Object.entries(filter.properties ?? {}))
    where.push(propertyEquals(params, key, value));
  // Glance shows and compares times at whole seconds; the view keeps milliseconds.
  for (const c of filter.createdAt ?? [])
    where.push(`substr("i"."createdAt", 1, 19) ${TIME_SQL_OPERATORS[c.op]} ${params.bind(c.at)}`);
  for (const c of filter.updatedAt ?? [])
    where.push(`substr("i"."updatedAt", 1, 19) ${TIME_SQL_OPERATORS[c.op]} ${params.bind(c.at)}`);
  if (filter.sizeMin !== undefined) where.push(`"i"."size" >= ${params.bind(filter.sizeMin)}`);
  if (filter.sizeMax !== undefined) where.push(`"i"."size" <= ${params.bind(filter.sizeMax)}`);
  if (filter.virtualSizeMin !== undefined)
    where.push(`"i"."virtualSize" >= ${params.bind(filter.virtualSizeMin)}`);
  if (filter.virtualSizeMax !== undefined)
    where.push(`"i"."virtualSize" <= ${params.bind(filter.virtualSizeMax)}`);
  for (const c of filter.columns ?? [])
    where.push(`${COLUMN_SQL[c.column]} = ${params.bind(c.value)}`);
  return where;
}

/** Rows strictly after the marker in the given order (keyset paging; id makes it total). */
function afterMarker(marker: ImageView, sort: readonly ImageSort[], params: Params): string {
  const alternatives = sort.map((s, i) => {
    const equalBefore = sort
      .slice(0, i)
      .map((p) => `${SORT_SQL[p.key]} = ${params.bind(sortValue(marker, p.key))}`);
    const beyond = `${SORT_SQL[s.key]} ${s.dir === 'asc' ? '>' : '<'} ${params.bind(sortValue(marker, s.key))}`;
    return `(${[...equalBefore, beyond].join(' AND ')})`;
  });
  return `(${alternatives.join(' OR ')})`;
}

function scopedImages(
  db: DataSource,
  actor: Actor,
  params: Params,
  memberStatus: MemberStatus,
): SelectQueryBuilder<ImageView> {
  const qb = db.getRepository(ImageView).createQueryBuilder('i').where(`"i"."status" <> 'deleted'`);
  const scope = visibleTo(actor, params, memberStatus);
  if (scope) qb.andWhere(scope);
  return qb;
}

/**
 * Lists the images `actor` may see (Glance's rule: admins see all; others see their project's
 * images and the snapshots shared with their project through `instance_owner`), never deleted
 * ones, filtered, sorted and paged in SQL with bound parameters. Paging is keyset paging after
 * the marker image, stable under ties because id is always the last sort key.
 *
 * Throws ValidationError (400) when the marker is not an image the actor may see.
 */
export async function listImages(
  db: DataSource,
  actor: Actor,
  filter: ImageListFilter,
  page: ImageListPage,
): Promise<ImageListResult> {
  const sort = effectiveSort(page.sort);
  const memberStatus = filter.memberStatus ?? 'accepted';

  let marker: ImageView | null = null;
  if (page.marker !== undefined) {
    const params = new Params();
    // The marker must be visible to the caller, whatever the filters (as in Glance).
    marker = await scopedImages(db, actor, params, 'all')
      .andWhere(`"i"."id" = ${params.bind(page.marker.toLowerCase())}`)
      .setParameters(params.values)
      .getOne();
    if (!marker) throw new ValidationError(`No image found with ID ${page.marker}`);
  }
  if (page.limit <= 0) return { images: [], nextMarker: null };

  const params = new Params();
  const qb = scopedImages(db, actor, params, memberStatus);
  for (const condition of filterConditions(filter, params)) qb.andWhere(condition);
  if (marker) qb.andWhere(afterMarker(marker, sort, params));
  for (const s of sort) qb.addOrderBy(SORT_SQL[s.key], s.dir === 'asc' ? 'ASC' : 'DESC');
  const rows = await qb
    .setParameters(params.values)
    .limit(page.limit + 1)
    .getMany();
  const images = rows.slice(0, page.limit);
  const nextMarker = rows.length > page.limit ? images[images.length - 1].id : null;
  return { images, nextMarker };
}
