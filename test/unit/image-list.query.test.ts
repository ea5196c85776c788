import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/domain-errors';
import type { Actor } from '../../src/events';
import {
  listImages,
  type ImageListFilter,
  type ImageSort,
} from '../../src/api/queries/image-list.query';
import { ImageView } from '../../src/projections/entities/image-view.entity';
import { createViewsDataSource } from '../../src/projections/views.data-source';

/**
 * listImages against a real (in-memory) SQLite views database: scoping, filters, ordering and
 * keyset paging with ties.
 */
const alice: Actor = { userId: 'alice', projectId: 'p-alice', roles: ['member'] };
const bob: Actor = { userId: 'bob', projectId: 'p-bob', roles: ['member'] };
const admin: Actor = { userId: 'root', projectId: 'p-admin', roles: ['admin'] };

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function image(n: number, overrides: Partial<ImageView>): ImageView {
  return Object.assign(new ImageView(), {
    id: uuid(n),
    name: `img-${n}`,
    status: 'active',
    visibility: 'private',
    projectId: 'p-alice',
    userId: 'alice',
    instanceId: 'inst-1',
    imageType: 'snapshot',
    properties: { image_type: 'snapshot', instance_uuid: 'inst-1', owner: 'p-alice' },
    diskFormat: 'qcow2',
    containerFormat: 'bare',
    size: 100 * n,
    virtualSize: 1000,
    checksum: `md5-${n}`,
    osHashAlgo: 'sha512',
    osHashValue: `sha-${n}`,
    progress: 100,
    failedStep: null,
    failureReason: null,
    createdAt: `2024-01-0${Math.min(n, 9)}T10:00:00.${String(n).padStart(3, '0')}Z`,
    updatedAt: `2024-02-01T10:00:00.000Z`,
    deletedAt: null,
    ...overrides,
  });
}

