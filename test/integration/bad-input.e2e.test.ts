/**
 * The bad-input corpus (test/fixtures/bad-input/corpus.ts) against a real `snapledger serve`
 * with a real (shut-off) QEMU domain: each request gets its documented 4xx in its API
 * family's error shape, never a 5xx, never a byte of a host file, and the event log's last
 * position does not move. Then a few hundred generated createImage bodies, and one valid
 * request on the edges (255 characters of 3-byte UTF-8 with a traversal string, 129
 * metadata items at 2.45) that must be accepted and snapshot the real domain.
 * Prints a summary table (category, requests, statuses seen).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BAD_INPUT_CORPUS,
  ID_ROUTES,
  type ApiFamilyName,
  type BadInputCase,
} from '../fixtures/bad-input/corpus';
import { type ApiResponse, ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

const NOVA_FAULTS: Record<number, string> = {
  400: 'badRequest',
  403: 'forbidden',
  404: 'itemNotFound',
  406: 'notAcceptable',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
};

/** Lines of the host's /etc/passwd that must never appear in an answer. */
const PASSWD_MARKERS = readFileSync('/etc/passwd', 'utf8')
  .split('\n')
  .filter((line) => line.includes(':x:'))
  .slice(0, 3);

/** The error-shape rule of each API family; returns what is wrong, or null. */
function shapeProblem(family: ApiFamilyName, status: number, body: unknown, code?: string) {
  const b = body as Record<string, unknown> | undefined;
  switch (family) {
    case 'nova': {
      const fault = NOVA_FAULTS[status] ?? '?';
      const inner = b?.[fault] as { message?: unknown; code?: unknown } | undefined;
      if (!b || Object.keys(b).length !== 1 || !inner) return `not {"${fault}": {...}}`;
      if (typeof inner.message !== 'string' || inner.code !== status) return 'bad Nova fault';
      return null;
    }
    case 'glance':
      if (
        typeof b?.['code'] !== 'string' ||
        !(b['code'] as string).startsWith(`${status} `) ||
        typeof b['title'] !== 'string' ||
        typeof b['message'] !== 'string'
      )
        return 'not {code,title,message}';
      return null;
    case 'native': {
      const e = b?.['error'] as { code?: unknown; message?: unknown } | undefined;
      if (!e || e.code !== status || typeof e.message !== 'string') return 'not {error: {...}}';
      return null;
    }
    case 'graphql': {
      const errors = b?.['errors'] as { extensions?: { code?: string } }[] | undefined;
      if (!Array.isArray(errors) || errors.length === 0) return 'no GraphQL errors';
      if (b?.['data'] !== undefined && b['data'] !== null) return 'GraphQL data present';
      if (code && errors[0]?.extensions?.code !== code)
        return `GraphQL code ${errors[0]?.extensions?.code}`;
      return null;
    }
  }
}

interface Outcome {
  readonly category: string;
  readonly status: number;
}

