import {
  createParamDecorator,
  type ExecutionContext,
  ForbiddenException,
  SetMetadata,
} from '@nestjs/common';
import { isAdmin, type RequestContext } from '../../domain/request-context';
import { PUBLIC_ROUTE, requestOf } from './auth.guard';

/** The authenticated caller of this request (a REST route or a GraphQL resolver). */
export const Caller = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): RequestContext => {
    const req = requestOf(ctx);
    if (!req.context) throw new Error('route reached without authentication');
    return req.context;
  },
);

/** The caller, who must hold the admin role. */
export const AdminCaller = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): RequestContext => {
    const req = requestOf(ctx);
    if (!req.context) throw new Error('route reached without authentication');
    if (!isAdmin(req.context.actor))
      throw new ForbiddenException('This action requires the admin role.');
    return req.context;
  },
);

/** A route that answers without a token (version documents only). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
