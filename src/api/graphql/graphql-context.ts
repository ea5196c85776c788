import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../domain/request-context';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import { VIEWS_DB } from '../../di-tokens';
import { authenticate } from '../auth/auth.guard';
import { TokenService } from '../auth/token.service';
import type { SnapledgerRequest } from '../request-context.middleware';
import { requestRejection } from './graphql-errors';
import { GraphqlLoaders } from './loaders/graphql-loaders';

/** What every resolver of one GraphQL request sees. */
export interface GraphqlContext {
  readonly req: SnapledgerRequest;
  readonly caller: RequestContext;
  readonly loaders: GraphqlLoaders;
}

/**
 * Builds the context of each GraphQL request: the caller from X-Auth-Token (exactly as the
 * REST guard decides it) and fresh DataLoaders for that caller. Without a valid token the
 * whole request is refused with HTTP 401 before anything is parsed or run, introspection
 * included.
 */
@Injectable()
export class GraphqlContextFactory {
  constructor(
    private readonly tokens: TokenService,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
    @Inject(VIEWS_DB) private readonly views: DataSource,
  ) {}

  async create({ req }: { req: SnapledgerRequest }): Promise<GraphqlContext> {
    const caller = await authenticate(req, this.tokens, this.config);
    if (!caller) {
      throw requestRejection(
        401,
        'UNAUTHENTICATED',
        'The request you have made requires authentication.',
      );
    }
    req.context = caller;
    return { req, caller, loaders: new GraphqlLoaders(this.views, caller.actor) };
  }
}
