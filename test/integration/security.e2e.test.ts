/**
 * Security of a real `snapledger serve` with real QEMU domains in two projects:
 *   - project isolation on EVERY REST route, taken from /openapi.json so that a new route
 *     cannot be forgotten (B's ids in the path with A's token: 404; lists: none of B's data;
 *     admin-only routes: 403), plus the GraphQL mutation (the root query fields are covered
 *     by graphql.e2e.test.ts);
 *   - roles: reader only reads, member snapshots its own instances, admin sees everything
 *     and the raw events;
 *   - tokens expire, can be revoked (`snapledger token revoke`), are stored hashed; the
 *     bootstrap admin-token file is 0600;
 *   - the data directory is created 0700 and every database file is 0600.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

const suffix = randomUUID().slice(0, 8);
const PROJECT_A = `sec-a-${suffix}`;
const PROJECT_B = `sec-b-${suffix}`;

/** Routes only an admin may call (403 for everyone else). */
const ADMIN_ONLY = new Set([
  'GET /v1/events',
  'GET /metrics',
  'POST /v1/admin/instances/sync',
  'GET /v2.1/os-services',
]);
/** Routes that start background work and answer 202 Accepted, not 200. */
const ACCEPTED = new Set(['POST /v1/log/verification']);
/** Routes without authentication: version documents and probes. */
const PUBLIC = new Set(['GET /', 'GET /v2.1', 'GET /image', 'GET /healthz', 'GET /readyz']);

