import type { NextFunction, Request, Response } from 'express';
import { apiFamilyOf } from './api-family';
import { sendApiError } from './error-response';

/** Media types whose bodies are parsed as JSON (Nova's SUPPORTED_CONTENT_TYPES, plus +json). */
function isJsonMediaType(mediaType: string): boolean {
  return (
    mediaType === 'application/json' ||
    (mediaType.startsWith('application/') && mediaType.endsWith('+json'))
  );
}

/**
 * Glance's JSON-patch media types (`openstack image set` sends them with PATCH /v2/images/{id}).
 * They are JSON: a route that does not exist then answers 404, not 415.
 */
const GLANCE_PATCH = /^application\/openstack-images-v2\.[01]-json-patch$/;

export type BodyContentDecision = 'json' | 'treat-as-json' | 'unsupported' | 'no-body';

/**
 * What to do with a request body, by its Content-Type, as Nova's wsgi.Request does: no
 * Content-Type, an empty one or `text/plain` (the default of many clients) is read as JSON;
 * any other non-JSON type is 415 "Unsupported Content-Type". Glance and native routes read
 * JSON only. GraphQL has its own rules (Apollo's CSRF prevention), so it is not decided here.
 */
export function decideBodyContent(
  path: string,
  contentType: string | undefined,
  hasBody: boolean,
): BodyContentDecision {
  if (!hasBody || path === '/graphql' || path.startsWith('/graphql/')) return 'no-body';
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (isJsonMediaType(mediaType)) return 'json';
  if (apiFamilyOf(path) === 'glance' && GLANCE_PATCH.test(mediaType)) return 'json';
  if (apiFamilyOf(path) === 'nova' && (mediaType === '' || mediaType === 'text/plain'))
    return 'treat-as-json';
  return 'unsupported';
}

/**
 * Runs before the JSON body parser: refuses a body of an unsupported media type with 415 in
 * the API family's shape (without reading it), and lets Nova's plain-text bodies be parsed.
 */
export function contentTypeMiddleware(req: Request, res: Response, next: NextFunction): void {
  const length = Number(req.headers['content-length'] ?? 0);
  const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
  const decision = decideBodyContent(req.path, req.headers['content-type'], hasBody);
  if (decision === 'treat-as-json') req.headers['content-type'] = 'application/json';
  if (decision !== 'unsupported') return next();
  // The body is never buffered: Node discards what is left of it once the answer is sent.
  sendApiError(req, res, 415, 'Unsupported Content-Type');
}
