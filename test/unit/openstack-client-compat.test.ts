import type { Request, Response } from 'express';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFamilyOf } from '../../src/api/api-family';
import { unprefixedImagePath } from '../../src/api/image-prefix.middleware';
import { listFlavorSizes } from '../../src/api/queries/flavor-list.query';
import { listInstanceActions } from '../../src/api/queries/instance-actions.query';
import { glanceVersionsDocument } from '../../src/api/rest/image-versions.controller';
import { instanceActionsPage } from '../../src/api/rest/instance-actions-query.parser';
import { negotiateComputeVersion, type Microversion } from '../../src/api/rest/microversion';
import {
  instanceActionEventShape,
  instanceActionShape,
} from '../../src/api/rest/nova-instance-action.shape';
import {
  flavorDetailShape,
  flavorSizeOf,
  flavorSummaryShape,
} from '../../src/api/rest/nova-flavor.shape';
import { serverDetailShape, serverFlavorShape } from '../../src/api/rest/nova-server.shape';
import { ValidationError } from '../../src/domain/domain-errors';
import type { Actor } from '../../src/events';
import { InstanceActionEvent } from '../../src/projections/entities/instance-action-event.entity';
import { InstanceAction } from '../../src/projections/entities/instance-action.entity';
import { InstanceView } from '../../src/projections/entities/instance-view.entity';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import { sqliteTarget } from '../../src/database/database-target';

/** What the `openstack` CLI (OSC 6.0 / openstacksdk 0.101) needs beyond Nova 2.45. */

const v = (minor: number): Microversion => ({ major: 2, minor });
const INSTANCE: InstanceView = {
  id: '00000000-0000-4000-8000-000000000001',
  name: 'vm-1',
  projectId: 'pa',
  userId: 'alice',
  host: 'kvm-01',
  vmState: 'active',
  powerState: 'running',
  taskState: null,
  taskImageId: null,
  diskPath: null,
  diskFormat: null,
  vcpus: 2,
  memoryMiB: 256,
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.500Z',
  deleted: false,
  deletedAt: null,
  incrementalBackups: false,
};
const shapeAt = (minor: number, admin = false) =>
  serverDetailShape(INSTANCE, { version: v(minor), publicUrl: 'http://sl', admin });

describe('the image endpoint prefix', () => {
  it('maps /image/v2/... onto the Glance routes and nothing else', () => {
    expect(unprefixedImagePath('/image/v2/images')).toBe('/v2/images');
    expect(unprefixedImagePath('/image/v2/images/x/file?a=1')).toBe('/v2/images/x/file?a=1');
    expect(unprefixedImagePath('/image/v2?x')).toBe('/v2?x');
    expect(unprefixedImagePath('/image/v2')).toBe('/v2');
    for (const other of ['/image', '/image/', '/image/v2.1/servers', '/image/v21', '/v2/images'])
      expect(unprefixedImagePath(other)).toBeNull();
    expect(apiFamilyOf('/image')).toBe('glance');
    expect(apiFamilyOf('/image/nothing')).toBe('glance');
    expect(apiFamilyOf('/images')).toBe('native');
  });

  it("answers Glance's version list, every entry linking to <endpoint>/v2/", () => {
    const doc = glanceVersionsDocument('http://sl/image');
    expect(doc.versions.map((x) => x.status)).toEqual([
      'CURRENT',
      ...Array<string>(doc.versions.length - 1).fill('SUPPORTED'),
    ]);
    expect(doc.versions.at(-1)?.id).toBe('v2.0');
    for (const x of doc.versions)
      expect(x.links).toEqual([{ rel: 'self', href: 'http://sl/image/v2/' }]);
  });
});

