import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtd, stopLibvirtd } from '../support/libvirtd-control';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, runVirsh, type TestDomain } from '../support/test-domain';

const PROJECT = 'proj-lifecycle';
const NOVA_45 = { 'OpenStack-API-Version': 'compute 2.45' };

interface Server {
  id: string;
  status: string;
  'OS-EXT-STS:vm_state': string;
  'OS-EXT-STS:power_state': number;
}

/**
 * Instances follow libvirt's own lifecycle (issue 14), on real domains: changes made by hand
 * with virsh reach the API within 2 s without a sync call; an undefined domain's instance is
 * deleted (404 everywhere, as in Nova, its images and history still readable); a domain
 * defined again with the same uuid comes back with its history; after a libvirtd restart the
 * service still follows.
 */
describe('instances follow libvirt', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let member: string;
  let imageId: string;

  beforeAll(async () => {
    domain = await createTestDomain({
      name: 'lifecycle',
      start: true,
      owner: { via: 'snapledger', projectId: PROJECT, userId: 'u-life' },
    });
    service = await ServiceProcess.create();
    await service.start();
    member = await service.createToken(PROJECT, 'u-life');
    // Registered by the start-up sync.
    await until('the instance is registered', async () => (await server()).status === 200);
  }, 120_000);

  afterAll(async () => {
    if (!(await libvirtUp())) await startLibvirtd();
    await service?.dispose();
    await domain?.destroy();
  });

  const libvirtUp = async () =>
    runVirsh(domain.uri, ['uri'], 5_000).then(
      () => true,
      () => false,
    );

  function server(token: string | null = member) {
    return service.api<{ server: Server }>('GET', `/v2.1/servers/${domain.uuid}`, {
      token: token ?? undefined,
      headers: NOVA_45,
    });
  }

  async function until(what: string, check: () => Promise<boolean>, ms = 30_000) {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await delay(50);
    }
  }

  /** Runs a virsh command on the domain, then how long until the server shows `status`. */
  async function byHand(command: string[], status: string): Promise<number> {
    await runVirsh(domain.uri, command);
    const done = Date.now();
    await until(`status ${status} after virsh ${command[0]}`, async () => {
      const res = await server();
      return res.status === 200 && res.body.server.status === status;
    });
    return Date.now() - done;
  }

  it('takes a snapshot to keep in the history', async () => {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      { token: member, headers: NOVA_45, body: { createImage: { name: 'before-it-goes' } } },
    );
    expect(res.status).toBe(202);
    imageId = res.body.image_id;
    expect((await service.waitForSnapshot(domain.uuid, imageId)).result).toBe('active');
  });

  it('shows suspend, resume, managed save, start and destroy done by hand within 2 s, with no sync call', async () => {
    const id = domain.uuid;
    const seen: Record<string, number> = {};
    seen.suspend = await byHand(['suspend', '--domain', id], 'PAUSED');
    seen.resume = await byHand(['resume', '--domain', id], 'ACTIVE');
    seen.managedsave = await byHand(['managedsave', '--domain', id], 'SUSPENDED');
    seen.start = await byHand(['start', '--domain', id], 'ACTIVE');
    seen.destroy = await byHand(['destroy', '--domain', id], 'SHUTOFF');
    seen.startAgain = await byHand(['start', '--domain', id], 'ACTIVE');
    for (const [what, ms] of Object.entries(seen)) expect(ms, what).toBeLessThan(2_000);
    // Recorded as the power-state changes they are, by the system actor.
    const synced = service
      .events()
      .filter((e) => e.type === 'PowerStateSynced' && e.stream_name === `instance-${id}`);
    expect(synced.length).toBeGreaterThanOrEqual(6);
  });

  it('deletes the instance when its domain is undefined: 404 on show, actions and GraphQL, gone from lists', async () => {
    const xml = await runVirsh(domain.uri, ['dumpxml', '--domain', domain.uuid, '--inactive']);
    await writeFile(join(domain.workDir, 'saved.xml'), xml);
    await runVirsh(domain.uri, ['destroy', '--domain', domain.uuid]);
    await runVirsh(domain.uri, ['undefine', '--domain', domain.uuid, '--managed-save']);
    const undefinedAt = Date.now();
    await until('the server is gone', async () => (await server()).status === 404, 10_000);
    expect(Date.now() - undefinedAt).toBeLessThan(2_000);

    const gone = await server();
    expect(gone.body).toEqual({
      itemNotFound: { code: 404, message: `Instance ${domain.uuid} could not be found.` },
    });
    for (const action of [
      { createImage: { name: 'too-late' } },
      { createBackup: { name: 'too-late', backup_type: 'daily', rotation: 1 } },
    ]) {
      const res = await service.api('POST', `/v2.1/servers/${domain.uuid}/action`, {
        token: member,
        headers: NOVA_45,
        body: action,
      });
      expect(res.status, JSON.stringify(action)).toBe(404);
    }
    const gql = await service.api<{ data: { instance: unknown } }>('POST', '/graphql', {
      token: member,
      body: {
        query: 'query($id: ID!) { instance(id: $id) { id } }',
        variables: { id: domain.uuid },
      },
    });
    expect(gql.status).toBe(200);
    expect(gql.body.data.instance).toBeNull();
    const list = await service.api<{ servers: { id: string }[] }>('GET', '/v2.1/servers', {
      token: member,
    });
    expect(list.body.servers.map((s) => s.id)).not.toContain(domain.uuid);
    const native = await service.api<{ instances: { id: string }[] }>('GET', '/v1/instances', {
      token: member,
    });
    expect(native.body.instances.map((i) => i.id)).not.toContain(domain.uuid);

    // Admins still see it, as Nova shows deleted servers: deleted=true, or changes-since.
    const admin = await service.api<{ servers: Server[] }>(
      'GET',
      '/v2.1/servers/detail?all_tenants=1&deleted=true',
    );
    const row = admin.body.servers.find((s) => s.id === domain.uuid);
    expect(row).toMatchObject({ status: 'DELETED', 'OS-EXT-STS:vm_state': 'deleted' });
    const since = new Date(undefinedAt - 60_000).toISOString();
    const changed = await service.api<{ servers: Server[] }>(
      'GET',
      `/v2.1/servers/detail?changes-since=${encodeURIComponent(since)}`,
      { token: member },
    );
    expect(changed.body.servers.map((s) => s.id)).toContain(domain.uuid);
    const forbidden = await service.api('GET', '/v2.1/servers?status=DELETED', { token: member });
    expect(forbidden.status).toBe(403);

    // Its image and its history stay, and the history says the instance was deleted.
    const image = await service.api<{ status: string }>('GET', `/v2/images/${imageId}`, {
      token: member,
    });
    expect(image.body.status).toBe('active');
    const history = await service.api<{
      snapshots: { image_id: string; instance_deleted_at: string | null }[];
    }>('GET', `/v1/instances/${domain.uuid}/snapshots`, { token: member });
    expect(history.status).toBe(200);
    expect(history.body.snapshots[0]).toMatchObject({ image_id: imageId });
    expect(history.body.snapshots[0].instance_deleted_at).not.toBeNull();
    const deleted = service.events().filter((e) => e.type === 'InstanceDeleted');
    expect(deleted.map((e) => JSON.parse(e.data) as unknown)).toEqual([
      { instanceId: domain.uuid, domainName: domain.name, seen: 'undefined' },
    ]);
  });

  it('brings the same instance back, with its history, when the uuid is defined again', async () => {
    await runVirsh(domain.uri, ['define', join(domain.workDir, 'saved.xml')]);
    await until('the server is back', async () => (await server()).status === 200, 10_000);
    expect((await server()).body.server).toMatchObject({ id: domain.uuid, status: 'SHUTOFF' });
    const history = await service.api<{
      snapshots: { image_id: string; instance_deleted_at: string | null }[];
    }>('GET', `/v1/instances/${domain.uuid}/snapshots`, { token: member });
    expect(history.body.snapshots).toEqual([
      expect.objectContaining({ image_id: imageId, instance_deleted_at: null }),
    ]);
    expect(service.events().filter((e) => e.type === 'InstanceRestored')).toHaveLength(1);
    await runVirsh(domain.uri, ['start', '--domain', domain.uuid]);
    await until('ACTIVE again', async () => (await server()).body.server?.status === 'ACTIVE');
  });

  it('leaves domains outside SNAPLEDGER_DOMAINS alone, and does not delete an instance whose domain leaves it', async () => {
    // This worker's services see only `sl-test-w<N>-*` (test/support/worker-domain-scope.ts).
    const other = await createTestDomain({
      name: 'scope',
      owner: { via: 'snapledger', projectId: PROJECT, userId: 'u-life' },
    });
    try {
      await until('the in-scope domain is registered', async () => {
        const res = await service.api('GET', `/v2.1/servers/${other.uuid}`, { token: member });
        return res.status === 200;
      });
      const outside = `sl-test-outside-${other.uuid.slice(0, 8)}`;
      expect(process.env['SNAPLEDGER_DOMAINS']).toMatch(/^sl-test-w\d+-\*$/);
      await runVirsh(other.uri, ['domrename', '--domain', other.uuid, '--new-name', outside]);
      const before = service.events().length;
      const sync = await service.api<{
        seen: number;
        deleted: string[];
        registered: string[];
        outOfScope: string[];
      }>('POST', '/v1/admin/instances/sync');
      expect(sync.status).toBe(200);
      expect(sync.body.deleted).toEqual([]);
      expect(sync.body.outOfScope).toContain(outside);
      // Still there, as it was: out of scope is not gone.
      const kept = await service.api<{ server: Server }>('GET', `/v2.1/servers/${other.uuid}`, {
        token: member,
      });
      expect(kept.status).toBe(200);
      expect(
        service
          .events()
          .slice(before)
          .map((e) => e.type),
      ).toEqual([]);

      // A domain defined outside the scope is never registered.
      const stranger = await createTestDomain({ name: 'stranger', outsideWorkerScope: true });
      try {
        const again = await service.api<{ registered: string[] }>(
          'POST',
          '/v1/admin/instances/sync',
        );
        expect(again.status).toBe(200);
        expect(again.body.registered).toEqual([]);
        const res = await service.api('GET', `/v2.1/servers/${stranger.uuid}`, { token: member });
        expect(res.status).toBe(404);
        expect(service.events().filter((e) => e.stream_name.includes(stranger.uuid))).toEqual([]);
      } finally {
        await stranger.destroy();
      }
    } finally {
      await other.destroy();
    }
  });

  it('still follows libvirt after libvirtd restarts (runs last: it disturbs the host)', async () => {
    await stopLibvirtd();
    await startLibvirtd();
    // The event stream reconnects, then everything is synced; then it follows as before.
    await until(
      'the event stream to be back and libvirt synced',
      async () => /libvirt event stream is back[\s\S]*libvirt instances synced/.test(service.logs),
      60_000,
    );
    expect(await byHand(['suspend', '--domain', domain.uuid], 'PAUSED')).toBeLessThan(2_000);
    expect(await byHand(['resume', '--domain', domain.uuid], 'ACTIVE')).toBeLessThan(2_000);
  });
});
