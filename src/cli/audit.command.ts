import type { Command } from 'commander';
import type { ApiClient } from './api-client';
import { addConnectionOptions, type ConnectApi, wholeNumberOption } from './connection-options';
import { printList, type Column } from './output';

/** An audit entry as GET /v1/audit returns it (the fields shown in the table). */
interface AuditRow {
  position: number;
  occurred_at: string;
  type: string;
  user_id: string;
  user_name: string | null;
  project_id: string | null;
  instance_id: string | null;
  image_id: string | null;
  summary: string;
}

interface AuditPage {
  audit: AuditRow[];
  next_cursor: string | null;
  next: string | null;
}

export interface AuditCommandOptions {
  readonly instance?: string;
  readonly image?: string;
  readonly user?: string;
  readonly project?: string;
  readonly type?: string[];
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  readonly cursor?: string;
  readonly json: boolean;
}

const AUDIT_COLUMNS: Column<AuditRow>[] = [
  { header: 'position', value: (r) => r.position },
  { header: 'occurred_at', value: (r) => r.occurred_at },
  { header: 'type', value: (r) => r.type },
  // "name (id)" when the log recorded the user's name, as the review page shows it.
  { header: 'user', value: (r) => (r.user_name ? `${r.user_name} (${r.user_id})` : r.user_id) },
  { header: 'project', value: (r) => r.project_id },
  { header: 'instance', value: (r) => r.instance_id },
  { header: 'image', value: (r) => r.image_id },
  { header: 'summary', value: (r) => r.summary },
];

/** The /v1/audit query string for the command's options (filters pass through unchanged). */
export function auditQuery(options: AuditCommandOptions): string {
  const params = new URLSearchParams();
  const single = ['instance', 'image', 'user', 'project', 'since', 'until', 'cursor'] as const;
  for (const key of single) {
    const value = options[key];
    if (value !== undefined) params.append(key, value);
  }
  for (const type of options.type ?? []) params.append('type', type);
  params.append('limit', String(options.limit));
  return params.toString();
}

/**
 * `snapledger audit`: one page of the audit log (oldest first); when there is more, the
 * cursor of the next page is printed on stderr.
 */
export async function auditCommand(
  api: ApiClient,
  options: AuditCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<void> {
  const { body } = await api.request<AuditPage>('GET', `/v1/audit?${auditQuery(options)}`);
  printList(options, body, body.audit, AUDIT_COLUMNS, out);
  if (!options.json && body.next_cursor !== null)
    err.write(`more entries: --cursor ${body.next_cursor}\n`);
}

export function registerAuditCommand(program: Command, connect: ConnectApi): void {
  addConnectionOptions(
    program
      .command('audit')
      .description('who did what, when: the audit log (your project only, unless admin)')
      .option('--instance <uuid>', 'events about this instance')
      .option('--image <uuid>', 'events about this image')
      .option('--user <user>', 'events caused by this user')
      .option('--project <project>', 'events about resources of this project (admins)')
      .option('--type <type...>', 'event types (repeat or comma-separate)')
      .option('--since <time>', 'at or after this ISO-8601 time')
      .option('--until <time>', 'before this ISO-8601 time')
      .option(
        '--limit <n>',
        'at most this many entries (1-1000)',
        wholeNumberOption('--limit', 1, 1000),
        100,
      )
      .option('--cursor <cursor>', 'continue where a previous page ended')
      .option('--json', 'print the API response as JSON', false),
  ).action(async (opts: AuditCommandOptions & { url?: string; token?: string }) => {
    await auditCommand(connect(opts), opts);
  });
}
