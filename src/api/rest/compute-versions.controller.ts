import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import { Public } from '../auth/request-context.decorator';
import {
  formatVersion,
  MAX_COMPUTE_VERSION,
  MIN_COMPUTE_VERSION,
  negotiateComputeVersion,
} from './microversion';

/** When Nova's v2.1 API was introduced; Nova reports this fixed date. */
const V21_UPDATED = '2013-07-23T11:33:21Z';

/** The v2.1 entry of Nova's version list (GET /). */
export function computeVersionSummary(publicUrl: string) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: formatVersion(MAX_COMPUTE_VERSION),
    min_version: formatVersion(MIN_COMPUTE_VERSION),
    updated: V21_UPDATED,
    links: [{ rel: 'self', href: `${publicUrl}/v2.1/` }],
  };
}

/** Nova's v2.1 version document (GET /v2.1/). */
export function computeVersionDocument(publicUrl: string) {
  return {
    ...computeVersionSummary(publicUrl),
    links: [
      { rel: 'self', href: `${publicUrl}/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
    ],
    'media-types': [
      {
        base: 'application/json',
        type: 'application/vnd.openstack.compute+json;version=2.1',
      },
    ],
  };
}

/**
 * Nova's version documents, readable without a token. Links come from the configured
 * public URL, never from the request's Host header. Only v2.1 is offered (no legacy v2.0).
 */
@Controller()
export class ComputeVersionsController {
  constructor(@Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig) {}

  @Public()
  @Get()
  versions() {
    return { versions: [computeVersionSummary(this.config.publicUrl)] };
  }

  /** GET /v2.1 and /v2.1/, with microversion negotiation like every /v2.1 route. */
  @Public()
  @Get('v2.1')
  version(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    negotiateComputeVersion(req, res);
    return { version: computeVersionDocument(this.config.publicUrl) };
  }
}