describe('bad input against a real service', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  const outcomes: Outcome[] = [];
  const started = Date.now();

  const lastPosition = () => service.events().at(-1)?.position ?? 0;

  async function send(c: BadInputCase): Promise<ApiResponse> {
    const path = c.path.replaceAll('{instance}', domain.uuid);
    let rawBody: string | undefined;
    if (typeof c.rawBody === 'string') rawBody = c.rawBody;
    else if (c.rawBody)
      rawBody = c.rawBody.prefix + c.rawBody.fill.repeat(c.rawBody.times) + c.rawBody.suffix;
    return service.api(c.method, path, {
      body: c.body,
      rawBody,
      headers: { ...c.headers },
    });
  }

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start();
    domain = await createTestDomain({
      name: 'badinput',
      owner: { projectId: 'bad-input', userId: 'mallory', via: 'nova' },
    });
    const known = await service.syncInstances();
    expect(known).toContain(domain.uuid);
    // Let start-up work (power-state sync) settle, so that the log stands still.
    let position = lastPosition();
    for (let quiet = 0; quiet < 5;) {
      await new Promise((r) => setTimeout(r, 200));
      const now = lastPosition();
      quiet = now === position ? quiet + 1 : 0;
      position = now;
    }
  });

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
    const byCategory = new Map<string, { count: number; statuses: Set<number> }>();
    for (const o of outcomes) {
      const row = byCategory.get(o.category) ?? { count: 0, statuses: new Set() };
      row.count += 1;
      row.statuses.add(o.status);
      byCategory.set(o.category, row);
    }
    const lines = [
      '| category | requests | statuses seen |',
      '| --- | ---: | --- |',
      ...[...byCategory].map(
        ([category, row]) =>
          `| ${category} | ${row.count} | ${[...row.statuses].sort().join(', ')} |`,
      ),
      `| **total** | ${outcomes.length} | ${[...new Set(outcomes.map((o) => o.status))].sort().join(', ')} |`,
    ];
    console.log(
      `\nBad-input corpus (${((Date.now() - started) / 1000).toFixed(1)} s)\n${lines.join('\n')}\n`,
    );
  });

  it('has at least 60 requests and covers every route with an id in the OpenAPI document', async () => {
    expect(BAD_INPUT_CORPUS.length).toBeGreaterThanOrEqual(60);
    const doc = await service.api<{ paths: Record<string, Record<string, unknown>> }>(
      'GET',
      '/openapi.json',
    );
    const withId = Object.entries(doc.body.paths).flatMap(([path, methods]) =>
      path.includes('{')
        ? Object.keys(methods).map(
            (m) => `${m.toUpperCase()} ${path.replace('{requestId}', '{id}')}`,
          )
        : [],
    );
    const covered = ID_ROUTES.map(
      (r) => `${r.method} ${r.path.replace('{instance}', '{id}').replace(/\/\{id\}$/, '/{id}')}`,
    );
    const normalise = (s: string) => s.replaceAll(/\{[a-zA-Z]+\}/g, '{}');
    expect(withId.map(normalise).sort()).toEqual([...new Set(covered.map(normalise))].sort());
  });

  it('answers every corpus request with its documented 4xx and shape, and appends nothing', async () => {
    const problems: string[] = [];
    for (const c of BAD_INPUT_CORPUS) {
      const before = lastPosition();
      const res = await send(c);
      const after = lastPosition();
      outcomes.push({ category: c.category, status: res.status });
      const label = `[${c.category}] ${c.name}`;
      const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
      if (res.status !== c.status) problems.push(`${label}: ${res.status} ${text.slice(0, 200)}`);
      if (res.status >= 500) problems.push(`${label}: 5xx`);
      const shape = shapeProblem(c.family, res.status, res.body, c.graphqlCode);
      if (shape) problems.push(`${label}: ${shape}: ${text.slice(0, 200)}`);
      if (after !== before) problems.push(`${label}: the log moved ${before} → ${after}`);
      if (PASSWD_MARKERS.some((m) => text.includes(m))) problems.push(`${label}: /etc/passwd!`);
    }
    expect(problems).toEqual([]);
  });

  it('refuses a few hundred generated createImage bodies with 400/403/404, appending nothing', async () => {
    // An instance that does not exist: a body Nova accepts gets 404, any other 400 or 403.
    const missing = '00000000-0000-4000-8000-000000000000';
    const before = lastPosition();
    const seen = new Map<number, number>();
    const body = fc.oneof(
      fc.json({ maxDepth: 3 }).map((s) => JSON.parse(s) as unknown),
      fc
        .record(
          {
            name: fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer()),
            metadata: fc.dictionary(
              fc.string({ maxLength: 8 }),
              fc.oneof(fc.string(), fc.integer()),
              {
                maxKeys: 3,
              },
            ),
          },
          { requiredKeys: [] },
        )
        .map((entity) => ({ createImage: entity })),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await service.api('POST', `/v2.1/servers/${missing}/action`, { body: b });
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        outcomes.push({ category: 'generated createImage bodies', status: res.status });
        expect([400, 403, 404]).toContain(res.status);
        expect(shapeProblem('nova', res.status, res.body)).toBeNull();
      }),
      { numRuns: 300 },
    );
    expect(lastPosition()).toBe(before);
    expect(seen.get(400) ?? 0).toBeGreaterThan(100);
  });

  it('accepts the valid edge: 255 characters of 3-byte UTF-8 with a traversal string, 129 items at 2.45', async () => {
    const name = `../../etc/passwd ${'€'.repeat(255 - 17)}`;
    expect([...name]).toHaveLength(255);
    const metadata = Object.fromEntries(
      Array.from({ length: 129 }, (_, i) => [`k${i}`, i === 0 ? '../../../etc/shadow' : 'v']),
    );
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createImage: { name, metadata } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    const imageId = res.body.image_id;
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('active');
    const image = await service.api<Record<string, unknown>>('GET', `/v2/images/${imageId}`);
    expect(image.body['name']).toBe(name);
    expect(image.body['k0']).toBe('../../../etc/shadow');
    // The data is stored under the image's uuid, nowhere else.
    const stored = readdirSync(join(service.dataDir, 'images')).filter((f) => f !== '.staging');
    expect(stored).toEqual([imageId]);
    const file = await fetch(`${service.baseUrl}/v2/images/${imageId}/file`, {
      headers: { 'X-Auth-Token': service.adminToken, Range: 'bytes=0-4095' },
    });
    const head = Buffer.from(await file.arrayBuffer()).toString('latin1');
    expect(PASSWD_MARKERS.some((m) => head.includes(m))).toBe(false);
  });
});
