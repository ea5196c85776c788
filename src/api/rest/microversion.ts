import { HttpException, HttpStatus } from '@nestjs/common';
import type { Request, Response } from 'express';

export interface Microversion {
  readonly major: number;
  readonly minor: number;
}

export const MIN_COMPUTE_VERSION: Microversion = { major: 2, minor: 1 };
/**
 * The highest compute microversion whose behaviour snapledger honours (for the routes it
 * serves: server shapes, instance actions, createImage/createBackup). 2.92 because OSC 6.0
 * sends novaclient's maximum, 2.92, for `--os-compute-api-version 2.latest` without asking.
 */
export const MAX_COMPUTE_VERSION: Microversion = { major: 2, minor: 92 };

export const formatVersion = (v: Microversion): string => `${v.major}.${v.minor}`;
export const atLeast = (v: Microversion, major: number, minor: number): boolean =>
  v.major > major || (v.major === major && v.minor >= minor);

/**
 * Nova's microversion negotiation: `OpenStack-API-Version: compute X.Y` or the legacy
 * `X-OpenStack-Nova-API-Version: X.Y`; no header means 2.1; `latest` means our maximum;
 * a version outside our range is 406. The chosen version is echoed in both headers.
 */
export function negotiateComputeVersion(req: Request, res: Response): Microversion {
  let requested: string | undefined;
  const modern = req.headers['openstack-api-version'];
  if (typeof modern === 'string') {
    for (const part of modern.split(',')) {
      const [service, value] = part.trim().split(/\s+/, 2);
      if (service?.toLowerCase() === 'compute' && value) requested = value;
    }
  }
  const legacy = req.headers['x-openstack-nova-api-version'];
  if (requested === undefined && typeof legacy === 'string') requested = legacy.trim();

  let version = MIN_COMPUTE_VERSION;
  if (requested !== undefined) {
    if (requested.toLowerCase() === 'latest') version = MAX_COMPUTE_VERSION;
    else {
      const match = /^(\d+)\.(\d+)$/.exec(requested);
      if (!match) {
        throw new HttpException(
          `Invalid format for API version ${requested}`,
          HttpStatus.BAD_REQUEST,
        );
      }
      version = { major: Number(match[1]), minor: Number(match[2]) };
      if (
        !atLeast(version, MIN_COMPUTE_VERSION.major, MIN_COMPUTE_VERSION.minor) ||
        !atLeast(MAX_COMPUTE_VERSION, version.major, version.minor)
      ) {
        throw new HttpException(
          `Version ${requested} is not supported by the API. Minimum is ${formatVersion(MIN_COMPUTE_VERSION)} and maximum is ${formatVersion(MAX_COMPUTE_VERSION)}.`,
          HttpStatus.NOT_ACCEPTABLE,
        );
      }
    }
  }
  res.setHeader('OpenStack-API-Version', `compute ${formatVersion(version)}`);
  res.setHeader('X-OpenStack-Nova-API-Version', formatVersion(version));
  res.setHeader('Vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
  return version;
}
