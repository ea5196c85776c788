import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { RequestContext } from '../../domain/request-context';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import type { SnapledgerRequest } from '../request-context.middleware';
import { TokenService } from './token.service';

export const PUBLIC_ROUTE = 'snapledger:public-route';

/** The Express request behind a route handler or a GraphQL resolver. */
export function requestOf(context: ExecutionContext): SnapledgerRequest {
  if (context.getType<string>() === 'graphql') {
    return GqlExecutionContext.create(context).getContext<{ req: SnapledgerRequest }>().req;
  }
  return context.switchToHttp().getRequest<SnapledgerRequest>();
}

/**
 * Maps the request's X-Auth-Token to the caller (user, project, roles), or null when the
 * token is missing, unknown, expired or revoked. SNAPLEDGER_NO_AUTH=yes-i-know gives an
 * admin of the default project instead. Shared by the guard and the GraphQL context.
 */
export async function authenticate(
  req: SnapledgerRequest,
  tokens: TokenService,
  config: SnapledgerConfig,
): Promise<RequestContext | null> {
  const requestId = req.requestId ?? 'req-unknown';
  if (config.noAuth) {
    return {
      actor: {
        userId: config.defaultUser,
        projectId: config.defaultProject,
        roles: ['admin', 'member', 'reader'],
      },
      requestId,
    };
  }
  const header = req.headers['x-auth-token'];
  const token = Array.isArray(header) ? header[0] : header;
  const actor = token ? await tokens.verify(token) : null;
  return actor ? { actor, requestId } : null;
}

/**
 * Every route needs X-Auth-Token, as in OpenStack. The token decides the actor: user,
 * project and roles. SNAPLEDGER_NO_AUTH=yes-i-know turns this off (an admin actor of the
 * default project is used); nothing else does. GraphQL resolvers are guarded the same way,
 * on the Express request behind the operation.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenService,
    private readonly reflector: Reflector,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = requestOf(context);
    if (!this.config.noAuth) {
      const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [
        context.getHandler(),
        context.getClass(),
      ]);
      if (isPublic) return true;
    }
    // A GraphQL request is authenticated once, when its context is made; its fields need
    // not check the token again.
    if (context.getType<string>() === 'graphql' && req.context) return true;
    const caller = await authenticate(req, this.tokens, this.config);
    if (!caller)
      throw new UnauthorizedException('The request you have made requires authentication.');
    req.context = caller;
    return true;
  }
}
