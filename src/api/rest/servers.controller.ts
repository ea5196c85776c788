import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import { InstanceNotFoundError } from '../../domain/domain-errors';
import { isAdmin, type RequestContext } from '../../domain/request-context';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import { VIEWS_DB } from '../../di-tokens';
import { Caller } from '../auth/request-context.decorator';
import { getInstance, listInstances } from '../queries/instance-list.query';
import type { SnapledgerRequest } from '../request-context.middleware';
import { atLeast, negotiateComputeVersion } from './microversion';
import {
  nextPageLink,
  serverDetailShape,
  serverSummaryShape,
  type ServerShapeContext,
} from './nova-server.shape';
import { serverListParams } from './server-list.params';

/** The request's query string, as Nova reads it (repeated keys kept). */
const queryOf = (req: SnapledgerRequest): URLSearchParams =>
  new URL(req.originalUrl, 'http://query.invalid').searchParams;

/** Nova's server reads: GET /v2.1/servers, /servers/detail and /servers/{id}. */
@Controller('v2.1/servers')
export class ServersController {
  constructor(
    @Inject(VIEWS_DB) private readonly db: DataSource,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
  ) {}

  @Get()
  list(
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.page('servers', caller, req, res);
  }

  // Declared before ':id' so that "detail" is never taken for a server id.
  @Get('detail')
  detail(
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.page('servers/detail', caller, req, res);
  }

  @Get(':id')
  async show(
    @Param('id') id: string,
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    const ctx = this.shapeContext(caller, req, res);
    const instance = await getInstance(this.db, caller.actor, id);
    if (!instance) throw new InstanceNotFoundError(id);
    const server = serverDetailShape(instance, ctx);
    // From 2.71 a server's own page names its server groups; snapledger has none.
    if (atLeast(ctx.version, 2, 71)) server.server_groups = [];
    return { server };
  }

  private async page(
    collection: 'servers' | 'servers/detail',
    caller: RequestContext,
    req: SnapledgerRequest,
    res: Response,
  ) {
    const ctx = this.shapeContext(caller, req, res);
    const query = queryOf(req);
    const { filter, page } = serverListParams(query, caller.actor);
    const { rows, nextMarker } = await listInstances(this.db, caller.actor, filter, page);
    const shape = collection === 'servers' ? serverSummaryShape : serverDetailShape;
    const body: Record<string, unknown> = { servers: rows.map((row) => shape(row, ctx)) };
    if (nextMarker !== null)
      body.servers_links = [nextPageLink(this.config.publicUrl, collection, query, nextMarker)];
    return body;
  }

  /** Negotiates the microversion first, so that even a bad request echoes it (or is a 406). */
  private shapeContext(
    caller: RequestContext,
    req: SnapledgerRequest,
    res: Response,
  ): ServerShapeContext {
    return {
      version: negotiateComputeVersion(req, res),
      publicUrl: this.config.publicUrl,
      admin: isAdmin(caller.actor),
    };
  }
}