describe('compute microversions up to 2.92', () => {
  const negotiate = (value: string) => {
    const headers: Record<string, string> = {};
    const req = { headers: { 'openstack-api-version': `compute ${value}` } } as unknown as Request;
    const res = {
      setHeader: (k: string, val: string) => (headers[k] = val),
    } as unknown as Response;
    return { version: negotiateComputeVersion(req, res), headers };
  };

  it('takes 2.92 (what OSC sends for 2.latest) and refuses 2.93', () => {
    expect(negotiate('2.92').version).toEqual(v(92));
    expect(negotiate('latest').headers['OpenStack-API-Version']).toBe('compute 2.92');
    expect(() => negotiate('2.93')).toThrow(/maximum is 2\.92/);
  });

  it('embeds the flavor from 2.47, sized from the domain', () => {
    expect(shapeAt(46).flavor).toEqual({
      id: '2c256m',
      links: [{ rel: 'bookmark', href: 'http://sl/flavors/2c256m' }],
    });
    expect(shapeAt(47).flavor).toEqual({
      vcpus: 2,
      ram: 256,
      disk: 0,
      ephemeral: 0,
      swap: 0,
      original_name: '2c256m',
      extra_specs: {},
    });
    expect(serverFlavorShape(INSTANCE, { version: v(92), publicUrl: '', admin: true })).toEqual(
      shapeAt(47).flavor,
    );
  });

  it('adds trusted_image_certificates at 2.63, locked_reason at 2.73, hostname for all at 2.90', () => {
    expect(shapeAt(62)).not.toHaveProperty('trusted_image_certificates');
    expect(shapeAt(63)).toHaveProperty('trusted_image_certificates', null);
    expect(shapeAt(72)).not.toHaveProperty('locked_reason');
    expect(shapeAt(73)).toMatchObject({ locked: false, locked_reason: null });
    expect(shapeAt(89)).not.toHaveProperty('OS-EXT-SRV-ATTR:hostname');
    expect(shapeAt(90)).toHaveProperty('OS-EXT-SRV-ATTR:hostname', 'vm-1');
    expect(shapeAt(90)).not.toHaveProperty('OS-EXT-SRV-ATTR:host');
    expect(shapeAt(90, true)).toHaveProperty('OS-EXT-SRV-ATTR:host', 'kvm-01');
  });
});

