import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventStoreDbEventStore } from '../../src/event-store/eventstoredb-event-store';
import { describeEventStoreContract } from './event-store.contract';
import { freePort } from '../support/service-process';

/**
 * No EventStoreDB/KurrentDB server can be installed on this machine (no container registry,
 * no Debian package), so the contract runs only where SNAPLEDGER_TEST_ESDB_URL names one,
 * e.g. esdb://admin:changeit@127.0.0.1:2113?tls=false. Each test gets its own stream prefix,
 * which is how one server gives the suite a fresh, empty store every time.
 */
const url = process.env.SNAPLEDGER_TEST_ESDB_URL?.trim() || undefined;

// Registered only with a server, so a run without one shows no skipped tests: the describe
// below says, in every run, that the contract needs SNAPLEDGER_TEST_ESDB_URL.
if (url) {
  describeEventStoreContract(
    'EventStoreDbEventStore',
    async () => {
      const store = await EventStoreDbEventStore.open(url ?? '', {
        streamPrefix: `contract_${randomUUID().replaceAll('-', '')}_`,
      });
      return { store, cleanup: async () => undefined };
    },
    { eventIdsUniqueInLog: false },
  );
}

describe('EventStoreDbEventStore without a server (the contract above needs SNAPLEDGER_TEST_ESDB_URL: no EventStoreDB server can be installed on this machine)', () => {
  it('refuses to open an unreachable server with one clear line, without the password', async () => {
    const port = await freePort(); // nothing listens on it
    const started = Date.now();
    const error = await EventStoreDbEventStore.open(
      `esdb://admin:s3cret@127.0.0.1:${port}?tls=false`,
      { deadlineMs: 3000 },
    ).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      new RegExp(`^EventStoreDB event store at esdb://127\\.0\\.0\\.1:${port}\\?tls=false: \\S`),
    );
    expect(error?.message).not.toContain('s3cret');
    expect(error?.message).not.toContain('\n');
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 20_000);
});
