import type { EventMetadata } from './event-metadata';
import { schemaVersionOf } from './schema-versions';

/**
 * Upcasters turn an old stored event into the current shape when it is read; stored events
 * are never rewritten (their bytes are what was appended). Each upcaster is a pure function
 * keyed by the event type and the version it reads, and returns the data at the next
 * version; reading runs them one after another up to the type's current version
 * (schema-versions.ts).
 */
export type Upcaster = (data: Readonly<Record<string, unknown>>) => Record<string, unknown>;

export const UPCASTERS: Readonly<Record<string, Readonly<Record<number, Upcaster>>>> = {
  SnapshotPlanned: {
    // v1 → v2: a plan without diskKind copied a file disk (block disks came with diskKind).
    1: (data) => ({ ...data, diskKind: data['diskKind'] ?? 'file' }),
  },
};

export interface StoredShape {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
}

/**
 * The event at its type's current version. An event written by a newer release (a version
 * above ours) is returned as it is: this release reads the fields it knows.
 */
export function upcast<E extends StoredShape>(event: E): E {
  const current = schemaVersionOf(event.type);
  let version = event.metadata.schemaVersion;
  if (version >= current) return event;
  let data = event.data as Record<string, unknown>;
  const steps = UPCASTERS[event.type] ?? {};
  while (version < current) {
    const step = steps[version];
    if (!step) throw new Error(`no upcaster for ${event.type} v${version} → v${version + 1}`);
    data = step(data);
    version += 1;
  }
  return { ...event, data, metadata: { ...event.metadata, schemaVersion: version } };
}
