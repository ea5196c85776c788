import { Controller, Get, Inject, NotFoundException, Param, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import { isAdmin, type RequestContext } from '../../domain/request-context';
import { VIEWS_DB } from '../../di-tokens';
import { Caller } from '../auth/request-context.decorator';
import { getInstanceAction, listInstanceActions } from '../queries/instance-actions.query';
import type { SnapledgerRequest } from '../request-context.middleware';
import { instanceActionsPage } from './instance-actions-query.parser';
import { negotiateComputeVersion } from './microversion';
import { instanceActionEventShape, instanceActionShape } from './nova-instance-action.shape';

/**
 * Nova's os-instance-actions: what was done to a server, by whom, and how each step ended.
 * The instance's project sees the events (as Nova does from 2.51, at every microversion
 * here); only admins see their tracebacks and hosts. Another project's server is a 404.
 * From 2.58 the list pages (limit, marker, changes-since; changes-before from 2.66).
 */
@Controller('v2.1/servers/:id/os-instance-actions')
export class InstanceActionsController {
  constructor(@Inject(VIEWS_DB) private readonly db: DataSource) {}

  @Get()
  async list(
    @Param('id') id: string,
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    const version = negotiateComputeVersion(req, res);
    const page = instanceActionsPage(
      new URL(req.originalUrl, 'http://query.invalid').searchParams,
      version,
    );
    const actions = await listInstanceActions(this.db, caller.actor, { instanceId: id }, page);
    return { instanceActions: actions.map((a) => instanceActionShape(a, version)) };
  }

  @Get(':requestId')
  async show(
    @Param('id') id: string,
    @Param('requestId') requestId: string,
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    const version = negotiateComputeVersion(req, res);
    const found = await getInstanceAction(this.db, caller.actor, id, requestId);
    if (!found)
      throw new NotFoundException(`Action for request_id ${requestId} on instance ${id} not found`);
    const ctx = { admin: isAdmin(caller.actor), version, projectId: found.instanceProjectId };
    return {
      instanceAction: {
        ...instanceActionShape(found.action, version),
        events: found.events.map((e) => instanceActionEventShape(e, ctx)),
      },
    };
  }
}
