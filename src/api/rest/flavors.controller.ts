import { Controller, Get, Inject, NotFoundException, Param, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../domain/request-context';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import { VIEWS_DB } from '../../di-tokens';
import { Caller } from '../auth/request-context.decorator';
import { listFlavorSizes } from '../queries/flavor-list.query';
import type { SnapledgerRequest } from '../request-context.middleware';
import { negotiateComputeVersion } from './microversion';
import { flavorDetailShape, flavorSizeOf, flavorSummaryShape } from './nova-flavor.shape';

/**
 * Nova's flavor reads, derived from the instances the caller may see: one flavor per size
 * (`1c128m`), so that clients resolving a server's flavor find it. Query parameters
 * (is_public, minRam, paging) are ignored: the list is short.
 */
@Controller('v2.1/flavors')
export class FlavorsController {
  constructor(
    @Inject(VIEWS_DB) private readonly db: DataSource,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
  ) {}

  @Get()
  async list(
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    const version = negotiateComputeVersion(req, res);
    const sizes = await listFlavorSizes(this.db, caller.actor);
    return { flavors: sizes.map((s) => flavorSummaryShape(s, this.config.publicUrl, version)) };
  }

  // Declared before ':id' so that "detail" is never taken for a flavor id.
  @Get('detail')
  async detail(
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    const version = negotiateComputeVersion(req, res);
    const sizes = await listFlavorSizes(this.db, caller.actor);
    return { flavors: sizes.map((s) => flavorDetailShape(s, this.config.publicUrl, version)) };
  }

  @Get(':id')
  async show(
    @Param('id') id: string,
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    const version = negotiateComputeVersion(req, res);
    const size = flavorSizeOf(id);
    const [found] = size ? await listFlavorSizes(this.db, caller.actor, size) : [];
    if (!found) throw new NotFoundException(`Flavor ${id} could not be found.`);
    return { flavor: flavorDetailShape(found, this.config.publicUrl, version) };
  }

  /** A derived flavor has no extra specs (`flavor list` and `flavor show` ask for them). */
  @Get(':id/os-extra_specs')
  async extraSpecs(
    @Param('id') id: string,
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    negotiateComputeVersion(req, res);
    const size = flavorSizeOf(id);
    const [found] = size ? await listFlavorSizes(this.db, caller.actor, size) : [];
    if (!found) throw new NotFoundException(`Flavor ${id} could not be found.`);
    return { extra_specs: {} };
  }
}
