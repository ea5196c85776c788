import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getInstanceAction,
  listInstanceActions,
  loadInstanceActions,
} from '../../src/api/queries/instance-actions.query';
import { listInstances } from '../../src/api/queries/instance-list.query';
import {
  flavorIdOf,
  nextPageLink,
  novaDbTime,
  novaHostId,
  novaIsoTime,
  powerStateCode,
  serverDetailShape,
  serverStatus,
  vmStatesForStatus,
} from '../../src/api/rest/nova-server.shape';
import { serverListParams } from '../../src/api/rest/server-list.params';
import { actionTableLines, type ActionRow } from '../../src/cli/actions.command';
import {
  InstanceNotFoundError,
  PolicyForbiddenError,
  ValidationError,
} from '../../src/domain/domain-errors';
import type { Actor } from '../../src/events';
import { InstanceActionEvent } from '../../src/projections/entities/instance-action-event.entity';
import { InstanceAction } from '../../src/projections/entities/instance-action.entity';
import { InstanceView } from '../../src/projections/entities/instance-view.entity';
import {
  actionNameForTaskState,
  eventNameForAction,
  snapshotOutcome,
} from '../../src/projections/instance-actions.projection';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import { sqliteTarget } from '../../src/database/database-target';

const MEMBER_A: Actor = { userId: 'alice', projectId: 'pa', roles: ['member', 'reader'] };
const MEMBER_B: Actor = { userId: 'bob', projectId: 'pb', roles: ['member'] };
const ADMIN_A: Actor = { userId: 'root', projectId: 'pa', roles: ['admin', 'member'] };

const V = { major: 2, minor: 1 };

function instance(n: number, projectId: string, over: Partial<InstanceView> = {}): InstanceView {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    name: `vm-${n}`,
    projectId,
    userId: 'alice',
    host: 'kvm-01',
    vmState: 'active',
    powerState: 'running',
    taskState: null,
    taskImageId: null,
    diskPath: null,
    diskFormat: null,
    vcpus: 1,
    memoryMiB: 128,
    // Later n is newer; n 3 and 4 share a time, so the id breaks the tie.
    createdAt: `2025-01-0${n === 4 ? 3 : n}T00:00:00.000Z`,
    updatedAt: `2025-01-0${n === 4 ? 3 : n}T00:00:00.500Z`,
    deleted: false,
    deletedAt: null,
    incrementalBackups: false,
    ...over,
  };
}

