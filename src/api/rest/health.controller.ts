import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import type { Response } from 'express';
import { Public } from '../auth/request-context.decorator';
import { EventStoreHealthIndicator } from '../health/event-store.health';
import { LibvirtHealthIndicator } from '../health/libvirt.health';
import { ProjectionsHealthIndicator } from '../health/projections.health';

/** Liveness and readiness probes. Public: probes carry no token, and they reveal nothing. */
@ApiTags('operations')
@Controller()
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly eventStore: EventStoreHealthIndicator,
    private readonly libvirt: LibvirtHealthIndicator,
    private readonly projections: ProjectionsHealthIndicator,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  liveness(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Readiness: the event store answers, libvirt answers and the projections are caught up.
   * 200 with each check's details, or 503 with the same body saying which check failed.
   */
  @Get('readyz')
  @ApiOperation({
    summary: 'Readiness: event store open, libvirt answers, projections caught up (else 503)',
  })
  async readiness(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.eventStore.check(),
        () => this.libvirt.check(),
        () => this.projections.check(),
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      res.status(503);
      return error.getResponse() as HealthCheckResult;
    }
  }
}
