import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { RequestContext } from '../domain/request-context';

/** Express request with what the auth guard learned about the caller. */
export interface SnapledgerRequest extends Request {
  requestId?: string;
  context?: RequestContext;
}

/** Gives every request an OpenStack-style id (req-<uuid>) and echoes it, as Nova and Glance do. */
export function requestIdMiddleware(
  req: SnapledgerRequest,
  res: Response,
  next: NextFunction,
): void {
  const id = `req-${randomUUID()}`;
  req.requestId = id;
  res.setHeader('x-openstack-request-id', id);
  res.setHeader('x-compute-request-id', id);
  next();
}
