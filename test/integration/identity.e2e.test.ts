/**
 * Keystone v3 password authentication served by a real `snapledger serve` (/identity/v3):
 * users made with `snapledger user create`, tokens issued by POST /auth/tokens that every
 * other route accepts with the user's project scope, validation, revocation, Keystone's
 * error shapes, and the real `openstack` CLI (keystoneauth) signing in with a password.
 */
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

const CLI = resolve(__dirname, '..', '..', 'bin', 'snapledger');
const suffix = randomUUID().slice(0, 8);
const PROJECT_A = `id-a-${suffix}`;
const PROJECT_B = `id-b-${suffix}`;
const ALICE_PASSWORD = `alice pw ${suffix} ünïcode`;
const BOB_PASSWORD = `bob-${suffix}`;

interface TokenBody {
  token: {
    methods: string[];
    expires_at: string;
    issued_at: string;
    user: { id: string; name: string; domain: { id: string } };
    project: { id: string; name: string };
    roles: { id: string; name: string }[];
    catalog: { type: string; name: string; endpoints: { interface: string; url: string }[] }[];
    audit_ids: string[];
  };
}

const passwordAuth = (user: object, password: string, scope?: object) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { ...user, password } } },
    ...(scope ? { scope } : {}),
  },
});
const byName = (name: string) => ({ name, domain: { name: 'Default' } });
const projectByName = (name: string) => ({ project: { name, domain: { name: 'Default' } } });

