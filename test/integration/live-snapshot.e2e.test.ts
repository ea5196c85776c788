import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess, type SnapshotRow } from '../support/service-process';
import {
  bootWriterCounter,
  createTestDomain,
  runVirsh,
  sha256OfImageData,
  type TestDomain,
} from '../support/test-domain';

const LIVE_STEPS = ['begin', 'plan', 'quiesce', 'mirror', 'extract', 'cleanup', 'upload'];
const LIVE_EVENTS = [
  'TaskStateChanged:image_snapshot_pending',
  'ImageReserved',
  'TaskStateChanged:image_snapshot',
  'SnapshotPlanned',
  'TaskStateChanged:image_pending_upload',
  'QuiesceSkipped',
  'DiskMirrored',
  'ImageExtracted',
  'DeltaRemoved',
  'TaskStateChanged:image_uploading',
  'Uploaded',
  'DowntimeObserved',
  'TaskStateChanged:null',
];

interface DowntimeObservedData {
  intervals: { cause: string; startedAt: string; endedAt: string; durationMs: number }[];
  watchedFrom: string;
  watchedUntil: string;
}

/**
 * The live path on real QEMU domains whose guest writes to its disk once a second (the
 * boot-writer boot sector): the domain never stops, the image is consistent, the persistent
 * definition is untouched and no delta is left, also when the path fails or the service is
 * killed in the middle of it.
 */
