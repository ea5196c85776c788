import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

interface GlanceImage {
  id: string;
  name: string;
  status: string;
  owner: string;
  visibility: string;
  checksum: string | null;
  size: number | null;
  instance_uuid: string;
  image_type: string;
  created_at: string;
  [key: string]: unknown;
}

interface GlanceList {
  images: GlanceImage[];
  first: string;
  schema: string;
  next?: string;
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

/**
 * The Glance v2 list (`GET /v2/images`) and download (`GET /v2/images/{id}/file`) against a
 * real service with real snapshots: three active images (two by the instance's project, one
 * by an admin, hence shared with it) and one killed by an injected conversion failure.
 */
describe('Glance image list and download', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let tenant: string; // member of the project that owns the domain
  let outsider: string; // member of an unrelated project
  const ids = { killed: '', a: '', b: '', shared: '' };
  let byId: Record<string, GlanceImage> = {};

  const tokenFor = (project: string, user: string) => service.createToken(project, user);

  /** createImage through Nova, then waits until the snapshot settles and the image shows it. */
  async function snapshot(token: string, name: string, expected: string): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        token,
        body: { createImage: { name } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    const imageId = res.body.image_id;
    await service.waitForSnapshot(domain.uuid, imageId);
    const shown = await service.api<GlanceImage>('GET', `/v2/images/${imageId}`);
    expect(shown.status).toBe(200);
    expect(shown.body.status).toBe(expected);
    return imageId;
  }

  const list = (query: string, token?: string) =>
    service.api<GlanceList>('GET', `/v2/images${query}`, { token });
  const listIds = async (query: string, token?: string): Promise<string[]> => {
    const res = await list(query, token);
    expect(res.status).toBe(200);
    return res.body.images.map((i) => i.id);
  };
  const storedFile = (imageId: string) => readFileSync(join(service.dataDir, 'images', imageId));

  beforeAll(async () => {
    domain = await createTestDomain({
      name: 'glance',
      start: false,
      owner: { projectId: 'tenant', userId: 'tina', via: 'nova' },
    });
    service = await ServiceProcess.create();
    // First with a conversion that always fails: the tenant's first snapshot is killed.
    await service.start({ SNAPLEDGER_FAULTS: 'fail:extract-converted' });
    expect((await service.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
    tenant = await tokenFor('tenant', 'tina');
    outsider = await tokenFor('elsewhere', 'otto');
    ids.killed = await snapshot(tenant, 'glance-killed', 'killed');
    await delay(1_100); // so that the killed image is the only one of its second
    await service.stop();
    await service.start();
    ids.a = await snapshot(tenant, 'glance-a', 'active');
    ids.b = await snapshot(tenant, 'glance-b', 'active');
    // An admin's snapshot of the tenant's instance belongs to the admin's project, shared.
    ids.shared = await snapshot(service.adminToken, 'glance-shared', 'active');
    const all = await list('');
    byId = Object.fromEntries(all.body.images.map((i) => [i.id, i]));
  }, 300_000);

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
  });

  it('lists in Glance shape, newest first, each image as GET /v2/images/{id} shows it', async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    expect(res.body.first).toBe('/v2/images');
    expect(res.body.schema).toBe('/v2/schemas/images');
    expect(res.body.next).toBeUndefined();
    expect(res.body.images.map((i) => i.id)).toEqual([ids.shared, ids.b, ids.a, ids.killed]);
    for (const image of res.body.images) {
      const shown = await service.api('GET', `/v2/images/${image.id}`);
      expect(image).toEqual(shown.body);
    }
    expect(byId[ids.shared]).toMatchObject({ visibility: 'shared', owner: 'default' });
    expect(byId[ids.a]).toMatchObject({ visibility: 'private', owner: 'tenant' });
  });

  it('scopes the list: owned plus shared-with-me for a member, nothing for another project', async () => {
    expect(await listIds('', tenant)).toEqual([ids.shared, ids.b, ids.a, ids.killed]);
    expect(await listIds('', outsider)).toEqual([]);
    expect(await listIds('?member_status=pending', tenant)).toEqual([ids.b, ids.a, ids.killed]);
  });

