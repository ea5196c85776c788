import type { ValueNode } from 'graphql';
import { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped } from '../graphql-runtime';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function objectOrFail(value: unknown): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new GraphQLError('Expected a JSON object', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return value;
}

/**
 * A JSON object (image properties, event data, createImage metadata). Input is only checked
 * to be an object: its keys and values are validated where REST validates them (Nova's
 * createImage schema), so both APIs accept and refuse exactly the same metadata.
 */
export const JSONObjectScalar = new GraphQLScalarType({
  name: 'JSONObject',
  description: 'A JSON object.',
  serialize: objectOrFail,
  parseValue: objectOrFail,
  parseLiteral: (ast: ValueNode, variables?: Record<string, unknown> | null) => {
    if (ast.kind !== Kind.OBJECT) return objectOrFail(undefined);
    return objectOrFail(valueFromASTUntyped(ast, variables));
  },
});
