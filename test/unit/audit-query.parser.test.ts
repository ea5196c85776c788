import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/domain-errors';
import { auditCursorOf } from '../../src/api/queries/audit-log.query';
import { snapshotCursorOf } from '../../src/api/queries/snapshot-history.query';
import { decodeCursor, encodeCursor } from '../../src/api/queries/query-cursor';
import { parseAuditQuery } from '../../src/api/rest/audit-query.parser';
import { parseEventsQuery } from '../../src/api/rest/events-query.parser';
import { linkWith } from '../../src/api/rest/query-params.parser';
import { parseSnapshotHistoryQuery } from '../../src/api/rest/snapshot-history-query.parser';

const UUID = '0F8FAD5B-D9CB-469F-A165-70867728950E';

describe('parseAuditQuery', () => {
  it('gives defaults for an empty query', () => {
    expect(parseAuditQuery({})).toEqual({
      filter: {},
      page: { limit: 100, afterPosition: undefined, order: 'asc' },
    });
  });

  it('reads every filter, normalising ids, types and times', () => {
    const { filter, page } = parseAuditQuery({
      instance: UUID,
      image: UUID,
      user: 'alice',
      project: 'p1',
      type: ['ImageReserved,Uploaded', ' Uploaded ', 'DomainSaved'],
      since: '2024-05-01',
      until: '2024-05-01T14:00:00+02:00',
      limit: '1000',
      cursor: auditCursorOf({ position: 42 }),
      order: 'desc',
    });
    expect(filter).toEqual({
      instanceId: UUID.toLowerCase(),
      imageId: UUID.toLowerCase(),
      userId: 'alice',
      projectId: 'p1',
      types: ['ImageReserved', 'Uploaded', 'DomainSaved'],
      since: '2024-05-01T00:00:00.000Z',
      until: '2024-05-01T12:00:00.000Z',
    });
    expect(page).toEqual({ limit: 1000, afterPosition: 42, order: 'desc' });
  });

  it.each([
    [{ limit: '0' }],
    [{ limit: '1001' }],
    [{ limit: '10.5' }],
    [{ limit: '-1' }],
    [{ limit: ['1', '2'] }],
    [{ since: 'yesterday' }],
    [{ since: '2024-13-01' }],
    [{ since: '2026-02-30T00:00:00Z' }], // no such day: not rolled over into March
    [{ until: '2026-11-31' }],
    [{ since: '2024-05-01T10:00:00' }], // a time needs a zone
    [{ since: '2024-05-02', until: '2024-05-01' }],
    [{ cursor: 'not a cursor!' }],
    [{ cursor: encodeCursor(['x']) }],
    [{ cursor: encodeCursor([-3]) }],
    [{ instance: 'web-1' }],
    [{ type: 'Robert"); DROP TABLE audit_log;--' }],
    [{ order: 'sideways' }],
    [{ user: '' }],
    [{ colour: 'blue' }],
  ])('refuses %j with a ValidationError', (query) => {
    expect(() => parseAuditQuery(query)).toThrow(ValidationError);
  });
});

describe('parseEventsQuery', () => {
  it('defaults to the start of the log, 100 events', () => {
    expect(parseEventsQuery({})).toEqual({ from: 0, limit: 100 });
    expect(parseEventsQuery({ from: '17', limit: '5' })).toEqual({ from: 17, limit: 5 });
  });

  it.each([
    [{ from: '-1' }],
    [{ from: 'abc' }],
    [{ limit: '0' }],
    [{ limit: '5000' }],
    [{ to: '3' }],
  ])('refuses %j', (query) => expect(() => parseEventsQuery(query)).toThrow(ValidationError));
});

describe('parseSnapshotHistoryQuery', () => {
  it('reads limit, cursor and filters', () => {
    const imageId = '0b7a5a1e-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
    const cursor = snapshotCursorOf({ requestedAt: '2024-05-01T00:00:00.000Z', imageId });
    expect(
      parseSnapshotHistoryQuery({ limit: '7', cursor, result: 'active', mode: 'cold' }),
    ).toEqual({
      filter: { result: 'active', mode: 'cold' },
      page: { limit: 7, after: { requestedAt: '2024-05-01T00:00:00.000Z', imageId } },
    });
    expect(parseSnapshotHistoryQuery({})).toEqual({ filter: {}, page: { limit: 100 } });
  });

  it.each([
    [{ limit: 'x' }],
    [{ cursor: encodeCursor([1]) }],
    // forged: not a time and an image id snapshotCursorOf could have written
    [{ cursor: encodeCursor(['x', 'y']) }],
    [{ cursor: encodeCursor(['2024-05-01T00:00:00.000Z', 'y']) }],
    [{ cursor: encodeCursor(['tomorrow', '0b7a5a1e-1c2d-4e3f-8a9b-0c1d2e3f4a5b']) }],
    [{ result: 'great' }],
    [{ page: '2' }],
  ])('refuses %j', (query) =>
    expect(() => parseSnapshotHistoryQuery(query)).toThrow(ValidationError),
  );
});

describe('cursors and links', () => {
  it('round-trips keys and refuses foreign shapes', () => {
    expect(decodeCursor(encodeCursor([3, 'a']), 2)).toEqual([3, 'a']);
    expect(decodeCursor(encodeCursor([3, 'a']), 1)).toBeNull();
    expect(decodeCursor(Buffer.from('{"a":1}').toString('base64url'), 1)).toBeNull();
    expect(decodeCursor('', 1)).toBeNull();
  });

  it('keeps the other parameters and replaces the cursor', () => {
    expect(
      linkWith('/v1/audit', { type: ['A', 'B'], cursor: 'old', limit: '5' }, { cursor: 'new' }),
    ).toBe('/v1/audit?type=A&type=B&limit=5&cursor=new');
  });
});
