import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import type { Response } from 'express';
import { Public } from '../auth/request-context.decorator';
import { EventStoreHealthIndicator } from '../health/event-store.health';
import { LibvirtHealthIndicator } from '../health/libvirt.health';
import { ProjectionsHealthIndicator } from '../health/projections.health';
import { SERVICE_ROLE } from '../../di-tokens';
import { drivesHypervisor, type ServiceRole } from '../../service-role';

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
    /** null outside `serve` (tests of the HTTP app alone): the all-in-one checks. */
    @Inject(SERVICE_ROLE) private readonly role: ServiceRole | null,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  liveness(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Readiness: the event store answers, libvirt answers (not for `serve --role api`, which
   * never talks to libvirt) and the projections are caught up. 200 with each check's details,
   * or 503 with the same body saying which check failed.
   */
  @Get('readyz')
  @ApiOperation({
    summary:
      'Readiness: event store open, libvirt answers (except on API-only processes), projections caught up (else 503)',
  })
  async readiness(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    const usesLibvirt = this.role === null || drivesHypervisor(this.role);
    try {
      return await this.health.check([
        () => this.eventStore.check(),
        ...(usesLibvirt ? [() => this.libvirt.check()] : []),
        () => this.projections.check(),
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      res.status(503);
      return error.getResponse() as HealthCheckResult;
    }
  }
}
