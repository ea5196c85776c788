import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/domain-errors';
import {
  connectionComplexity,
  MAX_PAGE_SIZE,
  pageRequest,
  toConnection,
} from '../../src/api/graphql/connection';
import { operationDepth } from '../../src/api/graphql/query-depth';

describe('operationDepth', () => {
  it('counts nested fields, through fragments and inline fragments', () => {
    expect(operationDepth(parse('{ a }'))).toBe(1);
    expect(operationDepth(parse('{ a { b { c } } d }'))).toBe(3);
    expect(
      operationDepth(parse('{ a { ...F } } fragment F on T { b { ... on U { c { d } } } }')),
    ).toBe(4);
  });

  it('picks the named operation and ignores introspection fields', () => {
    const doc = parse('query A { a } query B { a { b { c } } }');
    expect(operationDepth(doc, 'A')).toBe(1);
    expect(operationDepth(doc, 'B')).toBe(3);
    expect(
      operationDepth(parse('{ __schema { types { fields { type { ofType { name } } } } } }')),
    ).toBe(0);
  });

  it('does not loop on a fragment cycle', () => {
    expect(operationDepth(parse('{ a { ...F } } fragment F on T { b { ...F } }'))).toBe(2);
  });
});

describe('connection paging', () => {
  it('bounds first and defaults it', () => {
    expect(pageRequest({})).toEqual({ first: 20, after: null });
    expect(pageRequest({ first: MAX_PAGE_SIZE, after: 'x' })).toEqual({ first: 100, after: 'x' });
    for (const first of [0, -1, MAX_PAGE_SIZE + 1])
      expect(() => pageRequest({ first })).toThrow(ValidationError);
  });

  it('multiplies the cost of the items by first', () => {
    expect(connectionComplexity({ args: { first: 10 }, childComplexity: 5 })).toBe(51);
    expect(connectionComplexity({ args: {}, childComplexity: 5 })).toBe(101);
  });

  it('gives each edge its cursor and the last one as endCursor', () => {
    const c = toConnection([{ id: 'a' }, { id: 'b' }], (r) => `c-${r.id}`, true);
    expect(c.edges.map((e) => e.cursor)).toEqual(['c-a', 'c-b']);
    expect(c.pageInfo).toEqual({ hasNextPage: true, endCursor: 'c-b' });
    expect(toConnection([], () => 'x', false).pageInfo).toEqual({
      hasNextPage: false,
      endCursor: null,
    });
  });
});
