import type { ApiClient } from './api-client';
import { printList, type Column } from './output';
import { resolveInstance } from './snapshot.command';

/** An instance action event as the Nova route shows it (traceback for admins only). */
export interface ActionEventRow {
  event: string;
  start_time: string;
  finish_time: string | null;
  result: string | null;
  traceback?: string | null;
}

/** An instance action as the Nova route shows it, with its events. */
export interface ActionRow {
  action: string;
  instance_uuid: string;
  request_id: string;
  user_id: string;
  project_id: string;
  start_time: string;
  message: string | null;
  events: ActionEventRow[];
}

/** One table line: an action with one of its events (or with none). */
export interface ActionTableLine {
  readonly action: ActionRow;
  readonly event: ActionEventRow | null;
}

/** Flattens actions into table lines, one per event; an action without events keeps one line. */
export function actionTableLines(actions: readonly ActionRow[]): ActionTableLine[] {
  return actions.flatMap((action): ActionTableLine[] =>
    action.events.length === 0
      ? [{ action, event: null }]
      : action.events.map((event) => ({ action, event })),
  );
}

const COLUMNS: readonly Column<ActionTableLine>[] = [
  { header: 'request_id', value: (l) => l.action.request_id },
  { header: 'action', value: (l) => l.action.action },
  { header: 'user', value: (l) => l.action.user_id },
  { header: 'project', value: (l) => l.action.project_id },
  { header: 'start_time', value: (l) => l.action.start_time },
  { header: 'message', value: (l) => l.action.message },
  { header: 'event', value: (l) => l.event?.event },
  { header: 'result', value: (l) => l.event?.result },
  { header: 'finish_time', value: (l) => l.event?.finish_time },
  { header: 'traceback', value: (l) => l.event?.traceback },
];

/**
 * `snapledger actions <instance>`: the instance's Nova instance actions, newest first, each
 * with its events (one show request per action). The traceback column is filled for admin
 * tokens only, as the API shows it.
 */
export async function actionsCommand(
  api: ApiClient,
  instanceRef: string,
  options: { json: boolean },
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const instance = await resolveInstance(api, instanceRef);
  const base = `/v2.1/servers/${encodeURIComponent(instance.id)}/os-instance-actions`;
  const { body } = await api.request<{ instanceActions: Omit<ActionRow, 'events'>[] }>('GET', base);
  const actions: ActionRow[] = [];
  for (const summary of body.instanceActions) {
    const { body: shown } = await api.request<{ instanceAction: ActionRow }>(
      'GET',
      `${base}/${encodeURIComponent(summary.request_id)}`,
    );
    actions.push(shown.instanceAction);
  }
  printList(
    options,
    { instance: { id: instance.id, name: instance.name }, actions },
    actionTableLines(actions),
    COLUMNS,
    out,
  );
}