describe('Nova server shapes', () => {
  it("maps power states to Nova's codes and vm_states to statuses", () => {
    expect(
      ['nostate', 'running', 'paused', 'shutdown', 'crashed', 'suspended', 'bogus'].map(
        powerStateCode,
      ),
    ).toEqual([0, 1, 3, 4, 6, 7, 0]);
    expect(['active', 'stopped', 'paused', 'suspended', 'error'].map(serverStatus)).toEqual([
      'ACTIVE',
      'SHUTOFF',
      'PAUSED',
      'SUSPENDED',
      'ERROR',
    ]);
    expect(vmStatesForStatus('shutoff')).toEqual(['stopped']);
    expect(vmStatesForStatus('REBOOT')).toEqual([]);
  });

  it("formats Nova's timestamps and host id", () => {
    expect(novaIsoTime('2025-03-10T09:00:00.012Z')).toBe('2025-03-10T09:00:00Z');
    expect(novaDbTime('2025-03-10T09:00:00.012Z')).toBe('2025-03-10T09:00:00.012000');
    expect(novaDbTime(null)).toBeNull();
    // sha224 of "p" + "h", as Nova hashes project id + host.
    expect(novaHostId('p', 'h')).toBe('0a5e9835749049c9b3e8370f570605297b49add5fbc4af20ad056840');
    expect(novaHostId('p', 'h')).not.toBe(novaHostId('q', 'h'));
    expect(novaHostId('p', '')).toBe('');
    expect(flavorIdOf({ vcpus: 2, memoryMiB: 2048 })).toBe('2c2048m');
  });

  it('shows OS-EXT-SRV-ATTR and host_status to admins only, and version-gated fields by microversion', () => {
    const row = instance(1, 'pa', { taskState: 'image_snapshot', powerState: 'shutdown' });
    const ctx = { publicUrl: 'https://api.example', version: V, admin: false };
    const member = serverDetailShape(row, ctx);
    expect(member).toMatchObject({
      status: 'ACTIVE',
      tenant_id: 'pa',
      image: '',
      progress: 0,
      'OS-EXT-STS:task_state': 'image_snapshot',
      'OS-EXT-STS:vm_state': 'active',
      'OS-EXT-STS:power_state': 4,
      'OS-EXT-AZ:availability_zone': 'nova',
      flavor: {
        id: '1c128m',
        links: [{ rel: 'bookmark', href: 'https://api.example/flavors/1c128m' }],
      },
      links: [
        { rel: 'self', href: `https://api.example/v2.1/servers/${row.id}` },
        { rel: 'bookmark', href: `https://api.example/servers/${row.id}` },
      ],
    });
    expect(Object.keys(member).some((k) => k.startsWith('OS-EXT-SRV-ATTR'))).toBe(false);
    expect(member).not.toHaveProperty('locked');

    const admin = serverDetailShape(row, { ...ctx, admin: true, version: { major: 2, minor: 45 } });
    expect(admin).toMatchObject({
      'OS-EXT-SRV-ATTR:host': 'kvm-01',
      'OS-EXT-SRV-ATTR:hypervisor_hostname': 'kvm-01',
      'OS-EXT-SRV-ATTR:instance_name': 'vm-1',
      'OS-EXT-SRV-ATTR:hostname': 'vm-1',
      host_status: 'UP',
      locked: false,
      description: null,
      tags: [],
    });
    expect(serverDetailShape(instance(2, 'pa', { vmState: 'stopped' }), ctx)).not.toHaveProperty(
      'progress',
    );
  });

  it("builds the next link from the request's parameters, sorted, with the new marker", () => {
    const link = nextPageLink(
      'http://h:1',
      'servers/detail',
      new URLSearchParams('marker=old&limit=1&name=vm'),
      'new',
    );
    expect(link).toEqual({
      rel: 'next',
      href: 'http://h:1/v2.1/servers/detail?limit=1&marker=new&name=vm',
    });
  });
});

describe('server list parameters', () => {
  const parse = (q: string, actor: Actor = MEMBER_A) =>
    serverListParams(new URLSearchParams(q), actor);

  it('reads limit, marker, name, status and all_tenants', () => {
    expect(parse('limit=5&marker=m&name=web&status=ACTIVE&status=shutoff', ADMIN_A)).toEqual({
      filter: {
        allProjects: false,
        projectId: undefined,
        name: 'web',
        vmStates: ['active', 'stopped'],
      },
      page: { limit: 5, marker: 'm' },
    });
    expect(parse('').page.limit).toBe(1000);
    expect(parse('limit=5000').page.limit).toBe(1000);
    expect(parse('all_tenants=1&project_id=pb', ADMIN_A).filter).toMatchObject({
      allProjects: true,
      projectId: 'pb',
    });
    expect(parse('all_tenants', ADMIN_A).filter.allProjects).toBe(true);
    expect(parse('all_tenants=0').filter.allProjects).toBe(false);
    // project_id counts only with all_tenants, as in Nova.
    expect(parse('project_id=pb', ADMIN_A).filter.projectId).toBeUndefined();
  });

  it('rejects a bad limit or all_tenants value with 400, and all_tenants from a non-admin with 403', () => {
    expect(() => parse('limit=abc')).toThrow(ValidationError);
    expect(() => parse('limit=-1')).toThrow(ValidationError);
    expect(() => parse('limit=1.5')).toThrow(ValidationError);
    expect(() => parse('all_tenants=maybe', ADMIN_A)).toThrow(ValidationError);
    expect(() => parse('all_tenants=1')).toThrow(PolicyForbiddenError);
    expect(() => parse(`name=${'x'.repeat(256)}`)).toThrow(ValidationError);
  });

  it('reads changes-since as UTC, and refuses a day the calendar does not have', () => {
    expect(parse('changes-since=2026-02-28T10:00:00%2B01:00').filter).toMatchObject({
      changesSince: '2026-02-28T09:00:00.000Z',
    });
    expect(() => parse('changes-since=2026-02-30T00:00:00Z')).toThrow(
      "Invalid input for query parameters changes-since. Value: 2026-02-30T00:00:00Z. '2026-02-30T00:00:00Z' is not a 'date-time'",
    );
    expect(() => parse('changes-since=2026-11-31')).toThrow(ValidationError);
  });
});

