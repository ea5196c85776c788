import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresTarget } from '../../src/database/database-target';
import { dumpViews } from '../../src/projections/view-dump';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import { queryRows, startPostgres, type PostgresServer } from '../support/postgres-server';
import { startSecondLibvirtd, type SecondLibvirtd } from '../support/second-libvirtd';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, TEST_LIBVIRT_URI, type TestDomain } from '../support/test-domain';

const COMPUTE = { 'OpenStack-API-Version': 'compute 2.45' };

/**
 * The scale-out topology on one machine: one PostgreSQL, one `serve --role api` and two
 * agents, host-a on the machine's libvirtd and host-b on a second libvirtd in its own mount
 * namespace (test/support/second-libvirtd.ts), each with its own domain. Every process has
 * its own data directory; they share the database and the image directory.
 */
describe('one API and two agents on one PostgreSQL', () => {
  let server: PostgresServer;
  let url: string;
  let libvirtB: SecondLibvirtd;
  let imageDir: string;
  let api: ServiceProcess;
  let agentA: ServiceProcess;
  let agentB: ServiceProcess;
  let domainA: TestDomain;
  let domainB: TestDomain;
  const shared = () => ({ SNAPLEDGER_DATABASE_URL: url, SNAPLEDGER_IMAGE_DIR: imageDir });
  const startAgentA = () =>
    agentA.start({ ...shared(), SNAPLEDGER_LIVE_SNAPSHOT: 'off' }, [
      'agent',
      '--host',
      'host-a',
      '--libvirt-uri',
      TEST_LIBVIRT_URI,
    ]);
  const startAgentB = (env: Record<string, string> = {}) =>
    agentB.start({ ...shared(), SNAPLEDGER_LIVE_SNAPSHOT: 'off', ...env }, [
      'agent',
      '--host',
      'host-b',
      '--libvirt-uri',
      libvirtB.uri,
    ]);
  // An API process never talks to libvirt: it is given one that cannot answer, and is ready.
  const NO_LIBVIRT = {
    SNAPLEDGER_LIBVIRT_URI: 'qemu+unix:///system?socket=/nonexistent/snapledger/libvirt-sock',
  };
  const startApi = () => api.start({ ...shared(), ...NO_LIBVIRT }, ['serve', '--role', 'api']);

  async function createImage(domain: TestDomain, name: string): Promise<string> {
    const res = await api.api<{ image_id: string }>('POST', `/v2.1/servers/${domain.uuid}/action`, {
      body: { createImage: { name } },
      headers: COMPUTE,
    });
    expect(res.status).toBe(202);
    return res.body.image_id;
  }

  async function hostsUp(): Promise<Record<string, string>> {
    const res = await api.api<{ services: { host: string; state: string }[] }>(
      'GET',
      '/v2.1/os-services',
    );
    expect(res.status).toBe(200);
    return Object.fromEntries(res.body.services.map((s) => [s.host, s.state]));
  }

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase();
    libvirtB = await startSecondLibvirtd();
    imageDir = await mkdtemp(join(tmpdir(), 'snapledger-images-'));
    api = await ServiceProcess.create();
    agentA = await ServiceProcess.create();
    agentB = await ServiceProcess.create();
    domainA = await createTestDomain({ name: 'host-a', start: true });
    domainB = await createTestDomain({ name: 'host-b', start: true, uri: libvirtB.uri });
    await startApi();
    await startAgentA();
    await startAgentB();
  }, 180_000);

  afterAll(async () => {
    for (const p of [agentA, agentB, api]) await p?.dispose();
    await domainA?.destroy();
    await domainB?.destroy();
    await libvirtB?.stop();
    await server?.stop();
    if (imageDir) await rm(imageDir, { recursive: true, force: true });
  });

  it("records each domain on its own agent's host, and lists both hosts up", async () => {
    const hostsOf = async () => {
      const res = await api.api<{ instances: { id: string; host: string | null }[] }>(
        'GET',
        '/v1/instances',
      );
      const hosts = new Map(res.body.instances.map((i) => [i.id, i.host]));
      return [hosts.get(domainA.uuid), hosts.get(domainB.uuid)];
    };
    await expect.poll(hostsOf, { timeout: 30_000 }).toEqual(['host-a', 'host-b']);
    expect(await hostsUp()).toMatchObject({ 'host-a': 'up', 'host-b': 'up' });
    // The API process has no libvirt: a sync through it says where syncs happen.
    const sync = await api.api<{ message?: string }>('POST', '/v1/admin/instances/sync');
    expect(sync.status).toBe(409);
    expect(JSON.stringify(sync.body)).toMatch(/each host's agent syncs its instances/);
    // Ready without libvirt (it was given one that cannot answer): readiness does not ask it.
    const ready = await api.api<{ status: string; info: Record<string, unknown> }>(
      'GET',
      '/readyz',
      { token: null },
    );
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.info).sort()).toEqual(['eventStore', 'projections']);
  });

  it("snapshots both hosts at once, each carried out by its own host's agent", async () => {
    const [imageA, imageB] = await Promise.all([
      createImage(domainA, 'on-a'),
      createImage(domainB, 'on-b'),
    ]);
    const [rowA, rowB] = await Promise.all([
      api.waitForSnapshot(domainA.uuid, imageA),
      api.waitForSnapshot(domainB.uuid, imageB),
    ]);
    expect([rowA.result, rowB.result]).toEqual(['active', 'active']);
    // Each agent recorded the snapshot it ran in the shared process table, under its host.
    const processes = await queryRows<{ image_id: string; host: string }>(
      url,
      'SELECT "imageId" AS image_id, host FROM service_state.snapshot_process',
    );
    const runBy = Object.fromEntries(processes.map((p) => [p.image_id, p.host]));
    expect(runBy[imageA]).toBe('host-a');
    expect(runBy[imageB]).toBe('host-b');
    // host-b's domain lives only in the second libvirtd: host-a's cannot even see it.
    expect(await domainB.state()).toBe('running');
    const download = await api.api('GET', `/v2/images/${imageB}`);
    expect((download.body as { status: string }).status).toBe('active');
  });

  /** Runs a snapledger command on the shared database with a data directory of its own. */
  async function onSharedDatabase(args: string[]) {
    const dataDir = await mkdtemp(join(tmpdir(), 'snapledger-cli-'));
    try {
      return await api.cli(args, {
        ...shared(),
        SNAPLEDGER_DATA_DIR: dataDir,
        SNAPLEDGER_PORT: '0',
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  it('refuses a second agent for a host, naming the one that holds it', async () => {
    const second = await onSharedDatabase(['agent', '--host', 'host-a']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(`^snapledger: the lease agent:host-a is held by pid ${agentA.pid} on \\S+ since `),
    );
  });

  it('refuses an all-in-one serve on the same database, which would run every host', async () => {
    const aio = await onSharedDatabase(['serve']);
    expect(aio.code).toBe(1);
    expect(aio.stderr).toMatch(
      /^snapledger: another snapledger process keeps this database's views \(the lease views is held by pid \d+ .*start this one with --role api\n$/,
    );
  });

  it('keeps a snapshot queued while its agent is down, shows the host down, and runs it when the agent is back', async () => {
    await agentB.stop();
    expect(await hostsUp()).toMatchObject({ 'host-a': 'up', 'host-b': 'down' });
    const imageId = await createImage(domainB, 'while-b-is-down');
    // host-a's agent reads the log in order: once it has finished a snapshot asked for after
    // this one, it has seen this one too, and left it alone.
    const later = await createImage(domainA, 'after-the-queued-one');
    expect((await api.waitForSnapshot(domainA.uuid, later)).result).toBe('active');
    const image = await api.api<{ status: string }>('GET', `/v2/images/${imageId}`);
    expect(image.body.status).toBe('queued');
    const server = await api.api<{ server: Record<string, unknown> }>(
      'GET',
      `/v2.1/servers/${domainB.uuid}`,
      { headers: COMPUTE },
    );
    expect(server.body.server['OS-EXT-STS:task_state']).toBe('image_snapshot_pending');
    await startAgentB();
    const row = await api.waitForSnapshot(domainB.uuid, imageId);
    expect(row.result).toBe('active');
    expect(await hostsUp()).toMatchObject({ 'host-b': 'up' });
  });

  it('resumes a snapshot whose agent was SIGKILLed in the middle, once the agent restarts', async () => {
    await agentB.stop();
    // The agent kills itself (SIGKILL) right after it has managed-saved the domain.
    await startAgentB({ SNAPLEDGER_FAULTS: 'after-append:DomainSaved' });
    const imageId = await createImage(domainB, 'agent-killed');
    const exit = await agentB.waitForExit(60_000);
    expect(exit.signal).toBe('SIGKILL');
    expect(await domainB.state()).toBe('shut off'); // saved, not restored yet
    await startAgentB();
    const row = await api.waitForSnapshot(domainB.uuid, imageId);
    expect(row.result).toBe('active');
    expect(await domainB.state()).toBe('running');
  });

  it('serves from a second API process, which takes the views over when the first stops', async () => {
    const second = await ServiceProcess.create();
    try {
      // Tokens are in the shared database: the first API's admin token is valid here too.
      await writeFile(join(second.dataDir, 'admin-token'), api.adminToken, { mode: 0o600 });
      await second.start(shared(), ['serve', '--role', 'api']);
      expect(second.logs).toMatch(/another API process keeps the views/);
      // Read-your-writes through the process that does not keep the views.
      const imageId = await (async () => {
        const res = await second.api<{ image_id: string }>(
          'POST',
          `/v2.1/servers/${domainA.uuid}/action`,
          { body: { createImage: { name: 'via-standby' } }, headers: COMPUTE },
        );
        expect(res.status).toBe(202);
        return res.body.image_id;
      })();
      const seen = await second.api<{ status: string }>('GET', `/v2/images/${imageId}`);
      expect(seen.status).toBe(200);
      expect((await second.waitForSnapshot(domainA.uuid, imageId)).result).toBe('active');
      // The keeper stops: the standby takes the lease and the views follow new snapshots.
      await api.stop();
      await expect
        .poll(() => second.logs.includes('took over the views lease'), { timeout: 10_000 })
        .toBe(true);
      const after = await second.api<{ image_id: string }>(
        'POST',
        `/v2.1/servers/${domainB.uuid}/action`,
        { body: { createImage: { name: 'after-takeover' } }, headers: COMPUTE },
      );
      expect(after.status).toBe(202);
      expect((await second.waitForSnapshot(domainB.uuid, after.body.image_id)).result).toBe(
        'active',
      );
    } finally {
      await second.dispose();
      await startApi();
    }
  });

  it('loses no acknowledged request when the API process is SIGKILLed', async () => {
    const imageId = await createImage(domainA, 'api-killed');
    await api.kill();
    await startApi();
    const row = await api.waitForSnapshot(domainA.uuid, imageId);
    expect(row.result).toBe('active');
  });

  it('has views equal to a rebuild from the log', async () => {
    await api.stop();
    const views = createViewsDataSource(postgresTarget(url));
    await views.initialize();
    try {
      const before = await dumpViews(views);
      const rebuild = await api.cli(['projections', 'rebuild'], shared());
      expect(rebuild.code).toBe(0);
      const after = await dumpViews(views);
      expect(after).toEqual(before);
      expect(before['snapshot_history']?.length).toBe(8);
    } finally {
      await views.destroy();
    }
  });
});
