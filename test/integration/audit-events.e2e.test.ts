import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/**
 * The native query routes against a real service: the audit log, the raw event log, the
 * paged snapshot history and the live progress stream, plus their CLI commands. One
 * running domain of project proj-a, snapshotted twice by alice (a member of proj-a): once
 * through `snapledger snapshot --wait` (the SSE progress path) and once through the API
 * while the test follows the progress stream itself.
 */

interface AuditEntry {
  position: number;
  type: string;
  occurred_at: string;
  user_id: string;
  project_id: string | null;
  instance_id: string | null;
  image_id: string | null;
  request_id: string;
  summary: string;
  data: Record<string, unknown>;
}
interface AuditPage {
  audit: AuditEntry[];
  next_cursor: string | null;
  next: string | null;
}
interface RawEvent {
  position: number;
  stream: string;
  revision: number;
  type: string;
  data: unknown;
  metadata: { eventId: string; occurredAt: string };
}
interface EventsPage {
  events: RawEvent[];
  next_from: number;
  last_position: number;
}
interface HistoryItem {
  image_id: string;
  mode: string;
  result: string;
  steps: { step: string; durationMs: number }[];
  downtime_ms: number;
  progress: number | null;
  requested_at: string;
}
interface HistoryPage {
  snapshots: HistoryItem[];
  next_cursor: string | null;
  next: string | null;
}
interface ProgressEvent {
  image_id: string;
  status: string;
  step: string | null;
  progress: number | null;
  result: string | null;
  final: boolean;
}

const CLI = join(resolve(__dirname, '..', '..'), 'bin', 'snapledger');

