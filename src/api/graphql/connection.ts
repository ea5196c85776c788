import type { Type } from '@nestjs/common';
import { ArgsType, Field, Int, ObjectType } from '@nestjs/graphql';
import { ValidationError } from '../../domain/domain-errors';

/** Page size when `first` is not given, and the largest `first` a list accepts. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Relay's PageInfo, forward paging only. */
@ObjectType({ description: 'Where a page of a list ends, and whether more follows.' })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'Pass as `after` to get the next page; null on an empty page.',
  })
  endCursor!: string | null;
}

/** `first` and `after` of a Relay connection field. */
@ArgsType()
export class PageArgs {
  @Field(() => Int, {
    nullable: true,
    description: `How many items, 1..${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`,
  })
  first?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'An endCursor (or edge cursor) of a previous page.',
  })
  after?: string | null;
}

/** A page request after its bounds were checked. */
export interface PageRequest {
  readonly first: number;
  readonly after: string | null;
}

/** Checks `first` (1..MAX_PAGE_SIZE) and normalizes `after`; bad values are the caller's error. */
export function pageRequest(args: PageArgs): PageRequest {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new ValidationError(`first must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return { first, after: args.after ?? null };
}

/** Decodes `after` with a query module's cursor parser; an unknown cursor is bad input. */
export function afterKey<K>(page: PageRequest, parse: (cursor: string) => K | null): K | undefined {
  if (page.after === null) return undefined;
  const key = parse(page.after);
  if (key === null) throw new ValidationError('after is not a cursor this server issued');
  return key;
}

export interface Edge<T> {
  readonly cursor: string;
  readonly node: T;
}

/** The value a connection field resolves to. */
export interface ConnectionValue<T> {
  readonly edges: readonly Edge<T>[];
  readonly pageInfo: PageInfo;
}

/**
 * Builds a connection from one page of rows: `cursorOf` gives each edge's cursor (the
 * query module's keyset cursor, so any edge cursor also works as `after`).
 */
export function toConnection<T>(
  rows: readonly T[],
  cursorOf: (row: T) => string,
  hasNextPage: boolean,
): ConnectionValue<T> {
  const edges = rows.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: { hasNextPage, endCursor: edges.length > 0 ? edges[edges.length - 1].cursor : null },
  };
}

/**
 * The GraphQL types `<Name>Edge` and `<Name>Connection` for a node type. Extend the result:
 * `@ObjectType() class ImageConnection extends Connection(Image, 'Image') {}`.
 */
export function Connection<T>(node: Type<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class EdgeType {
    @Field()
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType({ isAbstract: true })
  abstract class ConnectionType {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }
  return ConnectionType;
}

/**
 * Query cost of a connection field: its items are counted `first` times (the
 * complexity limit multiplies nested lists by their page sizes).
 */
export function connectionComplexity(options: {
  args: { first?: number | null };
  childComplexity: number;
}): number {
  const first = options.args.first ?? DEFAULT_PAGE_SIZE;
  const size = Number.isInteger(first) && first > 0 ? Math.min(first, MAX_PAGE_SIZE) : 1;
  return 1 + size * options.childComplexity;
}
