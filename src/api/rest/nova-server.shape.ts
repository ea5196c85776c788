import { createHash } from 'node:crypto';
import type { InstanceView } from '../../projections/entities/instance-view.entity';
import { atLeast, type Microversion } from './microversion';

/** Nova's power_state codes (nova/compute/power_state.py). */
export const NOVA_POWER_STATE_CODES: Readonly<Record<string, number>> = {
  nostate: 0,
  running: 1,
  paused: 3,
  shutdown: 4,
  crashed: 6,
  suspended: 7,
};

/** Nova's power_state code for a power state name; unknown names are NOSTATE (0). */
export function powerStateCode(name: string): number {
  return NOVA_POWER_STATE_CODES[name] ?? 0;
}

/**
 * Nova's server status for a vm_state (nova/api/openstack/common.py's state map). The task
 * states a snapshot or backup holds never change the status, so only the vm_state counts.
 */
const STATUS_BY_VM_STATE: Readonly<Record<string, string>> = {
  active: 'ACTIVE',
  building: 'BUILD',
  stopped: 'SHUTOFF',
  resized: 'VERIFY_RESIZE',
  paused: 'PAUSED',
  suspended: 'SUSPENDED',
  rescued: 'RESCUE',
  error: 'ERROR',
  deleted: 'DELETED',
  soft_deleted: 'SOFT_DELETED',
  shelved: 'SHELVED',
  shelved_offloaded: 'SHELVED_OFFLOADED',
};

export function serverStatus(vmState: string): string {
  return STATUS_BY_VM_STATE[vmState] ?? 'UNKNOWN';
}

/**
 * The vm_states a `status` filter value stands for (case-insensitive), or an empty list for
 * a status no instance can have (Nova then answers an empty list).
 */
export function vmStatesForStatus(status: string): string[] {
  const wanted = status.trim().toUpperCase();
  return Object.entries(STATUS_BY_VM_STATE)
    .filter(([, s]) => s === wanted)
    .map(([vmState]) => vmState);
}

/** Statuses for which Nova shows `progress`. */
const PROGRESS_STATUSES = new Set([
  'ACTIVE',
  'BUILD',
  'REBUILD',
  'RESIZE',
  'VERIFY_RESIZE',
  'MIGRATING',
]);

