import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/** Every file (not directory) below `dir`; [] when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/**
 * Failures injected at named points (SNAPLEDGER_FAULTS) on real domains: a permanent one
 * must kill the image with its step and reason, restore the domain, remove the data and
 * release the task state; a transient one must be retried and recorded.
 */
describe('snapshot failures', () => {
  let service: ServiceProcess | undefined;
  let domain: TestDomain | undefined;

  afterEach(async () => {
    await service?.dispose();
    await domain?.destroy();
    service = undefined;
    domain = undefined;
  });

  async function snapshotWithFaults(
    faults: string,
  ): Promise<{ imageId: string; domain: TestDomain; service: ServiceProcess }> {
    domain = await createTestDomain({ name: 'fail', start: true });
    service = await ServiceProcess.create();
    // The cold path: its compensation restores a managed-saved domain.
    await service.start({
      SNAPLEDGER_FAULTS: faults,
      SNAPLEDGER_STEP_ATTEMPTS: '3',
      SNAPLEDGER_LIVE_SNAPSHOT: 'off',
    });
    expect((await service.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createImage: { name: 'doomed' } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    return { imageId: res.body.image_id, domain, service };
  }

  it('a conversion that fails after writing its output kills the image, restores the domain and leaves no data', async () => {
    const { imageId, domain: d, service: s } = await snapshotWithFaults('fail:extract-converted');
    const row = await s.waitForSnapshot(d.uuid, imageId);
    expect(row.result).toBe('killed');
    expect(row.failed_step).toBe('extract');
    expect(row.failure_reason).toContain('injected permanent fault at fail:extract-converted');

    expect(await d.state()).toBe('running');
    const instance = await s.api<{ instance: { task_state: string | null; power_state: string } }>(
      'GET',
      `/v1/instances/${d.uuid}`,
    );
    expect(instance.body.instance).toMatchObject({ task_state: null, power_state: 'running' });

    // The image record stays, killed, in Glance's shape; its data is gone.
    const image = await s.api<{ status: string; size: number | null }>(
      'GET',
      `/v2/images/${imageId}`,
    );
    expect(image.status).toBe(200);
    expect(image.body).toMatchObject({ status: 'killed', size: null });
    expect(await filesUnder(join(s.dataDir, 'images'))).toEqual([]);

    // Killed first, then the domain restored, then the task released with the reason.
    const tail = s
      .events()
      .filter((e) => ['SnapshotFailed', 'DomainRestored', 'TaskStateChanged'].includes(e.type))
      .slice(-3);
    expect(tail.map((e) => e.type)).toEqual([
      'SnapshotFailed',
      'DomainRestored',
      'TaskStateChanged',
    ]);
    const release = JSON.parse(tail[2].data) as { from: string; to: string | null; reason: string };
    expect(release).toMatchObject({ from: 'image_pending_upload', to: null });
    expect(release.reason).toContain('snapshot failed at extract');
  });

  it('a transient fault in managedsave is retried, recorded, and the snapshot completes', async () => {
    const { imageId, domain: d, service: s } = await snapshotWithFaults('fail-once:save');
    const row = await s.waitForSnapshot(d.uuid, imageId);
    expect(row.result).toBe('active');
    expect(await d.state()).toBe('running');
    const history = await s.api<{ snapshots: { image_id: string; retries: number }[] }>(
      'GET',
      `/v1/instances/${d.uuid}/snapshots`,
    );
    expect(history.body.snapshots.find((h) => h.image_id === imageId)?.retries).toBe(1);
    const retried = s.events().filter((e) => e.type === 'SnapshotStepRetried');
    expect(retried).toHaveLength(1);
    expect(JSON.parse(retried[0].data)).toMatchObject({ step: 'save', attempt: 1 });
  });

  it('a service killed right after SnapshotFailed finishes the compensation when it starts again', async () => {
    const {
      imageId,
      domain: d,
      service: s,
    } = await snapshotWithFaults('fail:extract-converted,after-append:SnapshotFailed');
    const exit = await s.waitForExit();
    expect(exit.signal).toBe('SIGKILL');
    expect(s.events().at(-1)?.type).toBe('SnapshotFailed');
    expect(await d.state()).toBe('shut off'); // still managed-saved by the snapshot

    await s.start({ SNAPLEDGER_LIVE_SNAPSHOT: 'off' });
    const row = await s.waitForSnapshot(d.uuid, imageId);
    expect(row).toMatchObject({ result: 'killed', failed_step: 'extract' });
    expect(await d.state()).toBe('running');
    expect(await filesUnder(join(s.dataDir, 'images'))).toEqual([]);
    const types = s.events().map((e) => e.type);
    expect(types.filter((t) => t === 'SnapshotFailed')).toHaveLength(1);
    expect(types.filter((t) => t === 'DomainRestored')).toHaveLength(1);
  });
});
