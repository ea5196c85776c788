import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from './graphql-runtime';
import { classify, type ErrorLogger } from '../api-error.filter';
import { graphQLErrorFor } from './graphql-errors';

/**
 * The last word on every error in a GraphQL response. Errors that are already GraphQL
 * errors (from the error filter, validation or the limits plugin) pass through, without
 * stack traces. Anything else escaped the error filter (a field resolver's error): it is
 * classified as REST classifies it, so bad input is BAD_USER_INPUT and only real faults
 * are INTERNAL_SERVER_ERROR, with a message that reveals nothing.
 */
export function graphqlErrorFormatter(logger: ErrorLogger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (isParserStackOverflow(formatted)) {
      // A document nested deeper than the parser's stack (maxTokens stops longer ones first):
      // still the client's syntax problem, said as one.
      return {
        message: 'Syntax Error: the document nests too deeply. Parsing aborted.',
        extensions: { code: 'GRAPHQL_PARSE_FAILED' },
      };
    }
    if (original instanceof GraphQLError) return withoutStacktrace(formatted);
    const { status, message } = classify(original);
    if (status >= 500) logger.error({ err: original, path: formatted.path }, 'resolver failed');
    const mapped = graphQLErrorFor(status, message);
    return {
      message: mapped.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { ...mapped.extensions },
    };
  };
}

function isParserStackOverflow(formatted: GraphQLFormattedError): boolean {
  return (
    formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' &&
    formatted.message === 'Maximum call stack size exceeded'
  );
}

function withoutStacktrace(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (!formatted.extensions || !('stacktrace' in formatted.extensions)) return formatted;
  const { stacktrace: _stacktrace, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}