describe('instance actions projection rules', () => {
  it('names actions and events as Nova does', () => {
    expect(actionNameForTaskState('image_snapshot_pending')).toBe('createImage');
    expect(actionNameForTaskState('image_backup')).toBe('createBackup');
    expect(actionNameForTaskState('image_snapshot')).toBeNull();
    expect(actionNameForTaskState(null)).toBeNull();
    expect(eventNameForAction('createImage')).toBe('compute_snapshot_instance');
    expect(eventNameForAction('createBackup')).toBe('compute_backup_instance');
  });

  it('ends in Success only when the image became active, else Error with the best reason known', () => {
    const base = { recordedTraceback: null, releaseReason: null, historyFailure: null };
    expect(snapshotOutcome({ ...base, historyResult: 'active' })).toEqual({
      result: 'Success',
      traceback: null,
      message: null,
    });
    expect(
      snapshotOutcome({
        historyResult: 'killed',
        recordedTraceback: 'snapshot failed at extract: disk full',
        releaseReason: 'released',
        historyFailure: 'other',
      }),
    ).toEqual({
      result: 'Error',
      traceback: 'snapshot failed at extract: disk full',
      message: 'Error',
    });
    expect(
      snapshotOutcome({ ...base, historyResult: null, releaseReason: 'no image' }).traceback,
    ).toBe('no image');
    expect(snapshotOutcome({ ...base, historyResult: 'killed' }).result).toBe('Error');
  });
});

