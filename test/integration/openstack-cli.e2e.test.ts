import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/**
 * Debian's unmodified `openstack` CLI (OSC 6.0, openstacksdk 0.101) against a real service
 * and a real running QEMU domain: every command the issue lists in the fixed-token
 * (`admin_token`) mode, and the main ones with Keystone v3 password sign-in served by
 * snapledger (/identity/v3), asserting on the `-f json` output and on the stored bytes.
 */

/** A clouds.yaml cloud entry in the fixed-token mode: no identity service at all. */
function adminTokenCloud(baseUrl: string, token: string): string {
  return [
    '    auth_type: admin_token',
    '    auth:',
    `      endpoint: ${baseUrl}/v2.1`,
    `      token: ${token}`,
    `    image_endpoint_override: ${baseUrl}/image`,
  ].join('\n');
}

/** A clouds.yaml cloud entry signing in with a password; the catalog gives the endpoints. */
function passwordCloud(baseUrl: string, user: string, password: string, project: string): string {
  return [
    '    auth_type: password',
    '    auth:',
    `      auth_url: ${baseUrl}/identity/v3`,
    `      username: ${user}`,
    `      password: ${password}`,
    `      project_name: ${project}`,
    '      user_domain_name: Default',
    '      project_domain_name: Default',
    '    identity_api_version: 3',
  ].join('\n');
}

