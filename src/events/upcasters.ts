import type { EventMetadata } from './event-metadata';
import { CURRENT_SCHEMA_VERSION } from './index';

/**
 * Upcasters turn an old stored event into the current shape when it is read. Stored events
 * are never rewritten. An upcaster is keyed by type and the schema version it reads; it
 * returns the data at the next version. Add one here when a schema changes, and bump
 * CURRENT_SCHEMA_VERSION.
 */
type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

const upcasters: Record<string, Record<number, Upcaster>> = {};

export interface StoredShape {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
}

export function upcast<E extends StoredShape>(event: E): E {
  let version = event.metadata.schemaVersion;
  let data = event.data as Record<string, unknown>;
  const forType = upcasters[event.type] ?? {};
  while (version < CURRENT_SCHEMA_VERSION) {
    const step = forType[version];
    if (step) data = step(data);
    version += 1;
  }
  if (version === event.metadata.schemaVersion) return event;
  return { ...event, data, metadata: { ...event.metadata, schemaVersion: version } };
}