  it('filters by name, status, instance_uuid and image_type', async () => {
    expect(await listIds('?name=glance-a', tenant)).toEqual([ids.a]);
    expect(await listIds('?name=in:glance-b,glance-killed', tenant)).toEqual([ids.b, ids.killed]);
    expect(await listIds('?status=killed', tenant)).toEqual([ids.killed]);
    expect(await listIds('?status=active', tenant)).toEqual([ids.shared, ids.b, ids.a]);
    expect(await listIds(`?instance_uuid=${domain.uuid}`, tenant)).toHaveLength(4);
    expect(await listIds(`?instance_uuid=${randomUUID()}`, tenant)).toEqual([]);
    expect(await listIds('?image_type=snapshot&status=active', tenant)).toHaveLength(3);
    expect(await listIds('?image_type=backup', tenant)).toEqual([]);
  });

  it('filters by created_at and updated_at with Glance operators, at whole seconds', async () => {
    const killedAt = byId[ids.killed].created_at;
    const aAt = byId[ids.a].created_at;
    expect(killedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(await listIds(`?created_at=gt:${killedAt}`)).toEqual([ids.shared, ids.b, ids.a]);
    expect(await listIds(`?created_at=lte:${killedAt}`)).toEqual([ids.killed]);
    expect(await listIds(`?created_at=eq:${killedAt}`)).toEqual([ids.killed]);
    expect(await listIds(`?created_at=${killedAt}`)).toEqual([ids.killed]);
    expect(await listIds(`?created_at=lt:${aAt}`)).toContain(ids.killed);
    expect(await listIds(`?created_at=lt:${aAt}`)).not.toContain(ids.a);
    // A range (both conditions apply); images of the same second as b fall inside it too.
    const range = await listIds(`?created_at=gte:${aAt}&created_at=lte:${byId[ids.b].created_at}`);
    expect(range).toEqual(expect.arrayContaining([ids.a, ids.b]));
    expect(range).not.toContain(ids.killed);
    expect(await listIds('?updated_at=gt:2000-01-01T00:00:00Z')).toHaveLength(4);
    expect(await listIds('?updated_at=lt:2000-01-01T00:00:00%2B01:00')).toEqual([]);
  });

  it('filters by owner and visibility', async () => {
    expect(await listIds('?owner=tenant', tenant)).toEqual([ids.b, ids.a, ids.killed]);
    expect(await listIds('?owner=default', tenant)).toEqual([ids.shared]);
    expect(await listIds('?visibility=private', tenant)).toEqual([ids.b, ids.a, ids.killed]);
    expect(await listIds('?visibility=shared', tenant)).toEqual([ids.shared]);
    expect(await listIds('?visibility=all', tenant)).toHaveLength(4);
    expect(await listIds('?visibility=public', tenant)).toEqual([]);
  });

  it('sorts with sort_key/sort_dir and with sort=key:dir', async () => {
    const names = async (query: string) =>
      (await list(query)).body.images.map((i) => i.name.replace('glance-', ''));
    expect(await names('?sort_key=name&sort_dir=asc')).toEqual(['a', 'b', 'killed', 'shared']);
    expect(await names('?sort=name:desc')).toEqual(['shared', 'killed', 'b', 'a']);
    expect(await names('?sort=status:asc,name:asc')).toEqual(['a', 'b', 'shared', 'killed']);
    expect(await names('?sort_key=created_at&sort_dir=asc')).toEqual([
      'killed',
      'a',
      'b',
      'shared',
    ]);
    // NULL sizes (the killed image) sort as 0, as in Glance.
    expect((await names('?sort_key=size&sort_dir=asc'))[0]).toBe('killed');
  });

  it('pages with limit=1, following next to the end, each image exactly once', async () => {
    for (const query of [
      '?limit=1',
      '?limit=1&sort=name:asc',
      '?limit=3&status=in:active,killed',
    ]) {
      const seen: string[] = [];
      let path: string | undefined = `/v2/images${query}`;
      let pages = 0;
      while (path !== undefined) {
        const res: { status: number; body: GlanceList } = await service.api<GlanceList>(
          'GET',
          path,
        );
        expect(res.status).toBe(200);
        const asked = new URLSearchParams(query.slice(1));
        expect(res.body.first).toBe(`/v2/images?${asked.toString()}`);
        seen.push(...res.body.images.map((i) => i.id));
        path = res.body.next;
        if (path) {
          // next carries the other parameters, with the last image of this page as marker.
          const next = new URL(path, service.baseUrl).searchParams;
          expect(next.get('marker')).toBe(seen.at(-1));
          next.delete('marker');
          expect(next.toString()).toBe(asked.toString());
        }
        if (++pages > 10) throw new Error('paging did not end');
      }
      expect(seen).toHaveLength(4);
      expect(new Set(seen)).toEqual(new Set(Object.values(ids)));
    }
  });

  it('refuses bad limit, sort, marker and time filters with 400 in Glance shape', async () => {
    const cases: [string, string][] = [
      ['?limit=many', 'limit param must be an integer'],
      ['?limit=-1', 'limit param must be positive'],
      ['?sort_key=owner', 'Invalid sort key: owner'],
      ['?sort_dir=sideways', 'Invalid sort direction: sideways'],
      ['?sort=name&sort_key=size', 'Old and new sorting syntax cannot be combined'],
      [`?marker=${randomUUID()}`, 'No image found with ID'],
      ['?marker=../../etc/passwd', 'No image found with ID'],
      ['?created_at=gt:yesterday', 'Bad "created_at" query filter format'],
      ['?created_at=after:2024-01-01T00:00:00Z', 'Unable to filter on a unknown operator'],
      ['?visibility=everyone', 'Invalid visibility value: everyone'],
      ['?size_min=big', 'Unable to filter on a range with a non-numeric value'],
    ];
    for (const [query, message] of cases) {
      const res = await service.api<{ code: string; title: string; message: string }>(
        'GET',
        `/v2/images${query}`,
      );
      expect(res.status, query).toBe(400);
      expect(res.body.code).toBe('400 Bad Request');
      expect(res.body.title).toBe('Bad Request');
      expect(res.body.message).toContain(message);
    }
    // Another project's image is no marker for the outsider.
    const hidden = await list(`?marker=${ids.a}`, outsider);
    expect(hidden.status).toBe(400);
    // A big limit is capped, not refused; odd but harmless input is no error at all.
    for (const query of ['?limit=5000', '?name=%ZZ', '?a[b]=c&x=1&x=2', "?purpose='%20OR%201=1"])
      expect((await list(query)).status, query).toBe(200);
    expect(await listIds("?purpose='%20OR%201=1")).toEqual([]);
  });

  it('downloads an active image byte for byte with Content-MD5 and Content-Length', async () => {
    const stored = storedFile(ids.a);
    const res = await fetch(`${service.baseUrl}/v2/images/${ids.a}/file`, {
      headers: { 'X-Auth-Token': tenant },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-length')).toBe(String(stored.length));
    expect(res.headers.get('content-md5')).toBe(byId[ids.a].checksum);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(stored)).toBe(true);
    expect(md5(body)).toBe(byId[ids.a].checksum);
    expect(body.length).toBe(byId[ids.a].size);
  });

  it('honours a single Range with 206, and answers 416 when it cannot be satisfied or is malformed, 400 for several', async () => {
    const stored = storedFile(ids.b);
    const size = stored.length;
    const get = (range: string) =>
      fetch(`${service.baseUrl}/v2/images/${ids.b}/file`, {
        headers: { 'X-Auth-Token': service.adminToken, Range: range },
      });
    const ranges: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-1999', 1000, 1999],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      ['bytes=-16', size - 16, size - 1],
    ];
    for (const [range, start, end] of ranges) {
      const res = await get(range);
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.headers.get('content-length')).toBe(String(end - start + 1));
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(stored.subarray(start, end + 1))).toBe(true);
    }
    const unsatisfiable = await get(`bytes=${size}-`);
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${size}`);
    await unsatisfiable.arrayBuffer();
    // Several ranges: 400, and a malformed one 416 "Invalid Range header.", as Glance answers.
    const multi = await get('bytes=0-1,5-6');
    expect(multi.status).toBe(400);
    // fetch sends Accept: */*, which Glance answers with an HTML error page.
    expect(multi.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await multi.text()).toContain(
      'Requests with multiple ranges are not supported in Glance.',
    );
    for (const malformed of ['bytes=5-2', 'bytes=abc', 'items=0-1']) {
      const res = await get(malformed);
      expect(res.status, malformed).toBe(416);
      expect(await res.text()).toBe('Invalid Range header.');
    }
  });

  it('answers 204 for an image without data, and 404 for another project', async () => {
    const killed = await service.api('GET', `/v2/images/${ids.killed}/file`, { token: tenant });
    expect(killed.status).toBe(204);
    expect(killed.body).toBeUndefined();
    for (const id of [ids.a, ids.killed, ids.shared]) {
      const show = await service.api<{ code: string }>('GET', `/v2/images/${id}`, {
        token: outsider,
      });
      expect(show.status).toBe(404);
      const file = await service.api<{ code: string }>('GET', `/v2/images/${id}/file`, {
        token: outsider,
      });
      expect(file.status).toBe(404);
      expect(file.body.code).toBe('404 Not Found');
    }
    // The instance's project may download the admin's snapshot shared with it.
    const shared = await fetch(`${service.baseUrl}/v2/images/${ids.shared}/file`, {
      headers: { 'X-Auth-Token': tenant },
    });
    expect(shared.status).toBe(200);
    expect(md5(Buffer.from(await shared.arrayBuffer()))).toBe(byId[ids.shared].checksum);
  });

  it('survives clients that abort mid-download without leaking the file descriptor', async () => {
    const pid = Number(readFileSync(join(service.dataDir, 'serve.pid'), 'utf8').trim());
    const path = join(service.dataDir, 'images', ids.a);
    const openCount = () =>
      readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
        } catch {
          return false; // closed while listing
        }
      }).length;
    for (let i = 0; i < 5; i++) {
      const abort = new AbortController();
      const res = await fetch(`${service.baseUrl}/v2/images/${ids.a}/file`, {
        headers: { 'X-Auth-Token': tenant },
        signal: abort.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read();
      // While the download is under way the service holds the file open (the probe works).
      if (i === 0) expect(openCount()).toBe(1);
      abort.abort();
    }
    const deadline = Date.now() + 5_000;
    while (openCount() > 0 && Date.now() < deadline) await delay(100);
    expect(openCount()).toBe(0);
    expect((await service.api('GET', `/v2/images/${ids.a}`)).status).toBe(200);
  });

  it('snapledger images prints a table, or Glance JSON, with filters', async () => {
    const table = await service.cli(['images']);
    expect(table.code).toBe(0);
    const header = table.stdout.split('\n').find((l) => l.includes('created_at'));
    expect(
      header
        ?.split('│')
        .map((c) => c.trim())
        .filter(Boolean),
    ).toEqual(['id', 'name', 'status', 'instance', 'size', 'created_at']);
    for (const id of Object.values(ids)) expect(table.stdout).toContain(id);
    expect(table.stdout).toContain('killed');

    const killed = await service.cli(['images', '--status', 'killed', '--json']);
    expect(killed.code).toBe(0);
    const parsed = JSON.parse(killed.stdout) as { images: GlanceImage[] };
    expect(parsed.images.map((i) => i.id)).toEqual([ids.killed]);
    expect(parsed.images[0]).toEqual(byId[ids.killed]);

    const byName = await service.cli([
      'images',
      '--instance',
      domain.name,
      '--limit',
      '2',
      '--json',
    ]);
    expect(byName.code).toBe(0);
    expect(
      (JSON.parse(byName.stdout) as { images: GlanceImage[] }).images.map((i) => i.id),
    ).toEqual([ids.shared, ids.b]);

    const named = await service.cli([
      'images',
      '--name',
      'glance-a',
      '--token',
      outsider,
      '--json',
    ]);
    expect(named.code).toBe(0);
    expect(JSON.parse(named.stdout)).toEqual({ images: [] });

    const bad = await service.cli(['images', '--limit', 'lots']);
    expect(bad.code).toBe(2);
  });
});