describe('Keystone v3 password authentication against a real service', () => {
  let service: ServiceProcess;
  let domainA: TestDomain;
  let domainB: TestDomain;
  let aliceId: string;
  const started = Date.now();

  const signIn = (body: unknown) =>
    service.api<TokenBody & { error?: { code: number; title: string } }>(
      'POST',
      '/identity/v3/auth/tokens',
      { token: null, body },
    );

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start();
    domainA = await createTestDomain({
      name: 'ida',
      owner: { projectId: PROJECT_A, userId: 'someone', via: 'nova' },
    });
    domainB = await createTestDomain({
      name: 'idb',
      owner: { projectId: PROJECT_B, userId: 'someone-else', via: 'nova' },
    });
    const known = await service.syncInstances();
    expect(known).toEqual(expect.arrayContaining([domainA.uuid, domainB.uuid]));
  });

  afterAll(async () => {
    await service?.dispose();
    await domainA?.destroy();
    await domainB?.destroy();
    console.log(`identity.e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('serves the identity version documents without a token', async () => {
    for (const path of ['/identity/v3', '/identity/v3/']) {
      const res = await service.api<{ version: Record<string, unknown> }>('GET', path, {
        token: null,
      });
      expect(res.status).toBe(200);
      expect(res.body.version).toMatchObject({
        id: 'v3.14',
        status: 'stable',
        links: [{ rel: 'self', href: `${service.baseUrl}/identity/v3/` }],
        'media-types': [
          { base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' },
        ],
      });
    }
    const list = await service.api<{ versions: { values: { id: string }[] } }>('GET', '/identity', {
      token: null,
    });
    expect(list.status).toBe(300);
    expect(list.body.versions.values.map((v) => v.id)).toEqual(['v3.14']);
  });

  it('creates users with `snapledger user create`, storing only a scrypt hash', async () => {
    // --password-stdin keeps the password off the command line.
    const alice = await execa(
      process.execPath,
      [CLI, 'user', 'create', '--name', 'alice', '--password-stdin', '--project', PROJECT_A],
      {
        input: `${ALICE_PASSWORD}\n`,
        env: { SNAPLEDGER_DATA_DIR: service.dataDir, SNAPLEDGER_PORT: String(service.port) },
        reject: false,
      },
    );
    expect(alice.exitCode, alice.stderr).toBe(0);
    const made = JSON.parse(alice.stdout) as { id: string; name: string; roles: string[] };
    expect(made).toMatchObject({ name: 'alice', project: PROJECT_A, roles: ['member'] });
    expect(alice.stdout).not.toContain(ALICE_PASSWORD);
    aliceId = made.id;

    const bob = await service.cli([
      'user',
      'create',
      '--name',
      'bob',
      '--password',
      BOB_PASSWORD,
      '--project',
      PROJECT_B,
      '--role',
      'member',
    ]);
    expect(bob.code, bob.stderr).toBe(0);

    const again = await service.cli([
      'user',
      'create',
      '--name',
      'alice',
      '--password',
      'other',
      '--project',
      PROJECT_B,
    ]);
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/already exists/);
    const badRole = await service.cli([
      'user',
      'create',
      '--name',
      'carol',
      '--password',
      'x',
      '--project',
      PROJECT_A,
      '--role',
      'owner',
    ]);
    expect(badRole.code).toBe(2);

    const db = new Database(join(service.dataDir, 'state.sqlite'), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT name, passwordHash FROM user_account ORDER BY name')
        .all() as {
        name: string;
        passwordHash: string;
      }[];
      expect(rows.map((r) => r.name)).toEqual(['alice', 'bob']);
      for (const row of rows) {
        expect(row.passwordHash).toMatch(/^scrypt\$ln=15,r=8,p=1\$/);
        expect(row.passwordHash).not.toContain(ALICE_PASSWORD);
        expect(row.passwordHash).not.toContain(BOB_PASSWORD);
      }
    } finally {
      db.close();
    }
    expect(service.logs).not.toContain(ALICE_PASSWORD);
  });

  it('issues project-scoped tokens that every route accepts, in that project only', async () => {
    const res = await signIn(
      passwordAuth(byName('alice'), ALICE_PASSWORD, projectByName(PROJECT_A)),
    );
    expect(res.status).toBe(201);
    const token = res.headers.get('x-subject-token');
    expect(token).toBeTruthy();
    const body = res.body.token;
    expect(body.methods).toEqual(['password']);
    expect(body.user).toMatchObject({ id: aliceId, name: 'alice', domain: { id: 'default' } });
    expect(body.project).toMatchObject({ id: PROJECT_A, name: PROJECT_A });
    expect(body.roles.map((r) => r.name)).toEqual(['member', 'reader']);
    const ttl = Date.parse(body.expires_at) - Date.parse(body.issued_at);
    expect(ttl).toBe(12 * 3600 * 1000);
    const urls = Object.fromEntries(
      body.catalog.map((s) => [s.type, s.endpoints.find((e) => e.interface === 'public')?.url]),
    );
    expect(urls).toMatchObject({
      compute: `${service.baseUrl}/v2.1`,
      image: `${service.baseUrl}/image`,
    });
    expect(JSON.stringify(res.body)).not.toContain(token!);

    // The same token, as X-Auth-Token, on Nova and native routes: project A only.
    const servers = await service.api<{ servers: { id: string }[] }>('GET', '/v2.1/servers', {
      token: token!,
    });
    expect(servers.status).toBe(200);
    expect(servers.body.servers.map((s) => s.id)).toContain(domainA.uuid);
    expect(servers.body.servers.map((s) => s.id)).not.toContain(domainB.uuid);
    const instances = await service.api<{ instances: { id: string; project_id: string }[] }>(
      'GET',
      '/v1/instances',
      { token: token! },
    );
    expect(instances.status).toBe(200);
    expect(instances.body.instances.map((i) => i.id)).toEqual([domainA.uuid]);
    expect(
      (await service.api('GET', `/v2.1/servers/${domainB.uuid}`, { token: token! })).status,
    ).toBe(404);
    expect(
      (await service.api('GET', `/v1/instances/${domainB.uuid}`, { token: token! })).status,
    ).toBe(404);

    // By project id, and by user id; without a scope, the user's own project.
    const byId = await signIn(
      passwordAuth({ id: aliceId }, ALICE_PASSWORD, { project: { id: PROJECT_A } }),
    );
    expect(byId.status).toBe(201);
    expect(byId.body.token.project.id).toBe(PROJECT_A);
    const unscoped = await signIn(passwordAuth(byName('alice'), ALICE_PASSWORD));
    expect(unscoped.status).toBe(201);
    expect(unscoped.body.token.project.id).toBe(PROJECT_A);
  });

  it("records a signed-in user's name with what they ask: history, audit, GraphQL and the CLI show it", async () => {
    const res = await signIn(
      passwordAuth(byName('alice'), ALICE_PASSWORD, projectByName(PROJECT_A)),
    );
    expect(res.status).toBe(201);
    const token = res.headers.get('x-subject-token')!;
    const asked = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domainA.uuid}/action`,
      {
        token,
        body: { createImage: { name: `named-${suffix}` } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(asked.status).toBe(202);
    const imageId = asked.body.image_id;
    try {
      // The views have the reservation by the time the 202 is answered.
      const history = await service.api<{
        snapshots: { image_id: string; user_id: string; user_name: string | null }[];
      }>('GET', `/v1/instances/${domainA.uuid}/snapshots`, { token });
      expect(history.body.snapshots.find((s) => s.image_id === imageId)).toMatchObject({
        user_id: aliceId,
        user_name: 'alice',
      });
      type Entry = { type: string; user_id: string; user_name: string | null };
      const audit = await service.api<{ audit: Entry[] }>(
        'GET',
        `/v1/audit?image=${imageId}&type=ImageReserved`,
        { token },
      );
      expect(audit.body.audit).toEqual([
        expect.objectContaining({ type: 'ImageReserved', user_id: aliceId, user_name: 'alice' }),
      ]);
      // The name is in the event itself (so in the hash chain), not looked up when read.
      const reserved = service
        .events()
        .find((e) => e.type === 'ImageReserved' && e.stream_name.endsWith(imageId));
      expect(JSON.parse(reserved!.metadata)).toMatchObject({
        actor: { userId: aliceId, userName: 'alice', projectId: PROJECT_A },
      });

      const graphql = await fetch(`${service.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Auth-Token': token },
        body: JSON.stringify({
          query: `query($image: ID!) {
            auditLog(first: 5, filter: { imageId: $image, types: ["ImageReserved"] }) {
              edges { node { actorUserId actorUserName } }
            }
          }`,
          variables: { image: imageId },
        }),
      });
      const gql = (await graphql.json()) as {
        data: { auditLog: { edges: { node: { actorUserId: string; actorUserName: string } }[] } };
      };
      expect(gql.data.auditLog.edges.map((e) => e.node)).toEqual([
        { actorUserId: aliceId, actorUserName: 'alice' },
      ]);

      const cli = await service.cli([
        'audit',
        '--image',
        imageId,
        '--type',
        'ImageReserved',
        '--token',
        token,
      ]);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain(`alice (${aliceId})`);

      // The service's own events (the instance sync) name no user account.
      const systemRows = await service.api<{ audit: Entry[] }>(
        'GET',
        '/v1/audit?user=snapledger&limit=5',
      );
      expect(systemRows.body.audit.length).toBeGreaterThan(0);
      for (const row of systemRows.body.audit) expect(row.user_name).toBeNull();
    } finally {
      await service.waitForSnapshot(domainA.uuid, imageId);
    }
  });

  it('refuses bad credentials and foreign scopes with 401, malformed bodies with 400, in Keystone shape', async () => {
    const cases: [unknown, number][] = [
      [passwordAuth(byName('alice'), 'wrong', projectByName(PROJECT_A)), 401],
      [passwordAuth(byName('nobody'), ALICE_PASSWORD, projectByName(PROJECT_A)), 401],
      [passwordAuth(byName('alice'), ALICE_PASSWORD, projectByName(PROJECT_B)), 401],
      [passwordAuth({ name: 'alice', domain: { name: 'Elsewhere' } }, ALICE_PASSWORD), 401],
      [{ auth: { identity: { methods: ['password'] } } }, 400],
      [passwordAuth({ name: 'alice' }, ALICE_PASSWORD), 400],
    ];
    for (const [body, status] of cases) {
      const res = await signIn(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.headers.get('x-subject-token')).toBeNull();
      expect(res.body.error).toMatchObject({
        code: status,
        title: status === 401 ? 'Unauthorized' : 'Bad Request',
      });
    }
    const notJson = await service.api<{ error: { code: number } }>(
      'POST',
      '/identity/v3/auth/tokens',
      { token: null, rawBody: '{"auth":' },
    );
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe(400);
  });

  it('validates a token for its own user only, and revokes it: 401 from then on', async () => {
    const issue = async (user: string, password: string, project: string) =>
      (await signIn(passwordAuth(byName(user), password, projectByName(project)))).headers.get(
        'x-subject-token',
      )!;
    const alice = await issue('alice', ALICE_PASSWORD, PROJECT_A);
    const bob = await issue('bob', BOB_PASSWORD, PROJECT_B);

    const own = await service.api<TokenBody>('GET', '/identity/v3/auth/tokens', {
      token: alice,
      headers: { 'X-Subject-Token': alice },
    });
    expect(own.status).toBe(200);
    expect(own.body.token.user.name).toBe('alice');
    const head = await fetch(`${service.baseUrl}/identity/v3/auth/tokens`, {
      method: 'HEAD',
      headers: { 'X-Auth-Token': alice, 'X-Subject-Token': alice },
    });
    expect(head.status).toBe(200);
    const foreign = await service.api<{ error: { code: number } }>(
      'GET',
      '/identity/v3/auth/tokens',
      { token: bob, headers: { 'X-Subject-Token': alice } },
    );
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe(404);
    const anonymous = await service.api<{ error: { code: number } }>(
      'GET',
      '/identity/v3/auth/tokens',
      { token: null, headers: { 'X-Subject-Token': alice } },
    );
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe(401);
    // Bob cannot revoke Alice's token either.
    expect(
      (
        await service.api('DELETE', '/identity/v3/auth/tokens', {
          token: bob,
          headers: { 'X-Subject-Token': alice },
        })
      ).status,
    ).toBe(404);

    const revoked = await service.api('DELETE', '/identity/v3/auth/tokens', {
      token: alice,
      headers: { 'X-Subject-Token': alice },
    });
    expect(revoked.status).toBe(204);
    const after = await service.api<{ unauthorized?: { code: number } }>('GET', '/v2.1/servers', {
      token: alice,
    });
    expect(after.status).toBe(401);
    expect((await service.api('GET', '/v1/instances', { token: alice })).status).toBe(401);
    expect((await service.api('GET', '/v1/instances', { token: bob })).status).toBe(200);
  });

  it('lets the real `openstack` CLI sign in with a password and list its project', async () => {
    const auth = [
      '--os-auth-url',
      `${service.baseUrl}/identity/v3`,
      '--os-identity-api-version',
      '3',
      '--os-username',
      'alice',
      '--os-password',
      ALICE_PASSWORD,
      '--os-user-domain-name',
      'Default',
      '--os-project-name',
      PROJECT_A,
      '--os-project-domain-name',
      'Default',
    ];
    // No OS_* variables of the machine may leak into the run.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')),
    ) as Record<string, string>;
    const run = (args: string[]) =>
      execa('openstack', [...auth, ...args], {
        env,
        extendEnv: false,
        reject: false,
        timeout: 60_000,
      });

    const issued = await run(['token', 'issue', '-f', 'json']);
    expect(issued.exitCode, issued.stderr).toBe(0);
    const token = JSON.parse(issued.stdout) as {
      id: string;
      project_id: string;
      user_id: string;
      expires: string;
    };
    expect(token).toMatchObject({ project_id: PROJECT_A, user_id: aliceId });
    expect((await service.api('GET', '/v1/instances', { token: token.id })).status).toBe(200);

    const servers = await run(['server', 'list', '-f', 'json']);
    expect(servers.exitCode, servers.stderr).toBe(0);
    const ids = (JSON.parse(servers.stdout) as { ID: string }[]).map((s) => s.ID);
    expect(ids).toContain(domainA.uuid);
    expect(ids).not.toContain(domainB.uuid);

    const wrong = await execa(
      'openstack',
      auth.map((a) => (a === ALICE_PASSWORD ? 'not-the-password' : a)).concat(['token', 'issue']),
      { env, extendEnv: false, reject: false, timeout: 60_000 },
    );
    expect(wrong.exitCode).not.toBe(0);
    expect(wrong.stderr).toMatch(/HTTP 401/);
  });
});
