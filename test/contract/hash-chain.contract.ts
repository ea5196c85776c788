import { afterEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/event-store/event-store.port';
import type { HashedLog } from '../../src/event-store/hashed-log.port';
import { chainHash, GENESIS_HASH, storedContentDigest } from '../../src/event-store/log-hash';
import { verifyLog } from '../../src/event-store/log-verification';
import { makeEvent, makeEvents, streamName } from './event-store.contract';

export type HashedStore = EventStore & HashedLog;

/**
 * One log, opened as often as a test likes, and the attacker's raw access to it: SQL run
 * straight against the database, after the append-only triggers are dropped, as someone
 * with the file or a superuser login could.
 */
export interface HashChainHarness {
  open(): Promise<HashedStore>;
  /** Runs SQL with the append-only triggers already gone (literals only, no parameters). */
  tamper(sql: string): Promise<void>;
  /**
   * Leaves the log as a release before the hash chain wrote it (the schema version of that
   * release, no hashes after position `after`): after = 0 is a log never hashed, more is a
   * migration stopped part-way.
   */
  removeHashes(after: number): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * What every log with a hash chain must do (SQLite and PostgreSQL): hash each append in its
 * own transaction, let verify find every kind of tampering and name its position, and give
 * a log written before the chain its hashes once, resumably, with an event that says so.
 */
export function describeHashChainContract(
  name: string,
  harness: () => Promise<HashChainHarness>,
): void {
  describe(`hash chain: ${name}`, () => {
    const open: HashChainHarness[] = [];
    const stores: HashedStore[] = [];

    async function fresh(): Promise<{ h: HashChainHarness; store: HashedStore }> {
      const h = await harness();
      open.push(h);
      const store = await h.open();
      stores.push(store);
      return { h, store };
    }

    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close();
      for (const h of open.splice(0)) await h.cleanup();
    });

    /** Ten events over three streams, in batches: positions 1 to 10. */
    async function tenEvents(store: HashedStore): Promise<string[]> {
      const streams = [streamName('a'), streamName('b'), streamName('c')];
      await store.append(streams[0] ?? '', makeEvents(3), 'no_stream');
      await store.append(streams[1] ?? '', makeEvents(2), 'no_stream');
      await store.append(streams[0] ?? '', makeEvents(2), 2);
      await store.append(streams[2] ?? '', makeEvents(1), 'any');
      await store.append(streams[1] ?? '', makeEvents(2), 1);
      return streams;
    }

    it('hashes every append, and the chain recomputes from the rows as stored', async () => {
      const { store } = await fresh();
      await tenEvents(store);
      const rows = await store.readHashedRows(0, 100);
      expect(rows.map((r) => r.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      let previous = GENESIS_HASH;
      for (const row of rows) {
        const expected = chainHash(
          previous,
          row.position,
          row.stream_revision,
          storedContentDigest(row.stream_name, row.type, row.data, row.metadata),
        );
        expect(row.hash).toBe(expected);
        previous = expected;
      }
      const result = await verifyLog(store, { batchSize: 3 });
      expect(result).toMatchObject({ ok: true, verified: 10, lastPosition: 10, break: null });
      expect(result.head).toEqual({ position: 10, hash: previous });
    });

    it('a failed append leaves no hash behind, and the chain goes on from the last event', async () => {
      const { store } = await fresh();
      const stream = streamName();
      await store.append(stream, makeEvents(2), 'no_stream');
      await expect(store.append(stream, makeEvents(1), 0)).rejects.toThrow(/expected revision/);
      await store.append(stream, makeEvents(1), 1);
      expect((await store.readHashedRows(0, 10)).map((r) => r.position)).toEqual([1, 2, 3]);
      expect((await verifyLog(store)).ok).toBe(true);
    });

    it('finds an edited row and names its position', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      await h.tamper(`UPDATE events SET data = '{"i":99}' WHERE position = 6`);
      const result = await verifyLog(store);
      expect(result.ok).toBe(false);
      expect(result.break).toMatchObject({ kind: 'hash-mismatch', position: 6 });
      expect(result.break?.detail).toMatch(
        /^position 6 \(stream .* revision \d+, ContractTested, event \S+\): the stored hash is [0-9a-f]{64} but the row hashes to [0-9a-f]{64}/,
      );
      expect(result.verified).toBe(5);
      expect(result.head?.position).toBe(5);
    });

    it('finds an edited timestamp (metadata) as well as edited data', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      const [row] = await store.readHashedRows(2, 1);
      const metadata = (row?.metadata ?? '').replace(
        /"occurredAt":"[^"]*"/,
        '"occurredAt":"2020-01-01T00:00:00.000Z"',
      );
      expect(metadata).not.toBe(row?.metadata);
      await h.tamper(
        `UPDATE events SET metadata = '${metadata.replaceAll("'", "''")}' WHERE position = 3`,
      );
      expect((await verifyLog(store)).break).toMatchObject({ kind: 'hash-mismatch', position: 3 });
    });

    it('finds a row that was edited and re-hashed, at the row after it', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      const [before, row] = await store.readHashedRows(3, 2);
      const data = '{"i":42}';
      const rehashed = chainHash(
        before?.hash ?? '',
        5,
        row?.stream_revision ?? 0,
        storedContentDigest(row?.stream_name ?? '', row?.type ?? '', data, row?.metadata ?? ''),
      );
      await h.tamper(`UPDATE events SET data = '${data}' WHERE position = 5`);
      await h.tamper(`UPDATE event_hashes SET hash = '${rehashed}' WHERE position = 5`);
      const result = await verifyLog(store);
      expect(result.break).toMatchObject({ kind: 'hash-mismatch', position: 6 });
      expect(result.verified).toBe(5);
    });

    it('finds a deleted row', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      await h.tamper('DELETE FROM events WHERE position = 4');
      const result = await verifyLog(store);
      expect(result.break).toMatchObject({ kind: 'missing-events', position: 4 });
      expect(result.break?.detail).toBe(
        'position 4 is not in the log: the event there was deleted',
      );
    });

    it('finds a deleted row whose hash was deleted too, and the later rows renumbered', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      // An attacker who also hides the hole: the event and its hash go, the later rows move up.
      await h.tamper('DELETE FROM events WHERE position = 8');
      await h.tamper('DELETE FROM event_hashes WHERE position = 8');
      await h.tamper('UPDATE events SET position = 8 WHERE position = 9');
      await h.tamper('UPDATE event_hashes SET position = 8 WHERE position = 9');
      await h.tamper('UPDATE events SET position = 9 WHERE position = 10');
      await h.tamper('UPDATE event_hashes SET position = 9 WHERE position = 10');
      const result = await verifyLog(store);
      expect(result.ok).toBe(false);
      expect(result.break?.position).toBe(8);
    });

    it('finds two rows swapped', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      await h.tamper('UPDATE events SET position = 1000000 WHERE position = 2');
      await h.tamper('UPDATE events SET position = 2 WHERE position = 7');
      await h.tamper('UPDATE events SET position = 7 WHERE position = 1000000');
      const result = await verifyLog(store);
      expect(result.ok).toBe(false);
      expect(result.break?.position).toBe(2);
      expect(['stream-out-of-order', 'hash-mismatch']).toContain(result.break?.kind);
    });

    it('finds a deleted hash', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      await h.tamper('DELETE FROM event_hashes WHERE position = 9');
      expect((await verifyLog(store)).break).toMatchObject({ kind: 'missing-hash', position: 9 });
    });

    it('finds a truncated tail against the head an auditor kept', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      const kept = (await verifyLog(store)).head;
      expect(kept?.position).toBe(10);
      await h.tamper('DELETE FROM events WHERE position > 7');
      await h.tamper('DELETE FROM event_hashes WHERE position > 7');
      // What is left is a sound chain: only the kept head shows what is gone.
      expect((await verifyLog(store)).ok).toBe(true);
      const result = await verifyLog(store, { expectHead: kept ?? undefined });
      expect(result.break).toMatchObject({ kind: 'truncated', position: 8 });
      expect(result.break?.detail).toBe(
        'the log ends at position 7, but the head you kept is at position 10: events 8 to 10 were removed',
      );
    });

    it('finds a log rewritten and re-hashed from the start against the head an auditor kept', async () => {
      const { h, store } = await fresh();
      await tenEvents(store);
      const kept = (await verifyLog(store)).head ?? undefined;
      // The attacker rewrites position 1 and recomputes every hash after it.
      await h.tamper(`UPDATE events SET data = '{"i":7}' WHERE position = 1`);
      let previous = GENESIS_HASH;
      for (const row of await store.readHashedRows(0, 100)) {
        previous = chainHash(
          previous,
          row.position,
          row.stream_revision,
          storedContentDigest(row.stream_name, row.type, row.data, row.metadata),
        );
        await h.tamper(
          `UPDATE event_hashes SET hash = '${previous}' WHERE position = ${row.position}`,
        );
      }
      expect((await verifyLog(store)).ok).toBe(true);
      const result = await verifyLog(store, { expectHead: kept });
      expect(result.break).toMatchObject({ kind: 'head-mismatch', position: 10 });
    });

    it('verifies a clean log of 100,000 events, reporting progress batch by batch', async () => {
      const { store } = await fresh();
      const streams = Array.from({ length: 50 }, () => streamName('bulk'));
      for (let batch = 0; batch < 100; batch += 1) {
        const stream = streams[batch % streams.length] ?? '';
        await store.append(stream, makeEvents(1000), batch < streams.length ? 'no_stream' : 'any');
      }
      const progress: number[] = [];
      const result = await verifyLog(store, {
        batchSize: 10_000,
        onProgress: (verified) => progress.push(verified),
      });
      expect(result).toMatchObject({ ok: true, verified: 100_000, lastPosition: 100_000 });
      expect(progress).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * 10_000));
    }, 120_000);

    it('gives a log written before the chain its hashes once, with an event that says so', async () => {
      const first = await fresh();
      await tenEvents(first.store);
      await first.store.close();
      stores.splice(stores.indexOf(first.store), 1);
      await first.h.removeHashes(0);
      const store = await first.h.open();
      stores.push(store);
      const backfilled = await store.readStream('log-integrity');
      expect(backfilled).toHaveLength(1);
      expect(backfilled[0]).toMatchObject({ position: 11, type: 'LogHashesBackfilled' });
      const result = await verifyLog(store);
      expect(result).toMatchObject({ ok: true, verified: 11 });
      expect(backfilled[0]?.data).toEqual({
        upToPosition: 10,
        headHash: (await store.readHashedRows(9, 1))[0]?.hash,
      });
      // Opening again finds nothing left to hash, and records nothing more.
      await store.append(streamName(), [makeEvent()], 'no_stream');
      const again = await first.h.open();
      stores.push(again);
      expect(await again.readStream('log-integrity')).toHaveLength(1);
      expect((await verifyLog(again)).ok).toBe(true);
    });

    it('goes on from where a stopped migration left off, keeping the hashes it wrote', async () => {
      const first = await fresh();
      await tenEvents(first.store);
      const hashes = (await first.store.readHashedRows(0, 100)).map((r) => r.hash);
      await first.store.close();
      stores.splice(stores.indexOf(first.store), 1);
      await first.h.removeHashes(5);
      const store = await first.h.open();
      stores.push(store);
      expect(await store.readStream('log-integrity')).toHaveLength(1);
      // The same rows hash to the same chain, whether at append time or afterwards.
      expect((await store.readHashedRows(0, 10)).map((r) => r.hash)).toEqual(hashes);
    });
  });
}
