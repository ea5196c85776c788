import { GraphQLError } from './graphql-runtime';

/** The GraphQL error code for each HTTP status the REST API would answer with. */
const CODES: Record<number, string> = {
  400: 'BAD_USER_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  406: 'BAD_REQUEST',
  409: 'CONFLICT',
  413: 'BAD_REQUEST',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * The GraphQL error for a classified failure (status and message from the REST error
 * mapping, so both APIs agree). The status stays in `extensions.status`; the HTTP status
 * of a response with data stays 200, as GraphQL clients expect.
 */
export function graphQLErrorFor(status: number, message: string): GraphQLError {
  const code =
    status >= 500 && !CODES[status] ? 'INTERNAL_SERVER_ERROR' : (CODES[status] ?? 'BAD_REQUEST');
  return new GraphQLError(message, { extensions: { code, status } });
}

/** A request-level refusal (no token, query too deep or too costly): the HTTP status is used. */
export function requestRejection(status: number, code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status } } });
}