describe('audit log, raw events, snapshot history and live progress (REST and CLI)', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let alice: string; // member of proj-a, which owns the domain
  let bob: string; // member of proj-b
  let firstImage: string; // taken by `snapledger snapshot --wait`
  let secondImage: string; // taken through the API while following its progress stream
  let secondProgress: ProgressEvent[];
  let all: AuditEntry[]; // every audit entry, as an admin sees it

  const token = (project: string, user: string) => service.createToken(project, user);

  /** Reads an SSE response to its end with eventsource-parser. */
  async function readProgress(
    imageId: string,
    authToken: string,
  ): Promise<{ status: number; type: string | null; events: ProgressEvent[]; body?: unknown }> {
    const res = await fetch(`${service.baseUrl}/v1/images/${imageId}/progress`, {
      headers: { 'X-Auth-Token': authToken, Accept: 'text/event-stream' },
      signal: AbortSignal.timeout(120_000),
    });
    const type = res.headers.get('content-type');
    if (res.status !== 200) return { status: res.status, type, events: [], body: await res.json() };
    const events: ProgressEvent[] = [];
    const parser = createParser({
      onEvent: (m) => {
        expect(m.event).toBe('progress');
        events.push(JSON.parse(m.data) as ProgressEvent);
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      parser.feed(decoder.decode(chunk, { stream: true }));
    return { status: res.status, type, events };
  }

  async function audit(query: string, authToken?: string): Promise<AuditEntry[]> {
    const res = await service.api<AuditPage>('GET', `/v1/audit?${query}`, { token: authToken });
    expect(res.status).toBe(200);
    return res.body.audit;
  }

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start();
    domain = await createTestDomain({
      name: 'audit',
      start: true,
      owner: { projectId: 'proj-a', userId: 'alice', via: 'nova' },
    });
    const known = await service.syncInstances();
    expect(known).toContain(domain.uuid);
    alice = await token('proj-a', 'alice');
    bob = await token('proj-b', 'bob');

    // 1: the CLI's --wait follows the SSE route and draws its progress bar on stderr.
    const snap = await service.cli(
      ['snapshot', domain.name, '--name', 'audit-one', '--wait', '--token', alice],
      { SNAPLEDGER_PROGRESS: '1' },
    );
    expect(snap.stderr).toMatch(/converting \[.*\] \d+% \|/);
    // A running domain is snapshotted live by default: no downtime.
    expect(snap.stderr).toMatch(/snapshot [0-9a-f-]{36} is active \(mode live, downtime 0 ms\)/);
    expect(snap.code).toBe(0);
    const image = JSON.parse(snap.stdout) as { id: string; status: string };
    expect(image.status).toBe('active');
    firstImage = image.id;

    // 2: through the API, following the progress stream from the moment it is accepted.
    const created = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        token: alice,
        body: { createImage: { name: 'audit-two' } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(created.status).toBe(202);
    secondImage = created.body.image_id;
    const stream = await readProgress(secondImage, alice);
    expect(stream.status).toBe(200);
    expect(stream.type).toMatch(/^text\/event-stream/);
    secondProgress = stream.events;
    await service.waitForSnapshot(domain.uuid, secondImage);

    const everything = await service.api<AuditPage>('GET', '/v1/audit?limit=1000');
    all = everything.body.audit;
  });

  afterAll(async () => {
    await service?.dispose();
    await domain?.destroy();
  });

  describe('GET /v1/images/{id}/progress', () => {
    it('streams the running snapshot until it is active, then closes', () => {
      expect(secondProgress.length).toBeGreaterThanOrEqual(1);
      const last = secondProgress.at(-1) as ProgressEvent;
      expect(last).toEqual({
        image_id: secondImage,
        status: 'active',
        step: null,
        progress: 100,
        result: 'active',
        final: true,
      });
      // It started with the running state at once and followed the task states live.
      expect(secondProgress[0]).toMatchObject({ result: 'running', final: false });
      const steps = new Set(secondProgress.map((e) => e.step).filter((s) => s !== null));
      expect(steps.size).toBeGreaterThanOrEqual(2);
      // Only the last event is final, and each event differs from the one before.
      expect(secondProgress.slice(0, -1).every((e) => !e.final)).toBe(true);
      for (let i = 1; i < secondProgress.length; i += 1)
        expect(secondProgress[i]).not.toEqual(secondProgress[i - 1]);
    });

    it('sends one final event for a settled image and closes', async () => {
      const stream = await readProgress(firstImage, alice);
      expect(stream.events).toEqual([
        {
          image_id: firstImage,
          status: 'active',
          step: null,
          progress: 100,
          result: 'active',
          final: true,
        },
      ]);
    });

    it("is a native 404 for another project's image or an unknown one", async () => {
      const other = await readProgress(firstImage, bob);
      expect(other.status).toBe(404);
      expect(other.type).toMatch(/^application\/json/);
      expect(other.body).toMatchObject({ error: { code: 404 } });
      const unknown = await readProgress('00000000-0000-4000-8000-000000000000', alice);
      expect(unknown.status).toBe(404);
    });
  });

  describe('GET /v1/audit', () => {
    it('lists every event of the log once, in position order', () => {
      const positions = all.map((e) => e.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(new Set(positions).size).toBe(positions.length);
      expect(positions.length).toBe(service.events().length);
      const reserved = all.filter((e) => e.type === 'ImageReserved');
      expect(reserved.map((e) => e.image_id).sort()).toEqual([firstImage, secondImage].sort());
      expect(reserved.every((e) => e.user_id === 'alice' && e.project_id === 'proj-a')).toBe(true);
    });

    it('narrows by instance, image, user, project and type', async () => {
      const byInstance = await audit(`instance=${domain.uuid}&limit=1000`);
      expect(byInstance.length).toBeGreaterThan(10);
      expect(byInstance).toEqual(all.filter((e) => e.instance_id === domain.uuid));

      const byImage = await audit(`image=${firstImage}&limit=1000`);
      expect(byImage.map((e) => e.type)).toContain('Uploaded');
      expect(byImage).toEqual(all.filter((e) => e.image_id === firstImage));

      const byUser = await audit('user=alice&limit=1000');
      expect(byUser.length).toBeGreaterThan(0);
      expect(byUser).toEqual(all.filter((e) => e.user_id === 'alice'));
      expect(byUser.length).toBeLessThan(all.length); // the sync was the service's doing

      const byProject = await audit('project=proj-a&limit=1000');
      expect(byProject).toEqual(all.filter((e) => e.project_id === 'proj-a'));
      expect(await audit('project=proj-z')).toEqual([]);

      const byTypes = await audit('type=ImageReserved,Uploaded&limit=1000');
      expect(byTypes.map((e) => e.type).sort()).toEqual([
        'ImageReserved',
        'ImageReserved',
        'Uploaded',
        'Uploaded',
      ]);
      expect(await audit('type=Uploaded&type=ImageReserved&limit=1000')).toEqual(byTypes);
    });

    it('narrows by time: since is inclusive, until exclusive', async () => {
      const pivot = all.find((e) => e.type === 'ImageReserved' && e.image_id === secondImage);
      const at = pivot?.occurred_at as string;
      const since = await audit(`since=${encodeURIComponent(at)}&limit=1000`);
      expect(since).toEqual(all.filter((e) => e.occurred_at >= at));
      expect(since.map((e) => e.position)).toContain(pivot?.position);
      const until = await audit(`until=${encodeURIComponent(at)}&limit=1000`);
      expect(until).toEqual(all.filter((e) => e.occurred_at < at));
      expect(since.length + until.length).toBe(all.length);
      expect(until.length).toBeGreaterThan(0);
    });

    it('pages with an opaque cursor, each entry exactly once, both ways', async () => {
      for (const order of ['asc', 'desc'] as const) {
        const seen: number[] = [];
        let path: string | null = `/v1/audit?instance=${domain.uuid}&limit=7&order=${order}`;
        let pages = 0;
        while (path !== null) {
          const res: { status: number; body: AuditPage } = await service.api<AuditPage>(
            'GET',
            path,
          );
          expect(res.status).toBe(200);
          expect(res.body.audit.length).toBeLessThanOrEqual(7);
          seen.push(...res.body.audit.map((e) => e.position));
          path = res.body.next;
          if (path !== null) expect(path).toContain(`cursor=${res.body.next_cursor}`);
          pages += 1;
        }
        const expected = all.filter((e) => e.instance_id === domain.uuid).map((e) => e.position);
        expect(seen).toEqual(order === 'asc' ? expected : [...expected].reverse());
        expect(pages).toBeGreaterThan(1);
      }
    });

    it("shows a member their project's entries only", async () => {
      const mine = await audit('limit=1000', alice);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine).toEqual(all.filter((e) => e.project_id === 'proj-a'));
      expect(await audit(`instance=${domain.uuid}`, bob)).toEqual([]);
      expect((await audit('limit=1000', bob)).some((e) => e.project_id === 'proj-a')).toBe(false);
      expect(await audit('project=proj-a', bob)).toEqual([]);
    });

    it('leaves the host and the disk path out (the raw log keeps them, for admins)', async () => {
      const registered = all.find(
        (e) => e.type === 'InstanceRegistered' && e.instance_id === domain.uuid,
      );
      const planned = all.find((e) => e.type === 'SnapshotPlanned');
      for (const entry of [registered, planned]) {
        expect(entry).toBeDefined();
        expect(entry?.data).not.toHaveProperty('host');
        expect(entry?.data).not.toHaveProperty('diskPath');
        expect(JSON.stringify(entry)).not.toContain(domain.diskPath);
      }
      const raw = service.events().find((e) => e.position === registered?.position);
      expect(JSON.parse(raw?.data ?? '{}')).toMatchObject({ diskPath: domain.diskPath });
    });

    it('answers 400 in the native shape for bad parameters', async () => {
      for (const query of [
        'since=yesterday',
        'until=2024-02-30T25:00:00Z',
        'limit=0',
        'limit=1001',
        'cursor=%21%21',
        'instance=not-a-uuid',
        'order=up',
        'colour=blue',
      ]) {
        const res = await service.api('GET', `/v1/audit?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.body, query).toMatchObject({ error: { code: 400, title: 'Bad Request' } });
      }
    });
  });

  describe('GET /v1/events', () => {
    it('is for admins only', async () => {
      const res = await service.api('GET', '/v1/events', { token: alice });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { code: 403 } });
    });

    it('pages the raw log from a position, positions increasing', async () => {
      const stored = service.events();
      const first = await service.api<EventsPage>('GET', '/v1/events?from=0&limit=5');
      expect(first.status).toBe(200);
      expect(first.body.events.map((e) => e.position)).toEqual([1, 2, 3, 4, 5]);
      expect(first.body.next_from).toBe(5);
      expect(first.body.last_position).toBeGreaterThanOrEqual(stored.length);
      const e = first.body.events[0] as RawEvent;
      expect(e).toMatchObject({ stream: stored[0]?.stream_name, type: stored[0]?.type });
      expect(e.revision).toBe(0);
      expect(e.metadata.eventId).toMatch(/^[0-9a-f-]{36}$/);

      const collected: number[] = [];
      let from = 0;
      for (;;) {
        const page = await service.api<EventsPage>('GET', `/v1/events?from=${from}&limit=9`);
        if (page.body.events.length === 0) {
          expect(page.body.next_from).toBe(from);
          break;
        }
        collected.push(...page.body.events.map((x) => x.position));
        from = page.body.next_from;
      }
      expect(collected).toEqual(stored.map((s) => s.position));
    });

    it('answers 400 for bad from or limit', async () => {
      for (const query of ['from=-1', 'from=abc', 'limit=0', 'limit=100000']) {
        const res = await service.api('GET', `/v1/events?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.body).toMatchObject({ error: { code: 400 } });
      }
    });
  });

  describe('GET /v1/instances/{id}/snapshots', () => {
    it('pages the history newest first with timings', async () => {
      const path = `/v1/instances/${domain.uuid}/snapshots`;
      const first = await service.api<HistoryPage>('GET', `${path}?limit=1`, { token: alice });
      expect(first.status).toBe(200);
      expect(first.body.snapshots.map((s) => s.image_id)).toEqual([secondImage]);
      expect(first.body.next).toBe(`${path}?limit=1&cursor=${first.body.next_cursor}`);
      const second = await service.api<HistoryPage>('GET', first.body.next as string, {
        token: alice,
      });
      expect(second.body.snapshots.map((s) => s.image_id)).toEqual([firstImage]);
      expect(second.body.next_cursor).toBeNull();
      const row = second.body.snapshots[0] as HistoryItem;
      expect(row).toMatchObject({ mode: 'live', result: 'active', downtime_ms: 0 });
      expect(row.steps.map((s) => s.step)).toEqual([
        'begin',
        'plan',
        'quiesce',
        'mirror',
        'extract',
        'cleanup',
        'upload',
      ]);
      const one = await service.api<HistoryPage>('GET', `${path}?image=${firstImage}`);
      expect(one.body.snapshots.map((s) => s.image_id)).toEqual([firstImage]);
      // The page carries an ETag; asking again with it gives 304 while nothing changed.
      const etag = one.headers.get('etag') as string;
      expect(etag).toMatch(/^".+"$/);
      const again = await service.api('GET', `${path}?image=${firstImage}`, {
        headers: { 'If-None-Match': etag },
      });
      expect(again.status).toBe(304);
    });

    it("is 404 for another project's instance and 400 for bad paging", async () => {
      const path = `/v1/instances/${domain.uuid}/snapshots`;
      expect((await service.api('GET', path, { token: bob })).status).toBe(404);
      for (const query of ['limit=0', 'limit=x', 'cursor=bad!', 'result=great']) {
        const res = await service.api('GET', `${path}?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.body).toMatchObject({ error: { code: 400 } });
      }
    });
  });

  describe('CLI', () => {
    it('history prints a table and JSON', async () => {
      const table = await service.cli(['history', domain.name, '--token', alice]);
      expect(table.code).toBe(0);
      for (const header of ['image', 'mode', 'result', 'downtime', 'duration', 'requested_at'])
        expect(table.stdout).toContain(header);
      expect(table.stdout).toContain(firstImage);
      expect(table.stdout).toContain(secondImage);
      expect(table.stdout.indexOf(secondImage)).toBeLessThan(table.stdout.indexOf(firstImage));

      const json = await service.cli(['history', domain.uuid, '--limit', '1', '--json']);
      expect(json.code).toBe(0);
      const page = JSON.parse(json.stdout) as HistoryPage;
      expect(page.snapshots.map((s) => s.image_id)).toEqual([secondImage]);
      expect(page.next_cursor).not.toBeNull();

      const unknown = await service.cli(['history', 'no-such-domain']);
      expect(unknown.code).toBe(5);
      const badLimit = await service.cli(['history', domain.name, '--limit', '0']);
      expect(badLimit.code).toBe(2);
      // A usage error is one line and a pointer to --help, not the whole help text.
      expect(badLimit.stderr).toBe(
        "error: option '--limit <n>' argument '0' is invalid. --limit must be a whole number from 1 to 1000\n(add --help for usage)\n",
      );
    });

    it('exits 2 with one clear line for every bad argument, and 7 naming the URL it cannot reach', async () => {
      const usage: [string[], RegExp][] = [
        [
          ['snapshot', domain.uuid, '--name', 'x', '--timeout', 'abc'],
          /--timeout must be a whole number from 1 to 31536000/,
        ],
        [
          ['token', 'create', '--project', 'p', '--user', 'u', '--role', 'superuser'],
          /^snapledger: --role: unknown role "superuser" \(known: reader, member, admin\)\n$/,
        ],
        [
          ['token', 'create', '--project', 'p', '--user', 'u', '--ttl', '-5'],
          /--ttl must be a whole number from 1 to/,
        ],
        [
          ['token', 'create', '--project', ' ', '--user', 'u'],
          /^snapledger: --project must not be empty\n$/,
        ],
        [
          ['images', '--url', 'notaurl'],
          /^snapledger: the service URL "notaurl" is not an http:\/\/ or https:\/\/ URL/,
        ],
      ];
      for (const [args, stderr] of usage) {
        const run = await service.cli(args);
        expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
        expect(run.stderr).toMatch(stderr);
        expect(run.stderr).not.toContain('Usage:');
        expect(run.stdout).toBe('');
      }
      const port = await freePort(); // nothing listens on it
      const unreachable = await service.cli(['images', '--url', `http://127.0.0.1:${port}`]);
      expect(unreachable.code).toBe(7);
      expect(unreachable.stderr).toBe(
        `snapledger: cannot reach the service at http://127.0.0.1:${port}/: connect ECONNREFUSED 127.0.0.1:${port}\n`,
      );
    });

    it('audit prints a table and JSON with the filters applied', async () => {
      const table = await service.cli([
        'audit',
        '--instance',
        domain.uuid,
        '--type',
        'ImageReserved',
        '--token',
        alice,
      ]);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain('audit-one');
      expect(table.stdout).toContain('audit-two');
      expect(table.stdout.match(/ImageReserved/g)?.length).toBe(2);

      const json = await service.cli(['audit', '--image', secondImage, '--limit', '3', '--json']);
      expect(json.code).toBe(0);
      const page = JSON.parse(json.stdout) as AuditPage;
      expect(page.audit).toEqual(all.filter((e) => e.image_id === secondImage).slice(0, 3));
      expect(page.next_cursor).not.toBeNull();

      const bad = await service.cli(['audit', '--since', 'last tuesday']);
      expect(bad.code).toBe(3);
      expect(bad.stderr).toContain('since');
    });

    it('events tail prints the raw log, is refused to members, and follows until Ctrl-C', async () => {
      const stored = service.events();
      const json = await service.cli(['events', 'tail', '--from', '0', '--json']);
      expect(json.code).toBe(0);
      const tail = JSON.parse(json.stdout) as { events: RawEvent[] };
      expect(tail.events.map((e) => e.position)).toEqual(stored.map((s) => s.position));

      const table = await service.cli(['events', 'tail']);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain('TaskStateChanged');
      expect(table.stdout).toContain(`image-${secondImage}`);

      const denied = await service.cli(['events', 'tail', '--token', alice]);
      expect(denied.code).toBe(4);

      // --follow prints what is there, keeps polling, and exits 0 on SIGINT.
      const child = spawn(process.execPath, [CLI, 'events', 'tail', '--follow', '--json'], {
        env: {
          ...process.env,
          SNAPLEDGER_DATA_DIR: service.dataDir,
          SNAPLEDGER_PORT: String(service.port),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const deadline = Date.now() + 30_000;
      while (!out.includes('\n') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const before = service.events().length;
      await new Promise((r) => setTimeout(r, 1500)); // at least one more poll
      if (child.pid !== undefined) process.kill(child.pid, 'SIGINT');
      expect(await exited).toBe(0);
      const lines = out.trim().split('\n');
      const positions = lines.map((l) => (JSON.parse(l) as RawEvent).position);
      expect(positions.at(-1)).toBe(service.events().at(-1)?.position);
      expect(positions.length).toBeGreaterThanOrEqual(Math.min(20, before));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    });
  });
});
