import type { NextFunction, Request, Response } from 'express';

/** Where the image API is also served, as devstack mounts Glance (`<base>/image/v2/...`). */
export const IMAGE_PREFIX = '/image';

/**
 * The path a request under the image prefix stands for: `/image/v2/...` is `/v2/...`
 * (the same Glance routes); anything else is left alone (null). `/image` and `/image/`
 * themselves are the Glance version document, a route of their own.
 */
export function unprefixedImagePath(url: string): string | null {
  const rest = url.startsWith(`${IMAGE_PREFIX}/`) ? url.slice(IMAGE_PREFIX.length) : null;
  if (rest === null) return null;
  return rest === '/v2' || rest.startsWith('/v2/') || rest.startsWith('/v2?') ? rest : null;
}

/**
 * Serves the Glance routes under the image prefix too, by rewriting the URL before routing.
 * `req.originalUrl` keeps what the client sent (logs); links stay unprefixed, as Glance's
 * own `self`/`next` links are (the SDK strips the version and joins them to its endpoint).
 */
export function imagePrefixMiddleware(req: Request, _res: Response, next: NextFunction): void {
  const rewritten = unprefixedImagePath(req.url);
  if (rewritten !== null) req.url = rewritten;
  next();
}
