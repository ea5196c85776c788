import type { DataSource } from 'typeorm';
import { agentLeaseName, heldLeases } from '../../database/advisory-lease';
import { InstanceView } from '../../projections/entities/instance-view.entity';
import type { ServiceRole } from '../../service-role';

/** One compute host, as Nova's os-services lists its nova-compute. */
export interface ComputeService {
  readonly host: string;
  /** up: something runs this host's snapshots now; down: its snapshots wait (queued). */
  readonly state: 'up' | 'down';
  /** When its agent took the host's lease; null when unknown. */
  readonly since: string | null;
}

const AGENT_LEASE = /^agent:(.+)$/;

/**
 * The compute hosts and whether each is served. The all-in-one service runs every
 * instance's snapshots itself, so every host it knows is up. Behind an API process, a host
 * is up while its agent holds the host's lease (pg_locks), and down otherwise: its
 * snapshots stay queued until the agent is back. Hosts are those of the instances in the
 * views and those that ever had an agent.
 */
export async function listComputeServices(
  views: DataSource,
  role: ServiceRole | null,
  thisHost: string,
): Promise<ComputeService[]> {
  const rows = await views
    .getRepository(InstanceView)
    .createQueryBuilder('i')
    .select('DISTINCT i.host', 'host')
    .getRawMany<{ host: string }>();
  const hosts = new Set(rows.map((r) => r.host));
  if (role !== 'api') {
    hosts.add(thisHost);
    return [...hosts].sort().map((host) => ({ host, state: 'up', since: null }));
  }
  const run = (sql: string, params: unknown[]) =>
    views.query(sql, params) as Promise<Array<Record<string, unknown>>>;
  const leaseRows = await run('SELECT name FROM public.snapledger_leases', []);
  for (const row of leaseRows) {
    const match = AGENT_LEASE.exec(String(row['name']));
    if (match?.[1]) hosts.add(match[1]);
  }
  const sorted = [...hosts].sort();
  const held = await heldLeases(run, sorted.map(agentLeaseName));
  return sorted.map((host) => {
    const name = agentLeaseName(host);
    return {
      host,
      state: held.has(name) ? 'up' : 'down',
      since: held.get(name)?.acquiredAt ?? null,
    };
  });
}