describe('instance actions from 2.58', () => {
  const action = (requestId: string, day: number): InstanceAction => ({
    instanceId: INSTANCE.id,
    requestId,
    action: 'createImage',
    imageId: `img-${requestId}`,
    userId: 'alice',
    projectId: 'pa',
    startTime: `2025-02-0${day}T00:00:00.000Z`,
    updatedAt: `2025-02-0${day}T00:00:09.000Z`,
    message: null,
  });
  const event: InstanceActionEvent = {
    instanceId: INSTANCE.id,
    requestId: 'req-1',
    event: 'compute_snapshot_instance',
    startTime: '2025-02-01T00:00:00.000Z',
    finishTime: '2025-02-01T00:00:09.000Z',
    result: 'Success',
    traceback: null,
    host: 'kvm-01',
  };
  const MEMBER: Actor = { userId: 'alice', projectId: 'pa', roles: ['member'] };
  let db: DataSource;

  beforeAll(async () => {
    db = createViewsDataSource(sqliteTarget(':memory:'));
    await db.initialize();
    await db.getRepository(InstanceView).insert(INSTANCE);
    await db
      .getRepository(InstanceAction)
      .insert([action('req-1', 1), action('req-2', 2), action('req-3', 3), action('req-4', 4)]);
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('shows updated_at from 2.58, hostId from 2.62 (host for admins), details from 2.84', () => {
    expect(instanceActionShape(action('req-1', 1), v(57))).not.toHaveProperty('updated_at');
    expect(instanceActionShape(action('req-1', 1), v(58))).toHaveProperty(
      'updated_at',
      '2025-02-01T00:00:09.000000',
    );
    const member = { admin: false, projectId: 'pa' };
    expect(instanceActionEventShape(event, { ...member, version: v(61) })).not.toHaveProperty(
      'hostId',
    );
    const at62 = instanceActionEventShape(event, { ...member, version: v(62) });
    expect(at62.hostId).toMatch(/^[0-9a-f]{56}$/);
    expect(at62).not.toHaveProperty('host');
    expect(at62).not.toHaveProperty('details');
    expect(
      instanceActionEventShape(event, { admin: true, projectId: 'pa', version: v(84) }),
    ).toMatchObject({ host: 'kvm-01', details: null, traceback: null });
  });

  it('pages with limit and marker and filters on changes-since/-before', async () => {
    const page = (query: string, minor = 58) =>
      listInstanceActions(
        db,
        MEMBER,
        { instanceId: INSTANCE.id },
        instanceActionsPage(new URLSearchParams(query), v(minor)),
      ).then((rows) => rows.map((r) => r.requestId));
    expect(await page('limit=2')).toEqual(['req-4', 'req-3']);
    expect(await page('limit=2&marker=req-3')).toEqual(['req-2', 'req-1']);
    expect(await page('changes-since=2025-02-03T00:00:00Z')).toEqual(['req-4', 'req-3']);
    expect(await page('changes-before=2025-02-02T12:00:00Z', 66)).toEqual(['req-2', 'req-1']);
    // changes-before only exists from 2.66, and nothing pages before 2.58.
    expect(await page('changes-before=2025-02-02T12:00:00Z', 65)).toHaveLength(4);
    expect(await page('limit=1', 57)).toHaveLength(4);
    await expect(page('marker=req-none')).rejects.toThrow('Marker req-none could not be found.');
    expect(() => instanceActionsPage(new URLSearchParams('limit=-1'), v(58))).toThrow(
      ValidationError,
    );
    expect(() =>
      instanceActionsPage(new URLSearchParams('changes-since=yesterday'), v(58)),
    ).toThrow(/changes-since/);
  });
});

describe('flavors derived from instance sizes', () => {
  const MEMBER_A: Actor = { userId: 'alice', projectId: 'pa', roles: ['member'] };
  const MEMBER_B: Actor = { userId: 'bob', projectId: 'pb', roles: ['member'] };
  const ADMIN: Actor = { userId: 'root', projectId: 'px', roles: ['admin'] };
  let db: DataSource;

  beforeAll(async () => {
    db = createViewsDataSource(sqliteTarget(':memory:'));
    await db.initialize();
    const at = (n: number, projectId: string, vcpus: number, memoryMiB: number) => ({
      ...INSTANCE,
      id: `00000000-0000-4000-8000-00000000000${n}`,
      projectId,
      vcpus,
      memoryMiB,
    });
    await db
      .getRepository(InstanceView)
      .insert([
        at(1, 'pa', 2, 256),
        at(2, 'pa', 2, 256),
        at(3, 'pa', 1, 128),
        at(4, 'pb', 4, 4096),
      ]);
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('reads flavor ids back into sizes, refusing anything else', () => {
    expect(flavorSizeOf('2c256m')).toEqual({ vcpus: 2, memoryMiB: 256 });
    for (const bad of ['0c128m', '1c0m', '1c128', 'c128m', '1c128m ', '../1c128m', '01c128m'])
      expect(flavorSizeOf(bad)).toBeNull();
  });

  it("lists the caller's project's sizes once each; an admin sees every size", async () => {
    const ids = (actor: Actor) =>
      listFlavorSizes(db, actor).then((sizes) => sizes.map((x) => `${x.vcpus}c${x.memoryMiB}m`));
    expect(await ids(MEMBER_A)).toEqual(['1c128m', '2c256m']);
    expect(await ids(MEMBER_B)).toEqual(['4c4096m']);
    expect(await ids(ADMIN)).toEqual(['1c128m', '2c256m', '4c4096m']);
    expect(await listFlavorSizes(db, MEMBER_A, { vcpus: 4, memoryMiB: 4096 })).toEqual([]);
    expect(await listFlavorSizes(db, MEMBER_B, { vcpus: 4, memoryMiB: 4096 })).toHaveLength(1);
  });

  it('shapes flavors as Nova does at 2.1, 2.55, 2.61 and 2.75', () => {
    const size = { vcpus: 2, memoryMiB: 256 };
    expect(flavorSummaryShape(size, 'http://sl', v(1))).toEqual({
      id: '2c256m',
      name: '2c256m',
      links: [
        { rel: 'self', href: 'http://sl/v2.1/flavors/2c256m' },
        { rel: 'bookmark', href: 'http://sl/flavors/2c256m' },
      ],
    });
    expect(flavorDetailShape(size, 'http://sl', v(1))).toMatchObject({
      vcpus: 2,
      ram: 256,
      disk: 0,
      swap: '',
      'os-flavor-access:is_public': true,
    });
    expect(flavorDetailShape(size, 'http://sl', v(1))).not.toHaveProperty('description');
    expect(flavorDetailShape(size, 'http://sl', v(55))).toHaveProperty('description', null);
    expect(flavorDetailShape(size, 'http://sl', v(60))).not.toHaveProperty('extra_specs');
    expect(flavorDetailShape(size, 'http://sl', v(61))).toHaveProperty('extra_specs', {});
    expect(flavorDetailShape(size, 'http://sl', v(75))).toHaveProperty('swap', 0);
  });
});
