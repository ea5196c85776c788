import { describe, expect, it } from 'vitest';
import type { EventMetadata } from '../../src/events';
import { schemaVersionOf, SCHEMA_VERSIONS } from '../../src/events/schema-versions';
import { upcast, UPCASTERS } from '../../src/events/upcasters';

const metadata = (schemaVersion: number): EventMetadata => ({
  eventId: 'e-1',
  correlationId: 'c-1',
  causationId: 'c-0',
  actor: { userId: 'u', projectId: 'p', roles: ['member'] },
  requestId: 'req-1',
  occurredAt: '2025-01-01T00:00:00.000Z',
  schemaVersion,
});

const plan = { imageId: 'i', instanceId: 'v', mode: 'cold', diskPath: '/d', sourceFormat: 'qcow2' };

describe('upcasting on read', () => {
  it('given a v1 SnapshotPlanned without diskKind, when read, then it is v2 with a file disk', () => {
    const stored = { type: 'SnapshotPlanned', data: plan, metadata: metadata(1) };
    const read = upcast(stored);
    expect(read.data).toEqual({ ...plan, diskKind: 'file' });
    expect(read.metadata.schemaVersion).toBe(2);
    // The stored event is left as it was.
    expect(stored.data).toEqual(plan);
    expect(stored.metadata.schemaVersion).toBe(1);
  });

  it('given a v1 plan that already named a block disk, when read, then the kind is kept', () => {
    const read = upcast({
      type: 'SnapshotPlanned',
      data: { ...plan, diskKind: 'block' },
      metadata: metadata(1),
    });
    expect((read.data as { diskKind: string }).diskKind).toBe('block');
  });

  it('given an event at its current version, or from a newer release, when read, then it is the same object', () => {
    const current = {
      type: 'SnapshotPlanned',
      data: { ...plan, diskKind: 'file' },
      metadata: metadata(2),
    };
    expect(upcast(current)).toBe(current);
    const newer = {
      type: 'SnapshotPlanned',
      data: { ...plan, diskKind: 'file', x: 1 },
      metadata: metadata(3),
    };
    expect(upcast(newer)).toBe(newer);
    const unchanged = { type: 'TaskStateChanged', data: { from: null }, metadata: metadata(1) };
    expect(upcast(unchanged)).toBe(unchanged);
  });

  it('has one upcaster for every version step of every changed type', () => {
    for (const [type, version] of Object.entries(SCHEMA_VERSIONS)) {
      for (let v = 1; v < (version ?? 1); v += 1) {
        expect(typeof UPCASTERS[type]?.[v], `${type} v${v} → v${v + 1}`).toBe('function');
      }
    }
    expect(schemaVersionOf('SnapshotPlanned')).toBe(2);
    expect(schemaVersionOf('NotAnEventType')).toBe(1);
  });
});
