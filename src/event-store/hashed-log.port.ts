import type { EventRow } from './event-rows';

/** A stored event as verify reads it: the row as written, its event id and its stored hash. */
export interface HashedEventRow extends EventRow {
  readonly event_id: string;
  /** null when the row has no hash (its hash row was removed, or it was never written). */
  readonly hash: string | null;
}

/**
 * A log that keeps a hash chain (log-hash.ts): the SQLite and PostgreSQL stores. verify
 * reads the rows exactly as stored, in position order, with their hashes.
 */
export interface HashedLog {
  /** Rows with position > after, in position order, at most `limit`. */
  readHashedRows(after: number, limit: number): Promise<HashedEventRow[]>;
  lastPosition(): Promise<number>;
}

export function isHashedLog(store: unknown): store is HashedLog {
  return (
    typeof store === 'object' &&
    store !== null &&
    typeof (store as Partial<HashedLog>).readHashedRows === 'function'
  );
}
