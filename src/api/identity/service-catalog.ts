import { createHash } from 'node:crypto';

/** The region every endpoint is in. */
export const REGION = 'RegionOne';

const INTERFACES = ['public', 'internal', 'admin'] as const;

/** A stable 32-hex id, so that ids do not change between tokens or restarts. */
const stableId = (...parts: string[]) =>
  createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);

export interface CatalogService {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly endpoints: readonly {
    readonly id: string;
    readonly interface: (typeof INTERFACES)[number];
    readonly region: string;
    readonly region_id: string;
    readonly url: string;
  }[];
}

function service(type: string, name: string, url: string): CatalogService {
  return {
    id: stableId('service', type),
    type,
    name,
    endpoints: INTERFACES.map((iface) => ({
      id: stableId('endpoint', type, iface),
      interface: iface,
      region: REGION,
      region_id: REGION,
      url,
    })),
  };
}

/**
 * The service catalog in a token: Nova at /v2.1, Glance under its /image prefix (where
 * `GET /image` is Glance's version document, as devstack lays it out), and this identity
 * API. Every interface has the same URL, from the configured public URL.
 */
export function serviceCatalog(publicUrl: string): CatalogService[] {
  return [
    service('compute', 'nova', `${publicUrl}/v2.1`),
    service('image', 'glance', `${publicUrl}/image`),
    service('identity', 'keystone', `${publicUrl}/identity/v3`),
  ];
}