describe('security against a real service', () => {
  let root: string;
  let service: ServiceProcess;
  let domainA: TestDomain;
  let domainB: TestDomain;
  let alice: string; // member of A
  let rita: string; // reader of A
  let bob: string; // member of B
  let imageA: string;
  let imageB: string;
  let requestB: string;
  const started = Date.now();

  const lastPosition = () => service.events().at(-1)?.position ?? 0;

  const tokenFor = (project: string, user: string, role: string, ttl?: number) =>
    service.createToken(project, user, role, ttl);

  async function snapshot(domain: TestDomain, token: string): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        token,
        body: { createImage: { name: `sec-${domain.name}` } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    const row = await service.waitForSnapshot(domain.uuid, res.body.image_id);
    expect(row.result).toBe('active');
    return res.body.image_id;
  }

  beforeAll(async () => {
    // A data directory the service must create itself, to check the mode it gives it.
    root = await mkdtemp(join(tmpdir(), 'snapledger-sec-'));
    service = await ServiceProcess.create({ dataDir: join(root, 'nested', 'data') });
    await service.start();
    domainA = await createTestDomain({
      name: 'sec-a',
      owner: { projectId: PROJECT_A, userId: 'alice', via: 'nova' },
    });
    domainB = await createTestDomain({
      name: 'sec-b',
      owner: { projectId: PROJECT_B, userId: 'bob', via: 'nova' },
    });
    const known = await service.syncInstances();
    expect(known).toEqual(expect.arrayContaining([domainA.uuid, domainB.uuid]));
    alice = await tokenFor(PROJECT_A, 'alice', 'member');
    rita = await tokenFor(PROJECT_A, 'rita', 'reader');
    bob = await tokenFor(PROJECT_B, 'bob', 'member');
    // A member snapshots its own project's instance.
    imageA = await snapshot(domainA, alice);
    imageB = await snapshot(domainB, bob);
    const actions = await service.api<{ instanceActions: { request_id: string }[] }>(
      'GET',
      `/v2.1/servers/${domainB.uuid}/os-instance-actions`,
      { token: bob },
    );
    expect(actions.status).toBe(200);
    requestB = actions.body.instanceActions[0]!.request_id;
  });

  afterAll(async () => {
    await service?.dispose();
    if (root) await rm(root, { recursive: true, force: true });
    await domainA?.destroy();
    await domainB?.destroy();
    console.log(`security.e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it("isolates projects on every REST route of the OpenAPI document: B's resources are 404 to A", async () => {
    const doc = await service.api<{ paths: Record<string, Record<string, unknown>> }>(
      'GET',
      '/openapi.json',
      { token: alice },
    );
    expect(doc.status).toBe(200);
    const secrets = [domainB.uuid, imageB, PROJECT_B, requestB];
    // What the caller sent may be echoed ("Instance <id> could not be found."); nothing else.
    const leaks = (body: unknown, sent: string) =>
      secrets.filter((s) => !sent.includes(s) && JSON.stringify(body ?? '').includes(s));
    const problems: string[] = [];
    const before = lastPosition();
    let checked = 0;
    for (const [template, methods] of Object.entries(doc.body.paths)) {
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        const route = `${method} ${template}`;
        const idOf = template.startsWith('/v2/images') || template.startsWith('/v1/images');
        const path = template
          .replace('{id}', idOf ? imageB : domainB.uuid)
          .replace('{requestId}', requestB);
        const body = template.endsWith('/action') ? { createImage: { name: 'steal' } } : undefined;
        const res = await service.api(method, path, { token: alice, body });
        checked += 1;
        let expected: string;
        if (PUBLIC.has(route)) expected = 'any';
        else if (ADMIN_ONLY.has(route)) expected = '403';
        else if (template.includes('{')) expected = '404';
        else expected = '200 without B';
        if (expected === '403' && res.status !== 403) problems.push(`${route}: ${res.status}`);
        if (expected === '404' && res.status !== 404) problems.push(`${route}: ${res.status}`);
        if (expected === '200 without B' && res.status !== (ACCEPTED.has(route) ? 202 : 200))
          problems.push(`${route}: ${res.status}`);
        if (leaks(res.body, path).length > 0)
          problems.push(`${route} leaks ${leaks(res.body, path)}`);
      }
    }
    // Lists asked explicitly for B's data.
    for (const path of [
      '/v2.1/servers?all_tenants=1',
      `/v2.1/servers/detail?all_tenants=1&project_id=${PROJECT_B}`,
      // Deleted instances: a member's deleted filter is dropped, changes-since stays in scope.
      '/v2.1/servers/detail?deleted=true&all_tenants=1',
      '/v2.1/servers/detail?changes-since=2000-01-01T00:00:00Z',
      `/v2.1/servers/detail?changes-since=2000-01-01T00:00:00Z&project_id=${PROJECT_B}`,
      '/v2.1/servers?status=DELETED',
      `/v2/images?owner=${PROJECT_B}&visibility=all`,
      `/v2/images?visibility=shared`,
      `/v1/audit?instance=${domainB.uuid}`,
      `/v1/audit?image=${imageB}`,
      `/v1/audit?project=${PROJECT_B}`,
    ]) {
      const res = await service.api('GET', path, { token: alice });
      // Refused (400/403/404) or answered with A's own data only.
      if (![200, 400, 403, 404].includes(res.status)) problems.push(`${path}: ${res.status}`);
      if (leaks(res.body, path).length > 0) problems.push(`${path} leaks ${leaks(res.body, path)}`);
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(20);
    expect(lastPosition()).toBe(before);
    // B's image survived A's DELETE, and B still sees it.
    const stillThere = await service.api<{ status: string }>('GET', `/v2/images/${imageB}`, {
      token: bob,
    });
    expect(stillThere.body.status).toBe('active');
  });

  it("downloads and streams only the caller's own images", async () => {
    const own = await fetch(`${service.baseUrl}/v2/images/${imageA}/file`, {
      headers: { 'X-Auth-Token': alice, Range: 'bytes=0-15' },
    });
    expect([200, 206]).toContain(own.status);
    await own.arrayBuffer();
    const other = await fetch(`${service.baseUrl}/v2/images/${imageB}/file`, {
      headers: { 'X-Auth-Token': alice },
    });
    expect(other.status).toBe(404);
    expect(await other.text()).toContain('<h1>404 Not Found</h1>');
    const progress = await fetch(`${service.baseUrl}/v1/images/${imageB}/progress`, {
      headers: { 'X-Auth-Token': alice, Accept: 'text/event-stream' },
    });
    expect(progress.status).toBe(404);
    await progress.arrayBuffer();
  });

  it("refuses the GraphQL createImage mutation on B's instance as not found, appending nothing", async () => {
    const before = lastPosition();
    const res = await fetch(`${service.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': alice },
      body: JSON.stringify({
        query: 'mutation($id: ID!) { createImage(instanceId: $id, name: "steal") { id } }',
        variables: { id: domainB.uuid },
      }),
    });
    const body = (await res.json()) as {
      data?: unknown;
      errors?: { extensions?: { code?: string } }[];
    };
    expect(body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(lastPosition()).toBe(before);
  });

  it('lets a reader only read: every mutating route is 403', async () => {
    const before = lastPosition();
    const reads = await service.api<{ servers: { id: string }[] }>('GET', '/v2.1/servers', {
      token: rita,
    });
    expect(reads.status).toBe(200);
    expect(reads.body.servers.map((s) => s.id)).toEqual([domainA.uuid]);
    expect((await service.api('GET', `/v2/images/${imageA}`, { token: rita })).status).toBe(200);

    const writes: [string, string, unknown, string][] = [
      ['POST', `/v2.1/servers/${domainA.uuid}/action`, { createImage: { name: 'r' } }, 'nova'],
      [
        'POST',
        `/v2.1/servers/${domainA.uuid}/action`,
        { createBackup: { name: 'r', backup_type: 'daily', rotation: 1 } },
        'nova',
      ],
      ['DELETE', `/v2/images/${imageA}`, undefined, 'glance'],
      ['POST', '/v1/admin/instances/sync', undefined, 'native'],
      ['GET', '/v1/events', undefined, 'native'],
    ];
    for (const [method, path, body, family] of writes) {
      const res = await service.api<Record<string, unknown>>(method, path, { token: rita, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      if (family === 'nova') expect(Object.keys(res.body)).toEqual(['forbidden']);
      if (family === 'glance') expect(res.body['code']).toBe('403 Forbidden');
      if (family === 'native') expect(res.body['error']).toMatchObject({ code: 403 });
    }
    const gql = await fetch(`${service.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': rita },
      body: JSON.stringify({
        query: 'mutation($id: ID!) { createImage(instanceId: $id, name: "r") { id } }',
        variables: { id: domainA.uuid },
      }),
    });
    const gqlBody = (await gql.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(gqlBody.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(lastPosition()).toBe(before);
    // The image the reader tried to delete is still active.
    const image = await service.api<{ status: string }>('GET', `/v2/images/${imageA}`);
    expect(image.body.status).toBe('active');
  });

  it('keeps the raw events and admin routes from members; an admin sees everything', async () => {
    for (const path of ['/v1/events', '/metrics', '/v2.1/os-services'])
      expect((await service.api('GET', path, { token: alice })).status, path).toBe(403);
    expect((await service.api('POST', '/v1/admin/instances/sync', { token: alice })).status).toBe(
      403,
    );

    const events = await service.api<{ events: { type: string }[] }>(
      'GET',
      '/v1/events?limit=1000',
    );
    expect(events.status).toBe(200);
    expect(events.body.events.some((e) => e.type === 'ImageReserved')).toBe(true);
    // The all-in-one service runs every host's snapshots itself: each host it knows is up.
    const services = await service.api<{ services: { binary: string; state: string }[] }>(
      'GET',
      '/v2.1/os-services',
    );
    expect(services.status).toBe(200);
    expect(services.body.services.length).toBeGreaterThan(0);
    expect(
      services.body.services.every((s) => s.binary === 'nova-compute' && s.state === 'up'),
    ).toBe(true);
    const servers = await service.api<{ servers: { id: string }[] }>(
      'GET',
      '/v2.1/servers?all_tenants=1',
    );
    expect(servers.body.servers.map((s) => s.id)).toEqual(
      expect.arrayContaining([domainA.uuid, domainB.uuid]),
    );
    const images = await service.api<{ images: { id: string }[] }>('GET', '/v2/images');
    expect(images.body.images.map((i) => i.id)).toEqual(expect.arrayContaining([imageA, imageB]));
    expect((await service.api('GET', `/v1/instances/${domainB.uuid}`)).status).toBe(200);
  });

  it('expires tokens after their ttl and refuses revoked ones with 401', async () => {
    const shortLived = await tokenFor(PROJECT_A, 'tess', 'reader', 1);
    expect((await service.api('GET', '/v1/instances', { token: shortLived })).status).toBe(200);
    await delay(1_300);
    const expired = await service.api<{ error: { code: number } }>('GET', '/v1/instances', {
      token: shortLived,
    });
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe(401);

    const revocable = await tokenFor(PROJECT_A, 'vic', 'member');
    expect((await service.api('GET', '/v2.1/servers', { token: revocable })).status).toBe(200);
    const revoked = await service.cli(['token', 'revoke', revocable]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ revoked: true });
    const after = await service.api<Record<string, unknown>>('GET', '/v2.1/servers', {
      token: revocable,
    });
    expect(after.status).toBe(401);
    expect(Object.keys(after.body)).toEqual(['unauthorized']);
    // An unknown token: exit code 5 (not found).
    const unknown = await service.cli(['token', 'revoke', 'no-such-token']);
    expect(unknown.code).toBe(5);
  });

  it('stores tokens only hashed; the bootstrap admin-token file is 0600', () => {
    const plain = [service.adminToken, alice, rita, bob];
    const files = readdirSync(service.dataDir).filter((f) => f !== 'admin-token');
    expect(files).toEqual(expect.arrayContaining(['state.sqlite']));
    for (const file of files) {
      const path = join(service.dataDir, file);
      if (!statSync(path).isFile()) continue;
      const bytes = readFileSync(path).toString('latin1');
      for (const token of plain)
        expect(bytes.includes(token), `${file} holds a plain token`).toBe(false);
    }
    expect(statSync(join(service.dataDir, 'admin-token')).mode & 0o777).toBe(0o600);
  });

  it('creates the data directory 0700 and every database file (and its -wal/-shm) 0600', () => {
    expect(statSync(service.dataDir).mode & 0o777).toBe(0o700);
    const databases = readdirSync(service.dataDir).filter((f) => /\.sqlite(-wal|-shm)?$/.test(f));
    for (const db of ['events', 'views', 'state', 'backup-rotation'])
      for (const companion of ['', '-wal', '-shm'])
        expect(databases).toContain(`${db}.sqlite${companion}`);
    const modes = Object.fromEntries(
      databases.map((f) => [f, (statSync(join(service.dataDir, f)).mode & 0o777).toString(8)]),
    );
    expect(modes).toEqual(Object.fromEntries(databases.map((f) => [f, '600'])));
    expect(statSync(join(service.dataDir, 'images')).mode & 0o777).toBe(0o700);
  });
});
