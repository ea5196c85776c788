/**
 * The Glance image store signing in to Keystone with a password (SNAPLEDGER_GLANCE_AUTH_URL
 * …), against a real Glance whose own keystonemiddleware validates every token. The Keystone
 * is the snapledger service's own identity API (/identity/v3): the same service is Glance's
 * identity provider and Glance's client, with two users, `glance` (for the middleware) and
 * `image-store` (for the uploads). Glance refuses a request without a valid token.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGlance, type GlanceServer } from '../support/glance-server';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, imagesHaveSameContent, type TestDomain } from '../support/test-domain';

const GLANCE_PASSWORD = 'glance-middleware-pw';
const STORE_PASSWORD = 'image-store-pw';

describe('Glance as the image store, signed in with a Keystone password', () => {
  let glance: GlanceServer;
  let service: ServiceProcess;
  let domain: TestDomain;
  let scratch: string;
  let env: Record<string, string>;

  /** A token for `user` from the service's identity API, as any Keystone client gets one. */
  async function signIn(user: string, password: string): Promise<string> {
    const res = await fetch(`${service.baseUrl}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: user, domain: { name: 'Default' }, password } },
          },
          scope: { project: { name: 'service', domain: { name: 'Default' } } },
        },
      }),
    });
    expect(res.status).toBe(201);
    return res.headers.get('x-subject-token')!;
  }

  async function createImage(name: string): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      { body: { createImage: { name } }, headers: { 'OpenStack-API-Version': 'compute 2.45' } },
    );
    expect(res.status).toBe(202);
    return res.body.image_id;
  }

  beforeAll(async () => {
    [service, domain] = await Promise.all([
      ServiceProcess.create(),
      createTestDomain({ name: 'glance-ks', start: true }),
    ]);
    const authUrl = `${service.baseUrl}/identity/v3`;
    glance = await startGlance({
      keystone: { authUrl, username: 'glance', password: GLANCE_PASSWORD, project: 'service' },
    });
    scratch = await mkdtemp(join(tmpdir(), 'sl-glance-ks-'));
    env = {
      SNAPLEDGER_IMAGE_STORE: 'glance',
      SNAPLEDGER_GLANCE_URL: glance.url,
      // Without /v3: snapledger adds it, as keystoneauth finds it.
      SNAPLEDGER_GLANCE_AUTH_URL: service.baseUrl + '/identity',
      SNAPLEDGER_GLANCE_USERNAME: 'image-store',
      SNAPLEDGER_GLANCE_PASSWORD: STORE_PASSWORD,
      SNAPLEDGER_GLANCE_PROJECT: 'service',
      SNAPLEDGER_STEP_BACKOFF_MS: '100',
    };
    await service.start(env);
    // Admins both: the middleware validates others' tokens, the store sets images' owners.
    for (const [name, password] of [
      ['glance', GLANCE_PASSWORD],
      ['image-store', STORE_PASSWORD],
    ] as const) {
      const made = await service.cli([
        'user',
        'create',
        '--name',
        name,
        '--password',
        password,
        '--project',
        'service',
        '--role',
        'admin',
      ]);
      expect(made.code, made.stderr).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
    await glance?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('Glance refuses requests without a token, so every call below was signed in', async () => {
    const res = await fetch(`${glance.url}/v2/images`);
    expect(res.status).toBe(401);
    const bogus = await fetch(`${glance.url}/v2/images`, { headers: { 'X-Auth-Token': 'nope' } });
    expect(bogus.status).toBe(401);
  });

  it('uploads a snapshot to Glance with the token it signed in for, and reads it back', async () => {
    const imageId = await createImage('keystone-signed');
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result, row.failure_reason ?? '').toBe('active');

    const reader = await signIn('image-store', STORE_PASSWORD);
    const ours = await service.api<Record<string, unknown>>('GET', `/v2/images/${imageId}`);
    expect(await glance.image(imageId, reader)).toMatchObject({
      id: imageId,
      status: 'active',
      owner: ours.body['owner'],
      instance_uuid: domain.uuid,
      checksum: ours.body['checksum'],
      os_hash_value: ours.body['os_hash_value'],
    });
    const fromGlance = join(scratch, `${imageId}.qcow2`);
    await writeFile(fromGlance, await glance.download(imageId, reader));
    expect(
      await imagesHaveSameContent(
        { path: fromGlance, format: 'qcow2' },
        { path: domain.diskPath, format: 'qcow2' },
      ),
    ).toBe(true);
    // snapledger's own download goes through Glance with its token too.
    const whole = await fetch(`${service.baseUrl}/v2/images/${imageId}/file`, {
      headers: { 'X-Auth-Token': service.adminToken },
    });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-md5')).toBe(ours.body['checksum']);
    await whole.arrayBuffer();
  }, 180_000);

  it('a wrong password fails the snapshot at upload with what Keystone answered, and the domain runs on', async () => {
    await service.stop();
    await service.start({ ...env, SNAPLEDGER_GLANCE_PASSWORD: 'not-the-password' });
    const imageId = await createImage('bad-password');
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('killed');
    expect(row.failed_step).toBe('upload');
    expect(row.failure_reason).toMatch(
      /Keystone at http:\/\/127\.0\.0\.1:\d+\/identity\/v3 answered 401 to the sign-in of image-store \(project service\) for Glance/,
    );
    expect(row.failure_reason).not.toContain('not-the-password');
    expect(service.logs).not.toContain('not-the-password');
    expect(await glance.image(imageId, await signIn('image-store', STORE_PASSWORD))).toBeNull();
    expect(await domain.state()).toBe('running');
  }, 180_000);

  it('a fixed token that Glance refuses fails the snapshot at upload with its 401, at once', async () => {
    await service.stop();
    const fixed: Record<string, string> = { ...env, SNAPLEDGER_GLANCE_TOKEN: 'not-a-token' };
    for (const name of [
      'SNAPLEDGER_GLANCE_AUTH_URL',
      'SNAPLEDGER_GLANCE_USERNAME',
      'SNAPLEDGER_GLANCE_PASSWORD',
      'SNAPLEDGER_GLANCE_PROJECT',
    ] as const) {
      fixed[name] = '';
    }
    await service.start(fixed);
    const imageId = await createImage('refused-token');
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('killed');
    expect(row.failed_step).toBe('upload');
    expect(row.failure_reason).toMatch(/^Glance answered 401 to GET \/v2\/images\/[0-9a-f-]{36}: /);
    // Permanent: a fixed token is not tried again.
    const retried = service
      .events()
      .filter((e) => e.type === 'SnapshotStepRetried' && e.stream_name.endsWith(imageId));
    expect(retried).toEqual([]);
    expect(await domain.state()).toBe('running');
  }, 180_000);
});
