import type { ApolloDriverConfig } from '@nestjs/apollo';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { requestRejection } from './graphql-errors';
import { operationDepth } from './query-depth';

/**
 * An Apollo Server plugin, typed as @nestjs/apollo (an ES module) sees @apollo/server, whose
 * ES-module and CommonJS typings TypeScript keeps apart.
 */
type ApolloPlugin = NonNullable<ApolloDriverConfig['plugins']>[number];

export interface QueryLimits {
  /** Deepest field nesting allowed (a top-level field is depth 1). */
  readonly maxDepth: number;
  /** Highest cost allowed: 1 per field, connection items counted `first` times. */
  readonly maxComplexity: number;
}

/** Deep enough for every natural query of the schema, and a cost of a few thousand rows. */
export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 8, maxComplexity: 20_000 };

/**
 * Refuses an operation that nests too deeply or costs too much, with HTTP 400 and
 * `extensions.code` QUERY_TOO_DEEP or QUERY_TOO_COMPLEX, after it is parsed and validated
 * and before any resolver runs.
 */
export function queryLimitsPlugin(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ApolloPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema, operationName }) {
          const depth = operationDepth(document, operationName ?? request.operationName);
          if (depth > limits.maxDepth) {
            throw requestRejection(
              400,
              'QUERY_TOO_DEEP',
              `The query is nested ${depth} levels deep; at most ${limits.maxDepth} are allowed.`,
            );
          }
          const complexity = costOf(() =>
            getComplexity({
              schema,
              query: document,
              operationName: operationName ?? request.operationName,
              variables: request.variables ?? {},
              estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
            }),
          );
          if (complexity > limits.maxComplexity) {
            throw requestRejection(
              400,
              'QUERY_TOO_COMPLEX',
              `The query would cost ${complexity}; at most ${limits.maxComplexity} is allowed. Ask for fewer items (first) or fewer nested lists.`,
            );
          }
        },
      };
    },
  };
}

/**
 * Runs the cost estimate. It coerces the request's variables, so a variable of the wrong type
 * throws graphql's own error here, before Apollo's execution would have refused it; thrown
 * from a plugin unlabelled, Apollo would answer 500. It is the caller's mistake: 400.
 */
function costOf(estimate: () => number): number {
  try {
    return estimate();
  } catch (error) {
    if (error instanceof Error && error.name === 'GraphQLError')
      throw requestRejection(400, 'BAD_USER_INPUT', error.message);
    throw error;
  }
}
