/**
 * A second process for the event-store contract: opens the same store as the test (a
 * SQLite file or a PostgreSQL URL) and appends events, as another service or CLI would.
 *
 *   node dist/test/support/event-store-appender.js <sqlite|postgres> <location> <mode> <stream> <count> <tag>
 *
 * mode `cas`: each event is appended to <stream> at the revision just read, retrying on a
 * WrongExpectedRevisionError (optimistic concurrency against the other processes);
 * mode `any`: each event is appended with 'any' to <stream>-<i mod 4>.
 * Prints one JSON line: the positions this process was given.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../src/event-store/event-store.port';
import { WrongExpectedRevisionError } from '../../src/event-store/event-store.port';
import { PostgresEventStore } from '../../src/event-store/postgres-event-store';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import type { NewEvent } from '../../src/events';

function event(tag: string, i: number): NewEvent {
  return {
    type: 'ContractTested',
    data: { tag, i },
    metadata: {
      eventId: randomUUID(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: { userId: `user-${tag}`, projectId: 'project-contract', roles: ['member'] },
      requestId: `req-${tag}-${i}`,
      occurredAt: new Date().toISOString(),
      schemaVersion: 1,
    },
  };
}

async function main(): Promise<void> {
  const [kind, location, mode, stream, countText, tag] = process.argv.slice(2);
  if (!kind || !location || !mode || !stream || !countText || !tag) {
    throw new Error(
      'usage: event-store-appender <sqlite|postgres> <location> <cas|any> <stream> <count> <tag>',
    );
  }
  const store: EventStore =
    kind === 'postgres'
      ? await PostgresEventStore.open(location)
      : SqliteEventStore.open(location, { busyTimeoutMs: 30_000 });
  const positions: number[] = [];
  try {
    for (let i = 0; i < Number(countText); i += 1) {
      if (mode === 'any') {
        positions.push((await store.append(`${stream}-${i % 4}`, [event(tag, i)], 'any')).position);
        continue;
      }
      for (;;) {
        const read = await store.readStream(stream);
        const expected = read.length === 0 ? 'no_stream' : read[read.length - 1]!.revision;
        try {
          positions.push((await store.append(stream, [event(tag, i)], expected)).position);
          break;
        } catch (error) {
          if (!(error instanceof WrongExpectedRevisionError)) throw error;
        }
      }
    }
  } finally {
    await store.close();
  }
  process.stdout.write(`${JSON.stringify({ tag, positions })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