describe('the shared compute queries (real SQLite, in memory)', () => {
  let db: DataSource;
  const rows = [
    instance(1, 'pa'),
    instance(2, 'pa', { vmState: 'stopped', name: 'Web-2' }),
    instance(3, 'pa', { name: 'web-3' }),
    instance(4, 'pa'),
    instance(5, 'pb'),
  ];
  const ids = (r: { rows: InstanceView[] }) => r.rows.map((i) => i.name);

  beforeAll(async () => {
    db = createViewsDataSource(sqliteTarget(':memory:'));
    await db.initialize();
    await db.getRepository(InstanceView).insert(rows);
    const action = {
      instanceId: rows[0]!.id,
      action: 'createImage',
      userId: 'alice',
      projectId: 'pa',
      message: 'Error',
    };
    await db.getRepository(InstanceAction).insert([
      {
        ...action,
        requestId: 'req-1',
        imageId: 'img-1',
        startTime: '2025-02-01T00:00:00.000Z',
        updatedAt: '2025-02-01T00:00:09.000Z',
      },
      {
        ...action,
        requestId: 'req-2',
        imageId: 'img-2',
        startTime: '2025-02-02T00:00:00.000Z',
        updatedAt: '2025-02-02T00:00:09.000Z',
        message: null,
      },
    ]);
    await db.getRepository(InstanceActionEvent).insert({
      instanceId: rows[0]!.id,
      requestId: 'req-1',
      event: 'compute_snapshot_instance',
      startTime: '2025-02-01T00:00:01.000Z',
      finishTime: '2025-02-01T00:00:09.000Z',
      result: 'Error',
      traceback: 'snapshot failed at extract: boom',
      host: 'kvm-01',
    });
  });
  afterAll(async () => {
    await db.destroy();
  });

  it("lists the caller's project newest first (created_at, then id) and pages by marker", async () => {
    const first = await listInstances(db, MEMBER_A, {}, { limit: 2 });
    expect(ids(first)).toEqual(['vm-4', 'web-3']);
    expect(first.nextMarker).toBe(rows[2]!.id);
    const second = await listInstances(db, MEMBER_A, {}, { limit: 2, marker: first.nextMarker! });
    expect(ids(second)).toEqual(['Web-2', 'vm-1']);
    expect(second.nextMarker).toBeNull();
  });

  it('scopes: a member never sees another project, an admin only with allProjects or a projectId', async () => {
    expect(ids(await listInstances(db, MEMBER_B, { allProjects: true }, { limit: 10 }))).toEqual([
      'vm-5',
    ]);
    expect(ids(await listInstances(db, ADMIN_A, {}, { limit: 10 }))).toHaveLength(4);
    expect(
      ids(await listInstances(db, ADMIN_A, { allProjects: true }, { limit: 10 })),
    ).toHaveLength(5);
    expect(
      ids(await listInstances(db, ADMIN_A, { allProjects: true, projectId: 'pb' }, { limit: 10 })),
    ).toEqual(['vm-5']);
  });

  it('filters by name (case-insensitive substring) and vm_state; an unknown marker is a 400', async () => {
    expect(ids(await listInstances(db, MEMBER_A, { name: 'WEB' }, { limit: 10 }))).toEqual([
      'web-3',
      'Web-2',
    ]);
    expect(
      ids(await listInstances(db, MEMBER_A, { vmStates: ['stopped'] }, { limit: 10 })),
    ).toEqual(['Web-2']);
    expect(ids(await listInstances(db, MEMBER_A, { vmStates: [] }, { limit: 10 }))).toEqual([]);
    await expect(listInstances(db, MEMBER_A, {}, { limit: 1, marker: 'nope' })).rejects.toThrow(
      'marker [nope] not found',
    );
    // Another project's instance is no marker either.
    await expect(
      listInstances(db, MEMBER_A, {}, { limit: 1, marker: rows[4]!.id }),
    ).rejects.toThrow(ValidationError);
  });

  it("lists an instance's actions newest first and keeps tracebacks for admins only", async () => {
    const list = await listInstanceActions(db, MEMBER_A, { instanceId: rows[0]!.id });
    expect(list.map((a) => a.requestId)).toEqual(['req-2', 'req-1']);
    await expect(listInstanceActions(db, MEMBER_B, { instanceId: rows[0]!.id })).rejects.toThrow(
      InstanceNotFoundError,
    );
    const asMember = await getInstanceAction(db, MEMBER_A, rows[0]!.id, 'req-1');
    expect(asMember?.events.map((e) => [e.event, e.result, e.traceback])).toEqual([
      ['compute_snapshot_instance', 'Error', null],
    ]);
    const asAdmin = await getInstanceAction(db, ADMIN_A, rows[0]!.id, 'req-1');
    expect(asAdmin?.events[0]?.traceback).toBe('snapshot failed at extract: boom');
    expect(await getInstanceAction(db, MEMBER_A, rows[0]!.id, 'req-none')).toBeNull();

    const loaded = await loadInstanceActions(db, MEMBER_B, [rows[0]!.id, rows[4]!.id]);
    expect(loaded.get(rows[0]!.id)).toEqual([]);
    const mine = await loadInstanceActions(db, MEMBER_A, [rows[0]!.id]);
    expect(mine.get(rows[0]!.id)?.map((a) => [a.action.requestId, a.events.length])).toEqual([
      ['req-2', 0],
      ['req-1', 1],
    ]);
  });
});

describe('the actions command table', () => {
  it('gives one line per event, and one for an action without events', () => {
    const action = (requestId: string, events: ActionRow['events']): ActionRow => ({
      action: 'createImage',
      instance_uuid: 'i',
      request_id: requestId,
      user_id: 'u',
      project_id: 'p',
      start_time: 't',
      message: null,
      events,
    });
    const e = {
      event: 'compute_snapshot_instance',
      start_time: 't',
      finish_time: 't',
      result: 'Success',
    };
    const lines = actionTableLines([action('a', [e]), action('b', [])]);
    expect(lines.map((l) => [l.action.request_id, l.event?.event ?? null])).toEqual([
      ['a', 'compute_snapshot_instance'],
      ['b', null],
    ]);
  });
});
