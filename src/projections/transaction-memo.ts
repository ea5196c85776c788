import type { EntityManager } from 'typeorm';

/** A Map or a WeakMap: what getOrAdd needs of it. */
interface KeyedStore<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): unknown;
}

/** The value kept under `key`; made by `make` and kept the first time it is asked for. */
export function getOrAdd<K, V>(store: KeyedStore<K, V>, key: K, make: () => V): V {
  let value = store.get(key);
  if (value === undefined) store.set(key, (value = make()));
  return value;
}

/**
 * What a projection remembers for one transaction only. TypeORM gives every transaction an
 * EntityManager of its own, so memories keyed by it are never seen by the next transaction,
 * in particular after a rollback. Live, each event is its own transaction; in a rebuild a
 * transaction holds a batch of events, and a snapshot's events, which come one after
 * another, read the same few rows.
 */
export function perTransaction<T extends object>(make: () => T): (manager: EntityManager) => T {
  const memories = new WeakMap<EntityManager, T>();
  return (manager) => getOrAdd(memories, manager, make);
}

/**
 * A row read once per transaction and remembered under `id`, for rows whose read columns
 * cannot change within it (or whose changes the caller forgets). Rows not found are not kept.
 */
export async function rememberedRow<T>(
  remembered: Map<string, T>,
  id: string,
  read: () => Promise<T | null>,
): Promise<T | null> {
  const known = remembered.get(id);
  if (known !== undefined) return known;
  const row = await read();
  if (row !== null) remembered.set(id, row);
  return row;
}
