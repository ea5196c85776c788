import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import type { SnapledgerRequest } from '../request-context.middleware';
import { TokenService } from './token.service';

export const PUBLIC_ROUTE = 'snapledger:public-route';

/**
 * Every route needs X-Auth-Token, as in OpenStack. The token decides the actor: user,
 * project and roles. SNAPLEDGER_NO_AUTH=yes-i-know turns this off (an admin actor of the
 * default project is used); nothing else does.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenService,
    private readonly reflector: Reflector,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<SnapledgerRequest>();
    const requestId = req.requestId ?? 'req-unknown';
    if (this.config.noAuth) {
      req.context = {
        actor: {
          userId: this.config.defaultUser,
          projectId: this.config.defaultProject,
          roles: ['admin', 'member', 'reader'],
        },
        requestId,
      };
      return true;
    }
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const header = req.headers['x-auth-token'];
    const token = Array.isArray(header) ? header[0] : header;
    const actor = token ? await this.tokens.verify(token) : null;
    if (!actor)
      throw new UnauthorizedException('The request you have made requires authentication.');
    req.context = { actor, requestId };
    return true;
  }
}