describe('live snapshots of real QEMU domains', () => {
  let service: ServiceProcess;
  let deltaDir: string;
  let running: TestDomain;
  let paused: TestDomain;
  let env: Record<string, string>;

  beforeAll(async () => {
    // Its own delta directory (traversable by QEMU's user), so the test can see it emptied.
    const parent = await mkdtemp('/var/tmp/snapledger-live-');
    await chmod(parent, 0o711);
    deltaDir = join(parent, 'deltas');
    env = { SNAPLEDGER_DELTA_DIR: deltaDir };
    [running, paused] = await Promise.all([
      createTestDomain({ name: 'live-run', start: true, bootWriter: true }),
      createTestDomain({ name: 'live-pause', start: true, bootWriter: true }),
    ]);
    service = await ServiceProcess.create();
    await service.start(env);
    // Let both guests write a few times; then one of them is paused.
    await waitForWrites(running, 2);
    await waitForWrites(paused, 2);
    await paused.virsh('suspend');
    expect((await service.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    // The domains go even if the service cannot be stopped cleanly.
    await service?.dispose().catch(() => undefined);
    await running?.destroy();
    await paused?.destroy();
    if (deltaDir) await rm(join(deltaDir, '..'), { recursive: true, force: true });
  });

  async function waitForWrites(domain: TestDomain, atLeast: number): Promise<number> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const counter = await bootWriterCounter({ path: domain.diskPath, format: 'qcow2' });
      if (counter !== null && counter >= atLeast) return counter;
      if (Date.now() > deadline) throw new Error(`${domain.name} never wrote its disk`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  const persistentXml = (d: TestDomain) =>
    runVirsh(d.uri, ['dumpxml', '--domain', d.uuid, '--inactive', '--security-info']);

  async function snapshot(domain: TestDomain, name: string): Promise<string> {
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      { body: { createImage: { name } }, headers: { 'OpenStack-API-Version': 'compute 2.45' } },
    );
    expect(res.status).toBe(202);
    return res.body.image_id;
  }

  /**
   * Takes a snapshot while sampling the domain's state every 50 ms; returns the history row
   * and every state seen.
   */
  async function watchedSnapshot(
    domain: TestDomain,
    name: string,
  ): Promise<{ imageId: string; row: SnapshotRow; states: Set<string> }> {
    const states = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        states.add(await domain.state());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const imageId = await snapshot(domain, name);
      const row = await service.waitForSnapshot(domain.uuid, imageId);
      return { imageId, row, states };
    } finally {
      watching = false;
      await watcher;
    }
  }

  function storyOf(imageId: string): string[] {
    return service
      .events()
      .filter(
        (e) =>
          e.stream_name.endsWith(imageId) ||
          (JSON.parse(e.data) as { imageId?: string }).imageId === imageId,
      )
      .filter((e) => e.type !== 'ConversionProgressed' && e.type !== 'SnapshotStepRetried')
      .map((e) =>
        e.type === 'TaskStateChanged'
          ? `TaskStateChanged:${String((JSON.parse(e.data) as { to: string | null }).to)}`
          : e.type,
      );
  }

  function eventData<T>(imageId: string, type: string): T[] {
    return service
      .events()
      .filter(
        (e) => e.type === type && (JSON.parse(e.data) as { imageId?: string }).imageId === imageId,
      )
      .map((e) => JSON.parse(e.data) as T);
  }

  /** The stored image passes qemu-img check and holds the guest's data as written. */
  async function expectConsistentImage(domain: TestDomain, imageId: string): Promise<number> {
    const file = join(service.dataDir, 'images', imageId);
    const check = await execa('qemu-img', ['check', '-f', 'qcow2', '--', file], { reject: false });
    expect(check.exitCode).toBe(0);
    expect(await sha256OfImageData({ path: file, format: 'qcow2' }, 8 * 1024 * 1024)).toBe(
      domain.expectedDataHash,
    );
    const counter = await bootWriterCounter({ path: file, format: 'qcow2' });
    expect(counter).not.toBeNull();
    return counter as number;
  }

  it('snapshots a running domain that writes to its disk, with no downtime', async () => {
    const xmlBefore = await persistentXml(running);
    const writesBefore = await waitForWrites(running, 1);

    const { imageId, row, states } = await watchedSnapshot(running, 'live-running');

    expect(row).toMatchObject({ result: 'active', mode: 'live', downtime_ms: 0 });
    expect(row.downtime_intervals).toEqual([]);
    expect(row.steps.map((s) => s.step)).toEqual(LIVE_STEPS);
    expect([...states]).toEqual(['running']);
    // The 0 is what the watch on libvirt saw, over the whole snapshot, not the mode's promise.
    const [observed] = eventData<DowntimeObservedData>(imageId, 'DowntimeObserved');
    expect(observed.intervals).toEqual([]);
    const mirrorStep = row.steps.find((s) => s.step === 'mirror');
    expect(Date.parse(observed.watchedFrom)).toBeLessThanOrEqual(
      Date.parse(mirrorStep?.startedAt ?? ''),
    );
    expect(Date.parse(observed.watchedUntil)).toBeGreaterThanOrEqual(
      Date.parse(row.steps.at(-1)?.finishedAt ?? ''),
    );
    expect(storyOf(imageId)).toEqual(LIVE_EVENTS);
    const [skipped] = eventData<{ reason: string }>(imageId, 'QuiesceSkipped');
    expect(skipped.reason).toMatch(/no QEMU guest agent/);
    const [mirrored] = eventData<{ overBackingFile: boolean; durationMs: number }>(
      imageId,
      'DiskMirrored',
    );
    expect(mirrored.overBackingFile).toBe(false); // a flat disk: the delta gets all of it
    expect(eventData(imageId, 'DeltaRemoved')).toEqual([
      expect.objectContaining({ removedFile: true, abortedJob: false }),
    ]);

    // The image holds what the guest had written by the mirror, and the guest went on writing.
    const inImage = await expectConsistentImage(running, imageId);
    expect(inImage).toBeGreaterThanOrEqual(writesBefore);
    expect(await waitForWrites(running, inImage + 1)).toBeGreaterThan(inImage);

    expect(await persistentXml(running)).toBe(xmlBefore);
    expect(await readdir(deltaDir)).toEqual([]);

    // Audit and Nova's instance actions tell the same story.
    const audit = service.viewRows<{ type: string; summary: string }>(
      'SELECT type, summary FROM audit_log WHERE imageId = ? ORDER BY position',
      imageId,
    );
    expect(audit.find((a) => a.type === 'DiskMirrored')?.summary).toMatch(
      /disk mirrored .* domain kept running/,
    );
    expect(audit.find((a) => a.type === 'QuiesceSkipped')?.summary).toMatch(/quiesce skipped/);
    const actions = await service.api<{
      instanceActions: { action: string; request_id: string; message: string | null }[];
    }>('GET', `/v2.1/servers/${running.uuid}/os-instance-actions`);
    expect(actions.status).toBe(200);
    expect(actions.body.instanceActions).toEqual([
      expect.objectContaining({ action: 'createImage', request_id: row.request_id, message: null }),
    ]);
  });

  it('snapshots a paused domain live and leaves it paused', async () => {
    const xmlBefore = await persistentXml(paused);
    const { imageId, row, states } = await watchedSnapshot(paused, 'live-paused');

    expect(row).toMatchObject({ result: 'active', mode: 'live', downtime_ms: 0 });
    expect([...states]).toEqual(['paused']);
    expect(eventData<{ reason: string }>(imageId, 'QuiesceSkipped')[0].reason).toMatch(/agent/);
    await expectConsistentImage(paused, imageId);
    expect(await persistentXml(paused)).toBe(xmlBefore);
    expect(await readdir(deltaDir)).toEqual([]);
  });

  it('a failure after the mirror kills the image, keeps the domain running and its definition, and removes the delta', async () => {
    await service.stop();
    await service.start({ ...env, SNAPLEDGER_FAULTS: 'fail:mirror-copied' });
    const xmlBefore = await persistentXml(running);

    const { imageId, row, states } = await watchedSnapshot(running, 'live-doomed');

    expect(row).toMatchObject({ result: 'killed', mode: 'live', failed_step: 'mirror' });
    expect([...states]).toEqual(['running']);
    expect(storyOf(imageId)).toContain('SnapshotFailed');
    // The copy had been made: compensation found the delta and removed it.
    expect(eventData(imageId, 'DeltaRemoved')).toEqual([
      expect.objectContaining({ removedFile: true }),
    ]);
    expect(await persistentXml(running)).toBe(xmlBefore);
    expect(await readdir(deltaDir)).toEqual([]);
    const image = await service.api<{ status: string }>('GET', `/v2/images/${imageId}`);
    expect(image.body.status).toBe('killed');
  });

  it('killed right after DiskMirrored, it resumes from the delta and completes', async () => {
    await service.stop();
    await service.start({ ...env, SNAPLEDGER_FAULTS: 'after-append:DiskMirrored' });
    const xmlBefore = await persistentXml(running);

    const imageId = await snapshot(running, 'live-crash');
    expect((await service.waitForExit()).signal).toBe('SIGKILL');
    expect(service.events().at(-1)?.type).toBe('DiskMirrored');
    expect(await readdir(deltaDir)).toEqual([`${imageId}.qcow2`]);
    expect(await running.state()).toBe('running');

    await service.start(env);
    const row = await service.waitForSnapshot(running.uuid, imageId);
    expect(row).toMatchObject({ result: 'active', mode: 'live', downtime_ms: 0 });
    const story = storyOf(imageId);
    for (const type of ['DiskMirrored', 'ImageExtracted', 'DeltaRemoved', 'Uploaded'])
      expect(story.filter((t) => t === type)).toHaveLength(1);
    await expectConsistentImage(running, imageId);
    expect(await persistentXml(running)).toBe(xmlBefore);
    expect(await readdir(deltaDir)).toEqual([]);
  });

  it('a pause during the mirror shows as downtime, close to the pause injected', async () => {
    await service.stop();
    // A slow copy (8 MiB/s over the 64 MiB disk, about 8 s) leaves time to pause the guest
    // mid-mirror: the pause below takes about 2 s from the moment the copy is seen.
    await service.start({ ...env, SNAPLEDGER_MIRROR_BANDWIDTH: '8' });
    const imageId = await snapshot(running, 'live-paused-mid-mirror');
    const mirroring = async () => {
      const out = await runVirsh(running.uri, ['blockjob', '--domain', running.uuid, 'vda']);
      return /Block Copy|Bandwidth limit/.test(out);
    };
    const deadline = Date.now() + 30_000;
    while (!(await mirroring())) {
      if (Date.now() > deadline) throw new Error('the block copy never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The pause as the test sees it: from the suspend's return to the resume's start is
    // the shortest it can have been; from the suspend's start to the resume's return the longest.
    const suspendStart = Date.now();
    await running.virsh('suspend');
    const suspended = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const resumeStart = Date.now();
    await running.virsh('resume');
    const resumed = Date.now();
    expect(await mirroring()).toBe(true); // still mirroring: the pause fell inside the mirror step

    const row = await service.waitForSnapshot(running.uuid, imageId);
    expect(row).toMatchObject({ result: 'active', mode: 'live' });
    expect(row.downtime_ms).toBeGreaterThanOrEqual(resumeStart - suspended - 100);
    expect(row.downtime_ms).toBeLessThanOrEqual(resumed - suspendStart + 100);
    expect(row.downtime_intervals).toEqual([
      expect.objectContaining({ source: 'libvirt', cause: 'Suspended Paused', ongoing: false }),
    ]);
    const [interval] = row.downtime_intervals;
    const mirror = row.steps.find((s) => s.step === 'mirror');
    expect(Date.parse(interval.started_at)).toBeGreaterThanOrEqual(
      Date.parse(mirror?.startedAt ?? ''),
    );
    expect(Date.parse(interval.ended_at ?? '')).toBeLessThanOrEqual(
      Date.parse(mirror?.finishedAt ?? ''),
    );
    expect(await running.state()).toBe('running');
    await expectConsistentImage(running, imageId);
  });

  it('SNAPLEDGER_LIVE_SNAPSHOT=off takes the cold path, its downtime from the save to the restore', async () => {
    await service.stop();
    await service.start({ ...env, SNAPLEDGER_LIVE_SNAPSHOT: 'off' });

    const { imageId, row, states } = await watchedSnapshot(running, 'cold-forced');

    expect(row).toMatchObject({ result: 'active', mode: 'cold' });
    expect(states.has('shut off')).toBe(true);
    // Downtime runs from the save's recorded start to the restore, and libvirt saw the same.
    const [saveStarted] = eventData<{ startedAt: string }>(imageId, 'DomainSaveStarted');
    const restored = service
      .events()
      .find(
        (e) =>
          e.type === 'DomainRestored' &&
          (JSON.parse(e.data) as { imageId: string }).imageId === imageId,
      );
    const restoredAt = (JSON.parse(restored?.metadata ?? '{}') as { occurredAt?: string })
      .occurredAt;
    expect(row.downtime_ms).toBe(Date.parse(restoredAt ?? '') - Date.parse(saveStarted.startedAt));
    expect(row.downtime_intervals.map((i) => i.source)).toEqual(['save', 'libvirt']);
    const [observed] = eventData<DowntimeObservedData>(imageId, 'DowntimeObserved');
    expect(observed.intervals).toHaveLength(1);
    expect(observed.intervals[0].durationMs).toBeGreaterThan(0);
    expect(observed.intervals[0].durationMs).toBeLessThanOrEqual(row.downtime_ms as number);
    expect(storyOf(imageId)).toEqual(expect.arrayContaining(['DomainSaved', 'DomainRestored']));
    expect(storyOf(imageId)).not.toContain('DiskMirrored');
    expect(await running.state()).toBe('running');
  });
});
