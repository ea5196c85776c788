import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess, type SnapshotRow } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/**
 * SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS: 8 snapshots of 8 shut-off domains at a limit of 2.
 * The conversions are slowed down (qemu-img convert -r) so that they overlap.
 */
const LIMIT = 2;
const DOMAINS = 8;
/** 4 MiB of data at 2 MiB/s: each conversion takes about 2 s. */
const DATA_MIB = 4;
const RATE = 2 * 1024 * 1024;

interface ProgressEvent {
  step: string | null;
  status: string;
  final: boolean;
}

describe('the concurrency limit', () => {
  let service: ServiceProcess;
  const domains: TestDomain[] = [];

  const env = {
    SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS: String(LIMIT),
    SNAPLEDGER_CONVERT_RATE_LIMIT: String(RATE),
  };

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start(env);
    for (let i = 0; i < DOMAINS; i++)
      domains.push(await createTestDomain({ name: `queue-${i}`, diskMiB: 16, dataMiB: DATA_MIB }));
    const sync = await service.api<{ registered: string[] }>('POST', '/v1/admin/instances/sync');
    expect(sync.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await service?.dispose();
    for (const d of domains) await d.destroy();
  });

  /** Follows GET /v1/images/{id}/progress to its final event. */
  async function followProgress(imageId: string): Promise<ProgressEvent[]> {
    const res = await fetch(`${service.baseUrl}/v1/images/${imageId}/progress`, {
      headers: { 'X-Auth-Token': service.adminToken, Accept: 'text/event-stream' },
      signal: AbortSignal.timeout(90_000),
    });
    expect(res.status).toBe(200);
    const events: ProgressEvent[] = [];
    const parser = createParser({
      onEvent: (m) => events.push(JSON.parse(m.data) as ProgressEvent),
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      parser.feed(decoder.decode(chunk, { stream: true }));
    return events;
  }

  it('runs 8 snapshots at most 2 at a time, in request order, showing the wait as queued, across a crash', async () => {
    // 8 createImage requests at once: each answers 202 at once, whatever the queue.
    const answers = await Promise.all(
      domains.map((d, i) =>
        service.api<{ image_id: string }>('POST', `/v2.1/servers/${d.uuid}/action`, {
          body: { createImage: { name: `queued-${i}` } },
          headers: { 'OpenStack-API-Version': 'compute 2.45' },
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(DOMAINS).fill(202));
    const imageIds = answers.map((a) => a.body.image_id);

    // The log's order of ImageReserved is the queue's order; the last one surely waits.
    const reservedOrder = () =>
      service
        .events()
        .filter((e) => e.type === 'ImageReserved')
        .map((e) => (JSON.parse(e.data) as { imageId: string }).imageId);
    const last = reservedOrder().at(-1) as string;
    const lastDomain = domains[imageIds.indexOf(last)];

    // A waiting snapshot holds its instance's task state: a second createImage is 409.
    const again = await service.api<{ conflictingRequest: { message: string } }>(
      'POST',
      `/v2.1/servers/${lastDomain.uuid}/action`,
      { body: { createImage: { name: 'second' } } },
    );
    expect(again.status).toBe(409);
    expect(again.body.conflictingRequest.message).toContain('image_snapshot_pending');

    // A crash while 6 wait: the restarted service rebuilds the queue from its process table
    // and the log, in the same order, and starts nothing twice.
    const queuedBefore = () => service.events().filter((e) => e.type === 'SnapshotQueued').length;
    const deadline = Date.now() + 20_000;
    while (queuedBefore() < DOMAINS - LIMIT && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(queuedBefore()).toBe(DOMAINS - LIMIT);
    await service.kill();
    await service.start(env);
    const progress = followProgress(last);

    const rows: SnapshotRow[] = [];
    for (const [i, d] of domains.entries())
      rows.push(await service.waitForSnapshot(d.uuid, imageIds[i], 90_000));
    expect(rows.map((r) => r.result)).toEqual(Array(DOMAINS).fill('active'));
    for (const id of imageIds) {
      const image = await service.api<{ status: string }>('GET', `/v2/images/${id}`);
      expect(image.body.status).toBe('active');
    }

    // From the log: between its begin (→ image_snapshot) and its release (→ None), a snapshot
    // does hypervisor work; never more than LIMIT at once, and LIMIT was reached.
    const events = service.events();
    let running = 0;
    let most = 0;
    const begun: string[] = [];
    for (const e of events) {
      if (e.type !== 'TaskStateChanged') continue;
      const d = JSON.parse(e.data) as { imageId: string; to: string | null };
      if (d.to === 'image_snapshot') {
        running += 1;
        begun.push(d.imageId);
      }
      if (d.to === null && imageIds.includes(d.imageId)) running -= 1;
      most = Math.max(most, running);
    }
    expect(most).toBe(LIMIT);
    expect(running).toBe(0);
    // FIFO: they began in the order they were reserved.
    expect(begun).toEqual(reservedOrder());

    // The 6 that found both slots taken recorded SnapshotQueued, at places 1..6, limit 2.
    const queued = events
      .filter((e) => e.type === 'SnapshotQueued')
      .map((e) => JSON.parse(e.data) as { imageId: string; position: number; limit: number });
    expect(queued.map((q) => q.imageId)).toEqual(reservedOrder().slice(LIMIT));
    expect(queued.map((q) => q.position)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(queued.every((q) => q.limit === LIMIT)).toBe(true);

    // The history: a queue step (with its wait) before begin for those, none for the first two.
    const byImage = new Map(rows.map((r) => [r.image_id, r]));
    for (const [place, id] of reservedOrder().entries()) {
      const row = byImage.get(id) as SnapshotRow & { queued: boolean };
      expect(row.queued).toBe(false);
      const steps = row.steps.map((s) => s.step);
      if (place < LIMIT) {
        expect(steps).not.toContain('queue');
      } else {
        expect(steps.slice(0, 2)).toEqual(['queue', 'begin']);
        expect(row.steps[0].durationMs).toBeGreaterThan(500);
      }
    }

    // The progress stream of the last one showed it queued, then moving on to the end.
    const seen = await progress;
    const steps = seen.map((e) => e.step);
    expect(steps).toContain('queued');
    expect(steps.indexOf('queued')).toBeLessThan(steps.indexOf('image_pending_upload'));
    expect(seen.at(-1)).toMatchObject({ status: 'active', step: null, final: true });
  }, 120_000);
});
