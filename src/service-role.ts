/**
 * What a long-running snapledger process does (docs/architecture.md, "Topologies"):
 * - `all-in-one` (`snapledger serve`): the API, the projections, the sagas and libvirt, in
 *   one process; the embedded default.
 * - `api` (`snapledger serve --role api`): the REST and GraphQL API, the projections and
 *   backup rotation; it never talks to libvirt. Several may run against one database.
 * - `agent` (`snapledger agent --host NAME`): one per hypervisor host; discovers that
 *   host's domains and runs the snapshot steps of its instances, and nothing else.
 */
export type ServiceRole = 'all-in-one' | 'api' | 'agent';

export const SERVICE_ROLES: readonly ServiceRole[] = ['all-in-one', 'api', 'agent'];

/** Whether the role talks to a libvirt host (discovers domains, runs snapshot steps). */
export const drivesHypervisor = (role: ServiceRole): boolean => role !== 'api';

/** Whether the role serves the API and keeps the views (and backup rotation) going. */
export const keepsViews = (role: ServiceRole): boolean => role !== 'agent';
