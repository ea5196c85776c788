import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/** Links must come from SNAPLEDGER_PUBLIC_URL, never from the address the request used. */
const PUBLIC_URL = 'https://compute.example.test:8443';
const ENV = { SNAPLEDGER_PUBLIC_URL: PUBLIC_URL };

type Server = Record<string, unknown> & { id: string; name: string };
interface ServerPage {
  servers: Server[];
  servers_links?: { rel: string; href: string }[];
}
interface Action {
  action: string;
  instance_uuid: string;
  request_id: string;
  user_id: string;
  project_id: string;
  start_time: string;
  message: string | null;
}
interface ActionEvent {
  event: string;
  start_time: string;
  finish_time: string | null;
  result: string | null;
  traceback?: string | null;
}

const V245 = { 'OpenStack-API-Version': 'compute 2.45' };
const NOVA_DB_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

/**
 * The Nova compute subset (version documents, microversions, servers, instance actions) and
 * the `instances` / `actions` CLI commands, against a real service, real QEMU domains and
 * real snapshots: one that succeeds and one that fails at an injected fault.
 */
describe('Nova compute API', () => {
  let service: ServiceProcess;
  let running: TestDomain;
  let stopped: TestDomain;
  const project = `pa-${randomBytes(3).toString('hex')}`;
  const tokens = { member: '', admin: '', other: '' };
  let okRequestId: string;
  let failedRequestId: string;

  const token = (projectId: string, user: string, roles: string[]) =>
    service.createToken(projectId, user, roles);

  /** createImage as the project's member; resolves with the request id once it has settled. */
  async function snapshot(domain: TestDomain, name: string): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      { token: tokens.member, body: { createImage: { name } }, headers: V245 },
    );
    expect(res.status).toBe(202);
    await service.waitForSnapshot(domain.uuid, res.body.image_id);
    const requestId = res.headers.get('x-openstack-request-id');
    expect(requestId).toMatch(/^req-[0-9a-f-]{36}$/);
    return requestId!;
  }

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start(ENV);
    const owner = { projectId: project, userId: 'alice', via: 'nova' as const };
    running = await createTestDomain({ name: 'compute-run', start: true, owner });
    stopped = await createTestDomain({ name: 'compute-off', owner });
    const known = await service.syncInstances();
    expect(known).toEqual(expect.arrayContaining([running.uuid, stopped.uuid]));
    tokens.member = await token(project, 'alice', ['member']);
    tokens.admin = await token(project, 'root', ['admin', 'member']);
    tokens.other = await token(`pb-${project}`, 'bob', ['member']);
  });

  afterAll(async () => {
    await service?.dispose();
    await running?.destroy();
    await stopped?.destroy();
  });

  describe('version documents', () => {
    it('GET / lists v2.1 without a token, linked from the public URL', async () => {
      const res = await service.api<{ versions: Record<string, unknown>[] }>('GET', '/', {
        token: null,
      });
      expect(res.status).toBe(200);
      expect(res.body.versions).toEqual([
        {
          id: 'v2.1',
          status: 'CURRENT',
          version: '2.92',
          min_version: '2.1',
          updated: '2013-07-23T11:33:21Z',
          links: [{ rel: 'self', href: `${PUBLIC_URL}/v2.1/` }],
        },
      ]);
    });

    it('GET /v2.1 and /v2.1/ give the version document and negotiate the microversion', async () => {
      for (const path of ['/v2.1', '/v2.1/']) {
        const res = await service.api<{ version: Record<string, unknown> }>('GET', path, {
          token: null,
          headers: { 'X-OpenStack-Nova-API-Version': '2.10' },
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-openstack-nova-api-version')).toBe('2.10');
        expect(res.body.version).toMatchObject({
          id: 'v2.1',
          status: 'CURRENT',
          version: '2.92',
          min_version: '2.1',
          'media-types': [
            {
              base: 'application/json',
              type: 'application/vnd.openstack.compute+json;version=2.1',
            },
          ],
        });
        expect((res.body.version.links as { rel: string; href: string }[])[0]).toEqual({
          rel: 'self',
          href: `${PUBLIC_URL}/v2.1/`,
        });
      }
    });
  });

  describe('microversions', () => {
    it('echoes the negotiated version in both headers, for either request header', async () => {
      const modern = await service.api('GET', '/v2.1/servers', {
        token: tokens.member,
        headers: { 'OpenStack-API-Version': 'compute 2.25' },
      });
      expect(modern.status).toBe(200);
      expect(modern.headers.get('openstack-api-version')).toBe('compute 2.25');
      expect(modern.headers.get('x-openstack-nova-api-version')).toBe('2.25');
      const legacy = await service.api('GET', `/v2.1/servers/${running.uuid}`, {
        token: tokens.member,
        headers: { 'X-OpenStack-Nova-API-Version': 'latest' },
      });
      expect(legacy.headers.get('openstack-api-version')).toBe('compute 2.92');
      const none = await service.api('GET', '/v2.1/servers/detail', { token: tokens.member });
      expect(none.headers.get('x-openstack-nova-api-version')).toBe('2.1');
    });

    it('answers 406 for an unsupported version and 400 for a malformed one, in Nova shape', async () => {
      const tooNew = await service.api<Record<string, { code: number; message: string }>>(
        'GET',
        '/v2.1/servers',
        { token: tokens.member, headers: { 'OpenStack-API-Version': 'compute 2.99' } },
      );
      expect(tooNew.status).toBe(406);
      expect(tooNew.body.notAcceptable?.code).toBe(406);
      const garbage = await service.api<Record<string, { code: number }>>(
        'GET',
        `/v2.1/servers/${running.uuid}/os-instance-actions`,
        { token: tokens.member, headers: { 'X-OpenStack-Nova-API-Version': 'two' } },
      );
      expect(garbage.status).toBe(400);
      expect(garbage.body.badRequest?.code).toBe(400);
    });
  });

  describe('servers', () => {
    it('lists the project servers as id, name and links', async () => {
      const res = await service.api<ServerPage>('GET', '/v2.1/servers', { token: tokens.member });
      expect(res.status).toBe(200);
      expect(res.body.servers.map((s) => s.id).sort()).toEqual([running.uuid, stopped.uuid].sort());
      const server = res.body.servers.find((s) => s.id === running.uuid)!;
      expect(server).toEqual({
        id: running.uuid,
        name: running.name,
        links: [
          { rel: 'self', href: `${PUBLIC_URL}/v2.1/servers/${running.uuid}` },
          { rel: 'bookmark', href: `${PUBLIC_URL}/servers/${running.uuid}` },
        ],
      });
      expect(res.body.servers_links).toBeUndefined();
    });

    it('shows details with the OS-EXT-STS fields; OS-EXT-SRV-ATTR only to an admin', async () => {
      const asMember = await service.api<ServerPage>('GET', '/v2.1/servers/detail', {
        token: tokens.member,
        headers: V245,
      });
      expect(asMember.status).toBe(200);
      const run = asMember.body.servers.find((s) => s.id === running.uuid)!;
      expect(run).toMatchObject({
        name: running.name,
        status: 'ACTIVE',
        tenant_id: project,
        user_id: 'alice',
        metadata: {},
        image: '',
        addresses: {},
        accessIPv4: '',
        accessIPv6: '',
        'OS-EXT-STS:vm_state': 'active',
        'OS-EXT-STS:power_state': 1,
        'OS-EXT-STS:task_state': null,
        'OS-EXT-AZ:availability_zone': 'nova',
        flavor: { id: '1c128m' },
        locked: false,
      });
      expect(run.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(run.hostId).toMatch(/^[0-9a-f]{56}$/);
      expect(run).not.toHaveProperty('OS-EXT-SRV-ATTR:host');
      const off = asMember.body.servers.find((s) => s.id === stopped.uuid)!;
      expect(off).toMatchObject({
        status: 'SHUTOFF',
        'OS-EXT-STS:vm_state': 'stopped',
        'OS-EXT-STS:power_state': 4,
      });

      const asAdmin = await service.api<{ server: Server }>(
        'GET',
        `/v2.1/servers/${running.uuid}`,
        { token: tokens.admin },
      );
      expect(asAdmin.status).toBe(200);
      expect(asAdmin.body.server['OS-EXT-SRV-ATTR:host']).toEqual(expect.any(String));
      expect(asAdmin.body.server['OS-EXT-SRV-ATTR:instance_name']).toBe(running.name);
      const shownToMember = await service.api<{ server: Server }>(
        'GET',
        `/v2.1/servers/${running.uuid}`,
        { token: tokens.member },
      );
      expect(shownToMember.body.server).not.toHaveProperty('OS-EXT-SRV-ATTR:host');
      expect(shownToMember.body.server.status).toBe('ACTIVE');
    });

    it('pages with limit and marker through servers_links', async () => {
      const seen: string[] = [];
      let path: string | undefined = '/v2.1/servers/detail?limit=1';
      let pages = 0;
      while (path) {
        const res: { status: number; body: ServerPage } = await service.api<ServerPage>(
          'GET',
          path,
          { token: tokens.member },
        );
        expect(res.status).toBe(200);
        expect(res.body.servers).toHaveLength(pages < 2 ? 1 : 0);
        seen.push(...res.body.servers.map((s) => s.id));
        const next = res.body.servers_links?.find((l) => l.rel === 'next')?.href;
        if (next) {
          expect(next.startsWith(`${PUBLIC_URL}/v2.1/servers/detail?limit=1&marker=`)).toBe(true);
          path = next.slice(PUBLIC_URL.length);
        } else path = undefined;
        pages += 1;
      }
      expect(pages).toBe(2);
      expect(seen.sort()).toEqual([running.uuid, stopped.uuid].sort());
    });

    it('rejects a bad limit and an unknown marker with 400', async () => {
      const bad = await service.api<{ badRequest: { message: string } }>(
        'GET',
        '/v2.1/servers?limit=-3',
        { token: tokens.member },
      );
      expect(bad.status).toBe(400);
      const marker = await service.api<{ badRequest: { message: string } }>(
        'GET',
        '/v2.1/servers?marker=no-such-server',
        { token: tokens.member },
      );
      expect(marker.status).toBe(400);
      expect(marker.body.badRequest.message).toBe('marker [no-such-server] not found');
    });

    it('filters by name and status', async () => {
      const byName = await service.api<ServerPage>(
        'GET',
        `/v2.1/servers?name=${encodeURIComponent('compute-off')}`,
        { token: tokens.member },
      );
      expect(byName.body.servers.map((s) => s.id)).toEqual([stopped.uuid]);
      const byStatus = await service.api<ServerPage>('GET', '/v2.1/servers?status=ACTIVE', {
        token: tokens.member,
      });
      expect(byStatus.body.servers.map((s) => s.id)).toEqual([running.uuid]);
    });

    it('scopes to the project; all_tenants is for admins; another project gets 404', async () => {
      const ownOnly = await service.api<ServerPage>('GET', '/v2.1/servers', {
        token: service.adminToken, // an admin of the default project
      });
      expect(ownOnly.body.servers.map((s) => s.id)).not.toContain(running.uuid);
      const all = await service.api<ServerPage>('GET', '/v2.1/servers?all_tenants=1', {
        token: service.adminToken,
      });
      expect(all.body.servers.map((s) => s.id)).toEqual(
        expect.arrayContaining([running.uuid, stopped.uuid]),
      );
      const oneProject = await service.api<ServerPage>(
        'GET',
        `/v2.1/servers?all_tenants=true&project_id=${project}`,
        { token: service.adminToken },
      );
      expect(oneProject.body.servers.map((s) => s.id).sort()).toEqual(
        [running.uuid, stopped.uuid].sort(),
      );

      const forbidden = await service.api('GET', '/v2.1/servers?all_tenants=1', {
        token: tokens.other,
      });
      expect(forbidden.status).toBe(403);
      const others = await service.api<ServerPage>('GET', '/v2.1/servers', {
        token: tokens.other,
      });
      expect(others.body.servers).toEqual([]);
      const hidden = await service.api<{ itemNotFound: { code: number } }>(
        'GET',
        `/v2.1/servers/${running.uuid}`,
        { token: tokens.other },
      );
      expect(hidden.status).toBe(404);
      expect(hidden.body.itemNotFound.code).toBe(404);
      const unauthenticated = await service.api('GET', '/v2.1/servers', { token: null });
      expect(unauthenticated.status).toBe(401);
    });
  });

  describe('instance actions', () => {
    beforeAll(async () => {
      okRequestId = await snapshot(running, 'compute-ok');
      // The same service, restarted with a permanent fault in the conversion.
      await service.stop();
      await service.start({ ...ENV, SNAPLEDGER_FAULTS: 'fail:extract-converted' });
      failedRequestId = await snapshot(running, 'compute-doomed');
    });

    it('lists createImage actions newest first, with request id, user and project', async () => {
      const res = await service.api<{ instanceActions: Action[] }>(
        'GET',
        `/v2.1/servers/${running.uuid}/os-instance-actions`,
        { token: tokens.member, headers: V245 },
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('openstack-api-version')).toBe('compute 2.45');
      expect(res.body.instanceActions.map((a) => a.request_id)).toEqual([
        failedRequestId,
        okRequestId,
      ]);
      const ok = res.body.instanceActions[1]!;
      expect(ok).toEqual({
        action: 'createImage',
        instance_uuid: running.uuid,
        request_id: okRequestId,
        user_id: 'alice',
        project_id: project,
        start_time: expect.stringMatching(NOVA_DB_TIME),
        message: null,
      });
      expect(res.body.instanceActions[0]!.message).toBe('Error');

      const none = await service.api<{ instanceActions: Action[] }>(
        'GET',
        `/v2.1/servers/${stopped.uuid}/os-instance-actions`,
        { token: tokens.member },
      );
      expect(none.body.instanceActions).toEqual([]);
      const hidden = await service.api('GET', `/v2.1/servers/${running.uuid}/os-instance-actions`, {
        token: tokens.other,
      });
      expect(hidden.status).toBe(404);
    });

    it('shows compute_snapshot_instance Success for the snapshot that completed', async () => {
      const res = await service.api<{ instanceAction: Action & { events: ActionEvent[] } }>(
        'GET',
        `/v2.1/servers/${running.uuid}/os-instance-actions/${okRequestId}`,
        { token: tokens.member },
      );
      expect(res.status).toBe(200);
      expect(res.body.instanceAction).toMatchObject({
        action: 'createImage',
        request_id: okRequestId,
        message: null,
      });
      expect(res.body.instanceAction.events).toEqual([
        {
          event: 'compute_snapshot_instance',
          start_time: expect.stringMatching(NOVA_DB_TIME),
          finish_time: expect.stringMatching(NOVA_DB_TIME),
          result: 'Success',
        },
      ]);
      const e = res.body.instanceAction.events[0]!;
      expect(e.finish_time! >= e.start_time).toBe(true);
      expect(e.start_time >= res.body.instanceAction.start_time).toBe(true);
    });

    it('shows the failed snapshot as Error, with the traceback for admins only', async () => {
      const path = `/v2.1/servers/${running.uuid}/os-instance-actions/${failedRequestId}`;
      const asMember = await service.api<{ instanceAction: Action & { events: ActionEvent[] } }>(
        'GET',
        path,
        { token: tokens.member },
      );
      expect(asMember.body.instanceAction.message).toBe('Error');
      expect(asMember.body.instanceAction.events).toHaveLength(1);
      expect(asMember.body.instanceAction.events[0]).toMatchObject({
        event: 'compute_snapshot_instance',
        result: 'Error',
      });
      expect(asMember.body.instanceAction.events[0]).not.toHaveProperty('traceback');

      const asAdmin = await service.api<{ instanceAction: { events: ActionEvent[] } }>(
        'GET',
        path,
        { token: tokens.admin },
      );
      expect(asAdmin.body.instanceAction.events[0]!.traceback).toContain(
        'snapshot failed at extract: injected permanent fault at fail:extract-converted',
      );
    });

    it('answers 404 for an unknown request id', async () => {
      const res = await service.api<{ itemNotFound: { message: string } }>(
        'GET',
        `/v2.1/servers/${running.uuid}/os-instance-actions/req-00000000-0000-4000-8000-000000000000`,
        { token: tokens.member },
      );
      expect(res.status).toBe(404);
      expect(res.body.itemNotFound.message).toContain('req-00000000-0000-4000-8000-000000000000');
    });
  });

  describe('CLI', () => {
    it('`instances` prints a table, or JSON with --json; `instances sync` still works', async () => {
      const table = await service.cli(['instances', '--token', tokens.member]);
      expect(table.code).toBe(0);
      const header = table.stdout.split('\n').find((l) => l.includes('power_state'));
      expect(header?.replace(/[│|\s]+/g, ' ').trim()).toMatch(
        /id name project vm_state power_state task_state/,
      );
      expect(table.stdout).toContain(running.name);
      expect(table.stdout).toContain(stopped.name);
      expect(table.stdout).toContain(project);

      const json = await service.cli(['instances', 'list', '--json', '--token', tokens.member]);
      expect(json.code).toBe(0);
      const body = JSON.parse(json.stdout) as { instances: { id: string; power_state: string }[] };
      expect(body.instances.map((i) => i.id).sort()).toEqual([running.uuid, stopped.uuid].sort());

      const sync = await service.cli(['instances', 'sync']);
      expect(sync.code).toBe(0);
      expect(JSON.parse(sync.stdout)).toHaveProperty('registered');
    });

    it('`actions` lists the actions with their events, by domain name or uuid', async () => {
      const table = await service.cli(['actions', running.name, '--token', tokens.member]);
      expect(table.code).toBe(0);
      for (const text of [okRequestId, failedRequestId, 'compute_snapshot_instance', 'Success'])
        expect(table.stdout).toContain(text);
      expect(table.stdout).toMatch(/Error/);

      const json = await service.cli(['actions', running.uuid, '--json', '--token', tokens.admin]);
      expect(json.code).toBe(0);
      const body = JSON.parse(json.stdout) as {
        instance: { id: string };
        actions: (Action & { events: ActionEvent[] })[];
      };
      expect(body.instance.id).toBe(running.uuid);
      expect(body.actions.map((a) => [a.request_id, a.events.map((e) => e.result)])).toEqual([
        [failedRequestId, ['Error']],
        [okRequestId, ['Success']],
      ]);
      expect(body.actions[0]!.events[0]!.traceback).toContain('injected permanent fault');
    });

    it('exits 5 for an unknown instance', async () => {
      const res = await service.cli(['actions', 'no-such-domain', '--token', tokens.member]);
      expect(res.code).toBe(5);
      expect(res.stderr).toContain('no-such-domain');
    });
  });
});