describe('the openstack CLI against snapledger', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let home: string;
  let imageId = '';
  const IMAGE_NAME = 'osc-snap';
  const BACKUP_NAME = 'osc-daily';
  const PASSWORD = 'osc-e2e-Pa55word';
  let userId = '';

  /** Runs `openstack --os-cloud <cloud> ...args` with only our clouds.yaml in sight. */
  async function osc(args: string[], cloud = 'sl-token') {
    const result = await execa('openstack', ['--os-cloud', cloud, ...args], {
      extendEnv: false,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: home,
        LANG: 'C.UTF-8',
        OS_CLIENT_CONFIG_FILE: join(home, 'clouds.yaml'),
      },
      reject: false,
      timeout: 120_000,
    });
    return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  }

  /** A command that must succeed, its JSON output parsed. */
  async function oscJson<T>(args: string[], cloud?: string): Promise<T> {
    const result = await osc([...args, '-f', 'json'], cloud);
    if (result.code !== 0)
      throw new Error(`openstack ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  }

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'snapledger-osc-'));
    [service, domain] = await Promise.all([
      ServiceProcess.create(),
      createTestDomain({ name: 'osc', diskMiB: 16, dataMiB: 2, start: true }),
    ]);
    await service.start();
    // Registered at start-up (the domain was defined before), or by this sync.
    await service.api('POST', '/v1/admin/instances/sync');
    const known = await service.api<{ instance: { id: string } }>(
      'GET',
      `/v1/instances/${domain.uuid}`,
    );
    expect(known.body.instance.id).toBe(domain.uuid);
    // A member of the domain's project (`default`, where sync registers domains).
    const made = await service.cli(
      ['user', 'create', '--name', 'osc-alice', '--project', 'default', '--role', 'member'].concat([
        '--password',
        PASSWORD,
      ]),
    );
    expect(made.code, made.stderr).toBe(0);
    userId = (JSON.parse(made.stdout) as { id: string }).id;
    await writeFile(
      join(home, 'clouds.yaml'),
      [
        'clouds:',
        '  sl-token:',
        adminTokenCloud(service.baseUrl, service.adminToken),
        '  sl-password:',
        passwordCloud(service.baseUrl, 'osc-alice', PASSWORD, 'default'),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  }, 120_000);

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("serves Glance's version document at the image endpoint, without a token", async () => {
    const res = await fetch(`${service.baseUrl}/image/`);
    expect(res.status).toBe(300);
    const body = (await res.json()) as {
      versions: { id: string; status: string; links: { href: string }[] }[];
    };
    expect(body.versions[0]).toMatchObject({ status: 'CURRENT' });
    for (const v of body.versions) {
      expect(v.id).toMatch(/^v2\.\d+$/);
      expect(v.links[0]?.href).toBe(`${service.baseUrl}/image/v2/`);
    }
    // Under the prefix the Glance routes answer, with Glance's error shape.
    const missing = await service.api<Record<string, unknown>>(
      'GET',
      '/image/v2/images/00000000-0000-0000-0000-000000000000',
    );
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: '404 Not Found', title: 'Not Found' });
  });

  it('server list, server show by id and by name', async () => {
    const list = await oscJson<Record<string, unknown>[]>(['server', 'list']);
    // The flavor column comes from GET /flavors/detail: one derived flavor per size.
    expect(list).toContainEqual(
      expect.objectContaining({
        ID: domain.uuid,
        Name: domain.name,
        Status: 'ACTIVE',
        Flavor: '1c128m',
      }),
    );
    const byId = await oscJson<Record<string, unknown>>(['server', 'show', domain.uuid]);
    expect(byId).toMatchObject({
      id: domain.uuid,
      name: domain.name,
      status: 'ACTIVE',
      'OS-EXT-STS:vm_state': 'active',
      flavor: '1c128m (1c128m)',
      image: 'N/A (booted from volume)',
    });
    const byName = await oscJson<Record<string, unknown>>(['server', 'show', domain.name]);
    expect(byName.id).toBe(domain.uuid);
    const flavor = await oscJson<Record<string, unknown>>(['flavor', 'show', '1c128m']);
    expect(flavor).toMatchObject({ id: '1c128m', vcpus: 1, ram: 128, properties: {} });
  });

  it('--os-compute-api-version 2.latest works (OSC sends 2.92, the embedded flavor)', async () => {
    const latest = ['--os-compute-api-version', '2.latest'];
    const list = await oscJson<Record<string, unknown>[]>([...latest, 'server', 'list']);
    expect(list).toContainEqual(expect.objectContaining({ ID: domain.uuid, Flavor: '1c128m' }));
    const shown = await oscJson<Record<string, unknown>>([
      ...latest,
      'server',
      'show',
      domain.uuid,
    ]);
    expect(shown).toMatchObject({
      id: domain.uuid,
      flavor: { original_name: '1c128m', vcpus: 1, ram: 128, disk: 0, swap: 0 },
      locked: false,
      locked_reason: null,
      server_groups: [],
    });
  });

  it('server image create --wait makes an active image that image list and show see', async () => {
    const created = await oscJson<Record<string, unknown>>([
      'server',
      'image',
      'create',
      '--name',
      IMAGE_NAME,
      '--wait',
      domain.uuid,
    ]);
    expect(created).toMatchObject({ name: IMAGE_NAME, status: 'active', disk_format: 'qcow2' });
    imageId = String(created.id);
    expect(imageId).toMatch(/^[0-9a-f-]{36}$/);

    const images = await oscJson<Record<string, unknown>[]>(['image', 'list']);
    expect(images).toContainEqual({ ID: imageId, Name: IMAGE_NAME, Status: 'active' });
    const byId = await oscJson<Record<string, unknown>>(['image', 'show', imageId]);
    const byName = await oscJson<Record<string, unknown>>(['image', 'show', IMAGE_NAME]);
    expect(byId).toMatchObject({ id: imageId, name: IMAGE_NAME, status: 'active' });
    expect(byId.checksum).toMatch(/^[0-9a-f]{32}$/);
    expect(byName.id).toBe(imageId);
    expect(byName.checksum).toBe(byId.checksum);
    expect(byId.properties).toMatchObject({ instance_uuid: domain.uuid, image_type: 'snapshot' });
  });

  it('image save writes the stored bytes, which hold the guest data', async () => {
    const file = join(home, 'saved.qcow2');
    const saved = await osc(['image', 'save', '--file', file, imageId]);
    expect(saved.code, saved.stderr).toBe(0);
    const bytes = await readFile(file);
    const stored = await readFile(join(service.dataDir, 'images', imageId));
    expect(bytes.equals(stored)).toBe(true);
    const shown = await oscJson<{ checksum: string; size: number }>(['image', 'show', imageId]);
    expect(createHash('md5').update(bytes).digest('hex')).toBe(shown.checksum);
    expect(bytes.length).toBe(shown.size);
    expect(await domain.sha256OfGuestData(file, 'qcow2')).toBe(domain.expectedDataHash);
  });

  it('the legacy glance CLI (python-glanceclient) lists, shows and downloads the image, and shows why a call failed', async () => {
    // It reads /image/versions and the /v2/schemas documents first, and checks each image
    // it receives against the image schema.
    const glance = (args: string[]) =>
      execa(
        'glance',
        [
          '--os-image-url',
          `${service.baseUrl}/image`,
          '--os-auth-token',
          service.adminToken,
          ...args,
        ],
        {
          extendEnv: false,
          env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' },
          reject: false,
          timeout: 120_000,
        },
      );
    const list = await glance(['image-list']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout).toContain(imageId);
    expect(list.stdout).toContain(IMAGE_NAME);
    const show = await glance(['image-show', imageId]);
    expect(show.exitCode, show.stderr).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`\\| status +\\| active`));
    expect(show.stdout).toMatch(new RegExp(`\\| instance_uuid +\\| ${domain.uuid}`));
    const file = join(home, 'glance-saved.qcow2');
    const download = await glance(['image-download', '--file', file, imageId]);
    expect(download.exitCode, download.stderr).toBe(0);
    expect(
      (await readFile(file)).equals(await readFile(join(service.dataDir, 'images', imageId))),
    ).toBe(true);
    // A failed call shows Glance's message: it sends Accept: */* and reads the HTML error
    // page Glance answers with (it cannot read a JSON one).
    const unknown = '00000000-0000-4000-8000-00000000dead';
    const missing = await glance(['image-show', unknown]);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain(`No image found with ID ${unknown}`);
    expect(missing.stderr).not.toContain('has no attribute');
  });

  it('server backup create (no microversion: Location semantics) makes a daily backup', async () => {
    const backup = await oscJson<Record<string, unknown>>([
      'server',
      'backup',
      'create',
      '--name',
      BACKUP_NAME,
      '--type',
      'daily',
      '--rotate',
      '2',
      domain.uuid,
    ]);
    expect(backup).toMatchObject({ name: BACKUP_NAME });
    const backupId = String(backup.id);
    expect(backupId).toMatch(/^[0-9a-f-]{36}$/);
    expect(backupId).not.toBe(imageId);
    const settled = await service.waitForSnapshot(domain.uuid, backupId);
    expect(settled.result).toBe('active');
    const shown = await oscJson<Record<string, unknown>>(['image', 'show', BACKUP_NAME]);
    expect(shown).toMatchObject({ id: backupId, status: 'active' });
    expect(shown.properties).toMatchObject({ image_type: 'backup', backup_type: 'daily' });
  });

  it('server event list and event show', async () => {
    const events = await oscJson<Record<string, string>[]>([
      'server',
      'event',
      'list',
      domain.uuid,
    ]);
    expect(events.map((e) => e.Action)).toEqual(['createBackup', 'createImage']);
    for (const e of events) expect(e['Server ID']).toBe(domain.uuid);
    const requestId = events[1]!['Request ID']!;
    expect(requestId).toMatch(/^req-[0-9a-f-]{36}$/);
    const shown = await oscJson<{ action: string; request_id: string; events: unknown[] }>([
      'server',
      'event',
      'show',
      domain.uuid,
      requestId,
    ]);
    expect(shown).toMatchObject({ action: 'createImage', request_id: requestId });
    expect(shown.events).toContainEqual(expect.objectContaining({ result: 'Success' }));
  });

  it('signs in with a Keystone v3 password: server list, image create --wait, list, save', async () => {
    const cloud = 'sl-password';
    const servers = await oscJson<Record<string, unknown>[]>(['server', 'list'], cloud);
    expect(servers).toContainEqual(expect.objectContaining({ ID: domain.uuid, Status: 'ACTIVE' }));
    const created = await oscJson<Record<string, unknown>>(
      ['server', 'image', 'create', '--name', 'osc-pw', '--wait', domain.uuid],
      cloud,
    );
    expect(created).toMatchObject({ name: 'osc-pw', status: 'active', owner: 'default' });
    // Made as the signed-in user, not as the admin token's user.
    expect(created.properties).toMatchObject({ user_id: userId });
    const listed = await oscJson<{ ID: string }[]>(['image', 'list'], cloud);
    expect(listed.map((i) => i.ID)).toContain(created.id);
    const file = join(home, 'saved-pw.qcow2');
    const saved = await osc(['image', 'save', '--file', file, String(created.id)], cloud);
    expect(saved.code, saved.stderr).toBe(0);
    const bytes = await readFile(file);
    expect(createHash('md5').update(bytes).digest('hex')).toBe(created.checksum);
    expect(bytes.equals(await readFile(join(service.dataDir, 'images', String(created.id))))).toBe(
      true,
    );
    // A wrong password is refused by the identity service, and the CLI says so.
    await writeFile(
      join(home, 'clouds.yaml'),
      (await readFile(join(home, 'clouds.yaml'), 'utf8')).replace(
        `password: ${PASSWORD}`,
        'password: wrong-password',
      ),
    );
    const refused = await osc(['server', 'list'], cloud);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/401|authenticat/i);
  });

  it('takes the fixed-token settings from the environment with OS_CLOUD=envvars', async () => {
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: join(home, 'no-clouds-yaml'),
      OS_CLOUD: 'envvars',
      OS_AUTH_TYPE: 'admin_token',
      OS_ENDPOINT: `${service.baseUrl}/v2.1`,
      OS_TOKEN: service.adminToken,
      OS_IMAGE_ENDPOINT_OVERRIDE: `${service.baseUrl}/image`,
    };
    const listed = await execa('openstack', ['image', 'list', '-f', 'json'], {
      env,
      extendEnv: false,
      reject: false,
      timeout: 60_000,
    });
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { ID: string }[]).map((i) => i.ID)).toContain(imageId);
  });

  it('image delete removes the image for the CLI and the API', async () => {
    const deleted = await osc(['image', 'delete', imageId]);
    expect(deleted.code, deleted.stderr).toBe(0);
    const after = await osc(['image', 'show', imageId]);
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/No Image found|Could not find|not found/i);
    const api = await service.api('GET', `/v2/images/${imageId}`);
    expect(api.status).toBe(404);
    const names = (await oscJson<{ Name: string }[]>(['image', 'list'])).map((i) => i.Name);
    expect(names).toContain(BACKUP_NAME);
    expect(names).not.toContain(IMAGE_NAME);
  });
});
