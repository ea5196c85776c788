import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import { SERVICE_ROLE, VIEWS_DB } from '../../di-tokens';
import { PolicyForbiddenError } from '../../domain/domain-errors';
import { isAdmin, type RequestContext } from '../../domain/request-context';
import type { ServiceRole } from '../../service-role';
import { Caller } from '../auth/request-context.decorator';
import { listComputeServices } from '../queries/compute-services.query';
import type { SnapledgerRequest } from '../request-context.middleware';
import { negotiateComputeVersion } from './microversion';

/**
 * Nova's os-services list, for the compute hosts only (`nova-compute`, one per host): `state`
 * says whether the host's agent is running, so that a snapshot waiting on a host whose agent
 * is down can be told from one in progress (`openstack compute service list`). Admin only,
 * as in Nova. The ids are the host names: snapledger has no service table.
 */
@Controller('v2.1/os-services')
export class ComputeServicesController {
  constructor(
    @Inject(VIEWS_DB) private readonly views: DataSource,
    @Inject(SERVICE_ROLE) private readonly role: ServiceRole | null,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
  ) {}

  @Get()
  async list(
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    negotiateComputeVersion(req, res);
    if (!isAdmin(caller.actor)) throw new PolicyForbiddenError('os_compute_api:os-services:list');
    const services = await listComputeServices(this.views, this.role, this.config.hostName);
    return {
      services: services.map((s) => ({
        id: s.host,
        binary: 'nova-compute',
        host: s.host,
        zone: 'nova',
        status: 'enabled',
        state: s.state,
        updated_at: s.since,
        disabled_reason: null,
        forced_down: false,
      })),
    };
  }
}