/** Nova's `utils.isotime`: whole seconds with a Z, e.g. 2013-09-03T04:01:32Z. */
export function novaIsoTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19)}Z`;
}

/** Nova's database timestamps (instance actions, launched_at): microseconds, no zone. */
export function novaDbTime(iso: string): string;
export function novaDbTime(iso: string | null): string | null;
export function novaDbTime(iso: string | null): string | null {
  if (iso === null) return null;
  return `${new Date(iso).toISOString().slice(0, 23)}000`;
}

/** Nova's hostId: sha224 of project id + host, so a tenant can tell co-located servers apart. */
export function novaHostId(projectId: string, host: string): string {
  if (!host) return '';
  return createHash('sha224').update(`${projectId}${host}`).digest('hex');
}

/**
 * snapledger has no flavors: an instance's flavor id names its size, `<vcpus>c<memory MiB>m`
 * (e.g. `1c128m`), so domains of the same size share one.
 */
export function flavorIdOf(instance: Pick<InstanceView, 'vcpus' | 'memoryMiB'>): string {
  return `${instance.vcpus}c${instance.memoryMiB}m`;
}

type Link = { rel: string; href: string };

function serverLinks(publicUrl: string, id: string): Link[] {
  return [
    { rel: 'self', href: `${publicUrl}/v2.1/servers/${id}` },
    { rel: 'bookmark', href: `${publicUrl}/servers/${id}` },
  ];
}

/** What a shape depends on besides the row: links, version and the caller's role. */
export interface ServerShapeContext {
  /** Base URL from configuration (never from the Host header). */
  readonly publicUrl: string;
  readonly version: Microversion;
  readonly admin: boolean;
}

/** The server in `GET /servers` (id, name, links). */
export function serverSummaryShape(instance: InstanceView, ctx: ServerShapeContext) {
  return {
    id: instance.id,
    name: instance.name,
    links: serverLinks(ctx.publicUrl, instance.id),
  };
}

/**
 * The server in `GET /servers/detail` and `GET /servers/{id}`, as Nova 2.1–2.92 shows it
 * (the flavor as a reference before 2.47, embedded from then on). We know no base image, addresses or
 * volumes, so those are empty as for a volume-backed server without networks. The
 * OS-EXT-SRV-ATTR fields and host_status are for admins only, as Nova's default policy says.
 */
export function serverDetailShape(instance: InstanceView, ctx: ServerShapeContext) {
  const status = serverStatus(instance.vmState);
  const server: Record<string, unknown> = {
    id: instance.id,
    name: instance.name,
    status,
    tenant_id: instance.projectId,
    user_id: instance.userId,
    metadata: {},
    hostId: novaHostId(instance.projectId, instance.host),
    image: '',
    flavor: serverFlavorShape(instance, ctx),
    created: novaIsoTime(instance.createdAt),
    updated: novaIsoTime(instance.updatedAt),
    addresses: {},
    accessIPv4: '',
    accessIPv6: '',
    links: serverLinks(ctx.publicUrl, instance.id),
    'OS-DCF:diskConfig': 'MANUAL',
    key_name: null,
    config_drive: '',
    'OS-EXT-AZ:availability_zone': 'nova',
    'OS-EXT-STS:task_state': instance.taskState,
    'OS-EXT-STS:vm_state': instance.vmState,
    'OS-EXT-STS:power_state': powerStateCode(instance.powerState),
    'os-extended-volumes:volumes_attached': [],
    'OS-SRV-USG:launched_at': novaDbTime(instance.createdAt),
    'OS-SRV-USG:terminated_at': null,
  };
  if (PROGRESS_STATUSES.has(status)) server.progress = 0;
  if (ctx.admin) {
    server['OS-EXT-SRV-ATTR:host'] = instance.host;
    server['OS-EXT-SRV-ATTR:hypervisor_hostname'] = instance.host;
    server['OS-EXT-SRV-ATTR:instance_name'] = instance.name;
    if (atLeast(ctx.version, 2, 3)) {
      server['OS-EXT-SRV-ATTR:hostname'] = instance.name;
      server['OS-EXT-SRV-ATTR:reservation_id'] = '';
      server['OS-EXT-SRV-ATTR:launch_index'] = 0;
      server['OS-EXT-SRV-ATTR:kernel_id'] = '';
      server['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      server['OS-EXT-SRV-ATTR:root_device_name'] = null;
      server['OS-EXT-SRV-ATTR:user_data'] = null;
    }
    // The service answering runs on the host, so the host is up.
    if (atLeast(ctx.version, 2, 16)) server.host_status = 'UP';
  }
  if (atLeast(ctx.version, 2, 9)) server.locked = false;
  if (atLeast(ctx.version, 2, 19)) server.description = null;
  if (atLeast(ctx.version, 2, 26)) server.tags = [];
  if (atLeast(ctx.version, 2, 63)) server.trusted_image_certificates = null;
  if (atLeast(ctx.version, 2, 73)) server.locked_reason = null;
  // From 2.90 every reader sees the hostname, not only admins.
  if (atLeast(ctx.version, 2, 90)) server['OS-EXT-SRV-ATTR:hostname'] = instance.name;
  return server;
}

/**
 * The server's flavor: before 2.47 a reference `{id, links}` to the derived flavor; from
 * 2.47 the flavor embedded as the instance was sized (vCPUs and memory from the domain's
 * XML; no root/ephemeral/swap sizes of its own, so 0, and no extra specs).
 */
export function serverFlavorShape(
  instance: Pick<InstanceView, 'vcpus' | 'memoryMiB'>,
  ctx: ServerShapeContext,
): Record<string, unknown> {
  const flavorId = flavorIdOf(instance);
  if (!atLeast(ctx.version, 2, 47)) {
    return {
      id: flavorId,
      links: [{ rel: 'bookmark', href: `${ctx.publicUrl}/flavors/${flavorId}` }],
    };
  }
  return {
    vcpus: instance.vcpus,
    ram: instance.memoryMiB,
    disk: 0,
    ephemeral: 0,
    swap: 0,
    original_name: flavorId,
    extra_specs: {},
  };
}

/**
 * Nova's `servers_links` "next" link: the request's own query parameters, sorted, with
 * `marker` set to the last server of the page.
 */
export function nextPageLink(
  publicUrl: string,
  collection: 'servers' | 'servers/detail',
  query: URLSearchParams,
  marker: string,
): Link {
  const params = new URLSearchParams(query);
  params.delete('marker');
  params.append('marker', marker);
  params.sort();
  return { rel: 'next', href: `${publicUrl}/v2.1/${collection}?${params.toString()}` };
}