describe('listImages', () => {
  let db: DataSource;

  beforeAll(async () => {
    db = createViewsDataSource(':memory:');
    await db.initialize();
    await db.getRepository(ImageView).insert([
      image(1, { name: 'same', size: 500 }),
      image(2, { name: 'same', size: 500, status: 'killed', checksum: null }),
      image(3, { name: 'same', size: 500 }),
      image(4, {
        name: 'other',
        size: null,
        diskFormat: null,
        status: 'queued',
        instanceId: 'inst-2',
        properties: { image_type: 'backup', instance_uuid: 'inst-2', purpose: 'nightly' },
      }),
      // bob's project snapshotted by an admin: shared with bob through instance_owner.
      image(5, {
        projectId: 'p-admin',
        visibility: 'shared',
        properties: { image_type: 'snapshot', instance_uuid: 'inst-b', instance_owner: 'p-bob' },
      }),
      image(6, { projectId: 'p-bob' }),
      image(7, { status: 'deleted', deletedAt: '2024-03-01T00:00:00.000Z' }),
      // created in the same millisecond as image 8: ties broken by id.
      image(8, { createdAt: '2024-01-09T10:00:00.000Z' }),
      image(9, { createdAt: '2024-01-09T10:00:00.000Z' }),
    ]);
  });

  afterAll(async () => {
    await db?.destroy();
  });

  const ids = async (
    actor: Actor,
    filter: ImageListFilter = {},
    sort?: ImageSort[],
    limit = 100,
  ): Promise<number[]> =>
    (await listImages(db, actor, filter, { limit, sort })).images.map((i) =>
      Number(i.id.slice(-12)),
    );

  it('scopes to the project, the shared-with-me snapshots, and never deleted images', async () => {
    expect(await ids(alice)).toEqual([9, 8, 4, 3, 2, 1]);
    expect(await ids(bob)).toEqual([6, 5]);
    expect(await ids(admin)).toEqual([9, 8, 6, 5, 4, 3, 2, 1]);
  });

  it('excludes shared-with-me images unless member_status is accepted or all', async () => {
    expect(await ids(bob, { memberStatus: 'pending' })).toEqual([6]);
    expect(await ids(bob, { memberStatus: 'all' })).toEqual([6, 5]);
  });

  it('filters by visibility and owner', async () => {
    expect(await ids(bob, { visibility: 'shared' })).toEqual([5]);
    expect(await ids(bob, { visibility: 'private' })).toEqual([6]);
    expect(await ids(bob, { visibility: 'public' })).toEqual([]);
    expect(await ids(admin, { owner: 'p-bob' })).toEqual([6]);
  });

  it('filters by name, status, properties and formats', async () => {
    expect(await ids(alice, { names: ['same'] })).toEqual([3, 2, 1]);
    expect(await ids(alice, { statuses: ['killed', 'queued'] })).toEqual([4, 2]);
    expect(await ids(alice, { instanceUuid: 'inst-2' })).toEqual([4]);
    expect(await ids(alice, { imageType: 'backup' })).toEqual([4]);
    expect(await ids(alice, { properties: { purpose: 'nightly' } })).toEqual([4]);
    expect(await ids(alice, { properties: { "purpose'": 'x' } })).toEqual([]);
    expect(await ids(alice, { diskFormats: ['qcow2'] })).toEqual([9, 8, 3, 2, 1]);
    expect(await ids(alice, { columns: [{ column: 'checksum', value: 'md5-3' }] })).toEqual([3]);
    expect(await ids(alice, { matchNothing: true })).toEqual([]);
  });

  it('compares times at whole seconds, as Glance shows them', async () => {
    expect(await ids(alice, { createdAt: [{ op: 'eq', at: '2024-01-03T10:00:00' }] })).toEqual([3]);
    expect(await ids(alice, { createdAt: [{ op: 'gt', at: '2024-01-03T10:00:00' }] })).toEqual([
      9, 8, 4,
    ]);
    expect(await ids(alice, { createdAt: [{ op: 'gte', at: '2024-01-03T10:00:00.5' }] })).toEqual([
      9, 8, 4,
    ]);
    expect(
      await ids(alice, {
        createdAt: [
          { op: 'gte', at: '2024-01-02T00:00:00' },
          { op: 'lt', at: '2024-01-04T00:00:00' },
        ],
      }),
    ).toEqual([3, 2]);
    expect(await ids(alice, { updatedAt: [{ op: 'neq', at: '2024-02-01T10:00:00' }] })).toEqual([]);
  });

  it('sorts by the requested keys, with NULL sizes as 0 and ties broken by id', async () => {
    expect(await ids(alice, {}, [{ key: 'size', dir: 'asc' }])).toEqual([4, 1, 2, 3, 8, 9]);
    expect(
      await ids(alice, {}, [
        { key: 'name', dir: 'asc' },
        { key: 'status', dir: 'asc' },
      ]),
    ).toEqual([8, 9, 4, 3, 1, 2]);
    expect(await ids(alice, {}, [{ key: 'id', dir: 'asc' }])).toEqual([1, 2, 3, 4, 8, 9]);
  });

  it('pages with a marker through every image exactly once, whatever the order', async () => {
    const orders: ImageSort[][] = [
      [{ key: 'created_at', dir: 'desc' }],
      [{ key: 'name', dir: 'asc' }],
      [{ key: 'size', dir: 'desc' }],
      [
        { key: 'disk_format', dir: 'asc' },
        { key: 'updated_at', dir: 'desc' },
      ],
    ];
    for (const sort of orders) {
      const all = await ids(admin, {}, sort);
      for (const limit of [1, 2, 3]) {
        const seen: string[] = [];
        let marker: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await listImages(db, admin, {}, { limit, marker, sort });
          seen.push(...page.images.map((i) => i.id));
          pages++;
          if (page.nextMarker === null) break;
          expect(page.images).toHaveLength(limit);
          marker = page.nextMarker;
        }
        expect(seen.map((id) => Number(id.slice(-12)))).toEqual(all);
        expect(pages).toBe(Math.ceil(all.length / limit));
      }
    }
  });

  it('refuses a marker the caller cannot see, or that does not exist', async () => {
    await expect(listImages(db, bob, {}, { limit: 5, marker: uuid(1) })).rejects.toThrow(
      ValidationError,
    );
    await expect(listImages(db, admin, {}, { limit: 5, marker: uuid(7) })).rejects.toThrow(
      `No image found with ID ${uuid(7)}`,
    );
    await expect(listImages(db, admin, {}, { limit: 5, marker: 'nope' })).rejects.toThrow(
      ValidationError,
    );
    // The shared-with-me image is a valid marker for bob.
    const page = await listImages(db, bob, {}, { limit: 5, marker: uuid(6) });
    expect(page.images.map((i) => i.id)).toEqual([uuid(5)]);
  });

  it('gives an empty page for limit 0 and no next marker on the last page', async () => {
    expect(await listImages(db, alice, {}, { limit: 0 })).toEqual({
      images: [],
      nextMarker: null,
    });
    const last = await listImages(db, alice, {}, { limit: 6 });
    expect(last.nextMarker).toBeNull();
    const first = await listImages(db, alice, {}, { limit: 5 });
    expect(first.nextMarker).toBe(uuid(2));
  });
});
