/**
 * The schema version each event type is written with now. A type not listed is at version
 * 1. When an event's shape changes, its version goes up here and an upcaster from the old
 * version goes into upcasters.ts; stored events are never rewritten.
 *
 * - SnapshotPlanned 2: `diskKind` (file or block) is always there. Version 1 plans were
 *   written before block-device disks, or by releases that left it out for files.
 */
export const SCHEMA_VERSIONS: Readonly<Record<string, number>> = {
  SnapshotPlanned: 2,
};

/** The version an event of this type is written with (1 for types never changed). */
export function schemaVersionOf(type: string): number {
  return SCHEMA_VERSIONS[type] ?? 1;
}
