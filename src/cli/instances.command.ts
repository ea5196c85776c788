import type { ApiClient } from './api-client';
import { printList, type Column } from './output';

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
