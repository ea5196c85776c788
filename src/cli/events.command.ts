import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import type { ApiClient } from './api-client';
import { addConnectionOptions, type ConnectApi, wholeNumberOption } from './connection-options';
import { printList, type Column } from './output';

/** A stored event as GET /v1/events returns it. */
export interface RawEvent {
  position: number;
  stream: string;
  revision: number;
  type: string;
  data: unknown;
  metadata: { occurredAt?: string; actor?: { userId?: string }; requestId?: string };
}

interface EventsPage {
  events: RawEvent[];
  next_from: number;
  last_position: number;
}

const PAGE = 500;
/** Without --from, tail starts this many events before the end of the log. */
const TAIL_DEFAULT = 20;
const FOLLOW_INTERVAL_MS = 1000;

const EVENT_COLUMNS: Column<RawEvent>[] = [
  { header: 'position', value: (e) => e.position },
  { header: 'occurred_at', value: (e) => e.metadata.occurredAt },
  { header: 'type', value: (e) => e.type },
  { header: 'stream', value: (e) => `${e.stream}@${e.revision}` },
  { header: 'user', value: (e) => e.metadata.actor?.userId },
  { header: 'request', value: (e) => e.metadata.requestId },
];

/** One line per event while following: readable, and greppable. */
export function eventLine(e: RawEvent): string {
  return [
    String(e.position).padStart(6),
    e.metadata.occurredAt ?? '-',
    e.type.padEnd(20),
    `${e.stream}@${e.revision}`,
    e.metadata.actor?.userId ?? '-',
    e.metadata.requestId ?? '-',
  ].join('  ');
}

const page = (api: ApiClient, from: number) =>
  api.request<EventsPage>('GET', `/v1/events?from=${from}&limit=${PAGE}`).then((r) => r.body);

/**
 * `snapledger events tail`: the raw log (admins only). Prints the events after --from (by
 * default the last 20) as a table, or JSON. With --follow it prints them one line each
 * (NDJSON with --json), then keeps polling /v1/events every second until `signal` aborts
 * (Ctrl-C), and returns normally.
 */
export async function eventsTailCommand(
  api: ApiClient,
  options: { from?: number; follow: boolean; json: boolean },
  signal: AbortSignal,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  let from = options.from;
  if (from === undefined) {
    const head = await page(api, 0);
    from = Math.max(0, head.last_position - TAIL_DEFAULT);
  }
  if (!options.follow) {
    const events: RawEvent[] = [];
    for (;;) {
      const body = await page(api, from);
      events.push(...body.events);
      if (body.events.length === 0 || body.next_from >= body.last_position) break;
      from = body.next_from;
    }
    printList(options, { events }, events, EVENT_COLUMNS, out);
    return;
  }
  while (!signal.aborted) {
    let body: EventsPage;
    try {
      body = await page(api, from);
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    for (const e of body.events)
      out.write(options.json ? `${JSON.stringify(e)}\n` : `${eventLine(e)}\n`);
    from = body.next_from;
    // Caught up: poll again shortly; Ctrl-C (the signal) ends the wait and the loop.
    if (body.events.length < PAGE)
      await delay(FOLLOW_INTERVAL_MS, undefined, { signal }).catch(() => undefined);
  }
}

export function registerEventsCommand(program: Command, connect: ConnectApi): void {
  const events = program.command('events').description('the raw event log (admins only)');
  addConnectionOptions(
    events
      .command('tail')
      .description('print the log after a position (default: its last 20 events)')
      .option(
        '--from <position>',
        'events after this position',
        wholeNumberOption('--from', 0, Number.MAX_SAFE_INTEGER),
      )
      .option('--follow', 'keep printing new events until Ctrl-C', false)
      .option('--json', 'JSON (one object per line with --follow)', false),
  ).action(
    async (opts: {
      from?: number;
      follow: boolean;
      json: boolean;
      url?: string;
      token?: string;
    }) => {
      const stop = new AbortController();
      const onInterrupt = () => stop.abort();
      process.once('SIGINT', onInterrupt);
      try {
        await eventsTailCommand(connect(opts), opts, stop.signal);
      } finally {
        process.removeListener('SIGINT', onInterrupt);
      }
    },
  );
}
