import type { ApiClient } from './api-client';
import { printList, type Column } from './output';
import { resolveInstance } from './snapshot.command';

/** An instance as GET /v1/instances shows it. */
export interface InstanceListRow {
  id: string;
  name: string;
  project_id: string;
  vm_state: string;
  power_state: string;
  task_state: string | null;
}

export const INSTANCE_COLUMNS: readonly Column<InstanceListRow>[] = [
  { header: 'id', value: (i) => i.id },
  { header: 'name', value: (i) => i.name },
  { header: 'project', value: (i) => i.project_id },
  { header: 'vm_state', value: (i) => i.vm_state },
  { header: 'power_state', value: (i) => i.power_state },
  { header: 'task_state', value: (i) => i.task_state },
];

/**
 * `snapledger instances [list]`: the instances the token may see (its project's, or every
 * project's for an admin), as a table or, with --json, the API's answer as it came.
 */
export async function instancesListCommand(
  api: ApiClient,
  options: { json: boolean },
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const { body } = await api.request<{ instances: InstanceListRow[] }>('GET', '/v1/instances');
  printList(options, body, body.instances, INSTANCE_COLUMNS, out);
}

/**
 * `snapledger instances policy <instance> --incremental|--full`: sets whether createBackup
 * makes incremental backups of the instance (the real openstack client's included).
 */
export async function instancesPolicyCommand(
  api: ApiClient,
  ref: string,
  incremental: boolean,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const instance = await resolveInstance(api, ref);
  const { body } = await api.request<{ backup_policy: { incremental: boolean } }>(
    'PUT',
    `/v1/instances/${instance.id}/backup-policy`,
    { body: { incremental } },
  );
  out.write(
    `${instance.name} (${instance.id}): ${body.backup_policy.incremental ? 'incremental' : 'whole'} backups\n`,
  );
}
