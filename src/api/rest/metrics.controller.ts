import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { RequestContext } from '../../domain/request-context';
import { AdminCaller } from '../auth/request-context.decorator';
import { AppMetrics } from '../metrics/app-metrics';

/**
 * Prometheus metrics, for admins. Scrape with the admin token in a header, e.g. in
 * prometheus.yml: `http_headers: { X-Auth-Token: { files: [/etc/prometheus/snapledger-token] } }`.
 */
@ApiTags('operations')
@Controller()
export class MetricsController {
  constructor(private readonly metrics: AppMetrics) {}

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics (admin only)' })
  @ApiProduces('text/plain')
  async scrape(
    @AdminCaller() _caller: RequestContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string> {
    const { contentType, body } = await this.metrics.render();
    res.type(contentType);
    return body;
  }
}
