import type { FlavorSize } from '../queries/flavor-list.query';
import { atLeast, type Microversion } from './microversion';
import { flavorIdOf } from './nova-server.shape';

/** The flavor an id names (`<vcpus>c<memory MiB>m`, see flavorIdOf), or null. */
export function flavorSizeOf(id: string): FlavorSize | null {
  const match = /^([1-9]\d{0,5})c([1-9]\d{0,9})m$/.exec(id);
  return match ? { vcpus: Number(match[1]), memoryMiB: Number(match[2]) } : null;
}

function flavorLinks(publicUrl: string, id: string) {
  return [
    { rel: 'self', href: `${publicUrl}/v2.1/flavors/${id}` },
    { rel: 'bookmark', href: `${publicUrl}/flavors/${id}` },
  ];
}

/** A derived flavor in `GET /flavors` (id, name, links; description from 2.55). */
export function flavorSummaryShape(size: FlavorSize, publicUrl: string, version: Microversion) {
  const id = flavorIdOf(size);
  return {
    id,
    name: id,
    ...(atLeast(version, 2, 55) ? { description: null } : {}),
    links: flavorLinks(publicUrl, id),
  };
}

/**
 * A derived flavor in `GET /flavors/detail` and `/flavors/{id}`: public, enabled, no disk,
 * ephemeral or swap of its own (swap is "" before 2.75, as Nova shows it), extra specs
 * (empty) from 2.61.
 */
export function flavorDetailShape(size: FlavorSize, publicUrl: string, version: Microversion) {
  return {
    ...flavorSummaryShape(size, publicUrl, version),
    vcpus: size.vcpus,
    ram: size.memoryMiB,
    disk: 0,
    swap: atLeast(version, 2, 75) ? 0 : '',
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    'os-flavor-access:is_public': true,
    rxtx_factor: 1.0,
    ...(atLeast(version, 2, 61) ? { extra_specs: {} } : {}),
  };
}
