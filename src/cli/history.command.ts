import type { Command } from 'commander';
import type { ApiClient } from './api-client';
import { addConnectionOptions, type ConnectApi, wholeNumberOption } from './connection-options';
import { printList, type Column } from './output';
import { resolveInstance } from './snapshot.command';

/** A snapshot as GET /v1/instances/{id}/snapshots returns it (the fields shown here). */
interface HistoryRow {
  image_id: string;
  image_name: string;
  mode: string | null;
  result: string;
  downtime_ms: number | null;
  duration_ms: number | null;
  requested_at: string;
  backup: {
    kind: 'full' | 'incremental';
    parent_image_id: string | null;
    chain_length: number | null;
    bytes_stored: number | null;
  } | null;
}

interface HistoryPage {
  snapshots: HistoryRow[];
  next_cursor: string | null;
  next: string | null;
}

const ms = (value: number | null) => (value === null ? null : `${value} ms`);
const mib = (value: number | null | undefined) =>
  value === null || value === undefined ? null : `${(value / (1024 * 1024)).toFixed(1)} MiB`;

const HISTORY_COLUMNS: Column<HistoryRow>[] = [
  { header: 'image', value: (r) => r.image_id },
  { header: 'name', value: (r) => r.image_name },
  { header: 'mode', value: (r) => r.mode },
  { header: 'result', value: (r) => r.result },
  { header: 'downtime', value: (r) => ms(r.downtime_ms) },
  { header: 'duration', value: (r) => ms(r.duration_ms) },
  // Backups asked to be incremental: full or incremental, the chain's length, the layer's size.
  { header: 'backup', value: (r) => r.backup?.kind ?? null },
  { header: 'chain', value: (r) => r.backup?.chain_length ?? null },
  { header: 'stored', value: (r) => mib(r.backup?.bytes_stored) },
  { header: 'requested_at', value: (r) => r.requested_at },
];

/** `snapledger history <instance>`: the instance's snapshots, newest first. */
export async function historyCommand(
  api: ApiClient,
  instanceRef: string,
  options: { limit: number; json: boolean },
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const instance = await resolveInstance(api, instanceRef);
  const { body } = await api.request<HistoryPage>(
    'GET',
    `/v1/instances/${instance.id}/snapshots?limit=${options.limit}`,
  );
  printList(options, body, body.snapshots, HISTORY_COLUMNS, out);
}

export function registerHistoryCommand(program: Command, connect: ConnectApi): void {
  addConnectionOptions(
    program
      .command('history')
      .description("an instance's snapshot history, newest first")
      .argument('<instance>', 'instance uuid or libvirt domain name')
      .option(
        '--limit <n>',
        'at most this many snapshots (1-1000)',
        wholeNumberOption('--limit', 1, 1000),
        20,
      )
      .option('--json', 'print the API response as JSON', false),
  ).action(
    async (
      instance: string,
      opts: { limit: number; json: boolean; url?: string; token?: string },
    ) => {
      await historyCommand(connect(opts), instance, opts);
    },
  );
}
