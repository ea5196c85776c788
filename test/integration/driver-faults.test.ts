/**
 * Injected driver faults, for real: the image store's disk fills up during qemu-img convert,
 * the domain is undefined or destroyed behind the service's back, the store refuses the
 * final write, and libvirtd is stopped in the middle of a snapshot (briefly, and for longer
 * than the bounded retries). Each must end in a `killed` image with a precise reason (or,
 * for the brief libvirtd restart, survive), with the domain as it was, task_state None,
 * nothing left in the store's staging area or the delta directory, and no 5xx meanwhile.
 *
 * The libvirtd scenarios stop the host's libvirtd (started by scripts/setup-host.sh as
 * `libvirtd -d`): they run last, and afterAll makes sure it runs again whatever happened.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtd, stopLibvirtd, waitFor } from '../support/libvirtd-control';
import { ServiceProcess, type SnapshotRow } from '../support/service-process';
import {
  createTestDomain,
  runVirsh,
  TEST_LIBVIRT_URI,
  type TestDomain,
} from '../support/test-domain';

const MiB = 1024 * 1024;
const NOVA = { 'OpenStack-API-Version': 'compute 2.45' };

interface FaultRow {
  fault: string;
  path: string;
  outcome: string;
  expected: string;
  reason: string;
  ms: number;
}

/** The table printed at the end of the file (and asserted row by row). */
const table: FaultRow[] = [];
/** Rows the scenarios that ran promised to add (so a filtered run, `-t`, still checks its own). */
let plannedRows = 0;
const fileStartedAt = Date.now();

/** Every HTTP status seen by a scenario, to prove none was a 5xx. */
class CallLog {
  readonly statuses: { path: string; status: number }[] = [];

  constructor(private readonly service: ServiceProcess) {}

  async api<T>(method: string, path: string, body?: unknown) {
    const res = await this.service.api<T>(method, path, {
      body,
      headers: path.startsWith('/v2.1') ? NOVA : {},
    });
    this.statuses.push({ path: `${method} ${path}`, status: res.status });
    return res;
  }

  serverErrors(): { path: string; status: number }[] {
    return this.statuses.filter((s) => s.status >= 500);
  }

  async createImage(domain: TestDomain, name: string): Promise<string> {
    const res = await this.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      { createImage: { name } },
    );
    expect(res.status).toBe(202);
    return res.body.image_id;
  }

  /** Polls the history (through this log, so every read counts) until the snapshot settles. */
  async settled(instanceId: string, imageId: string, timeoutMs = 90_000): Promise<SnapshotRow> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.api<{ snapshots?: SnapshotRow[] }>(
        'GET',
        `/v1/instances/${instanceId}/snapshots`,
      );
      const row = res.body.snapshots?.find((s) => s.image_id === imageId);
      if (row && row.result !== 'running' && row.task_state === null) return row;
      if (Date.now() > deadline)
        throw new Error(`snapshot ${imageId} did not settle: ${JSON.stringify(row)}`);
      await delay(200);
    }
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function eventsOf(service: ServiceProcess, imageId: string) {
  return service
    .events()
    .filter(
      (e) =>
        e.stream_name.endsWith(imageId) ||
        (JSON.parse(e.data) as { imageId?: string }).imageId === imageId,
    );
}

/** The reason given when the snapshot released the instance's task state. */
function releaseReason(service: ServiceProcess, imageId: string): string | null {
  const release = eventsOf(service, imageId).find(
    (e) => e.type === 'TaskStateChanged' && (JSON.parse(e.data) as { to: unknown }).to === null,
  );
  return release ? ((JSON.parse(release.data) as { reason?: string }).reason ?? null) : null;
}

/** Nothing of the image is left: not in staging, not in the store. */
async function expectNoDataLeft(dataDir: string, imageId: string): Promise<void> {
  expect(await filesUnder(join(dataDir, 'images', '.staging'))).toEqual([]);
  expect(existsSync(join(dataDir, 'images', imageId))).toBe(false);
}

async function expectKilledEverywhere(
  calls: CallLog,
  domain: TestDomain,
  imageId: string,
  row: SnapshotRow,
  domainGone = false,
): Promise<void> {
  expect(row.result).toBe('killed');
  const image = await calls.api<{ status: string }>('GET', `/v2/images/${imageId}`);
  expect(image.status).toBe(200);
  expect(image.body.status).toBe('killed');
  const instance = await calls.api<{ instance: { task_state: string | null } }>(
    'GET',
    `/v1/instances/${domain.uuid}`,
  );
  // A domain that left libvirt: its instance may already be deleted (404) once released.
  if (domainGone && instance.status === 404) return;
  expect(instance.status).toBe(200);
  expect(instance.body.instance.task_state).toBeNull();
}

/** Fills the filesystem holding `path` with one file, until ENOSPC. */
async function fillUp(path: string): Promise<number> {
  const handle = await open(path, 'w');
  const chunk = Buffer.alloc(MiB, 0x5a);
  let written = 0;
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(chunk);
      written += bytesWritten;
      if (bytesWritten < chunk.length) break;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
  return written;
}

/** Points the first L1 entry of a qcow2 file at an unaligned L2 table (keeping the copied flag). */
async function corruptFirstL2Pointer(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const header = Buffer.alloc(48);
    await handle.read(header, 0, 48, 0);
    expect(header.readUInt32BE(0)).toBe(0x514649fb); // 'QFI\xfb'
    const l1Offset = Number(header.readBigUInt64BE(40));
    const entry = Buffer.alloc(8);
    await handle.read(entry, 0, 8, l1Offset);
    expect(entry.readBigUInt64BE(0)).not.toBe(0n); // the pattern's first MiB is allocated
    entry.writeBigUInt64BE((1n << 63n) | 0x10200n);
    await handle.write(entry, 0, 8, l1Offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function managedSave(domain: TestDomain): Promise<boolean> {
  return /Managed save:\s+yes/.test(await domain.virsh('dominfo'));
}

afterAll(() => {
  const header = '| fault | path | outcome | reason | time (s) |';
  const lines = table.map(
    (r) =>
      `| ${r.fault} | ${r.path} | ${r.outcome} | ${r.reason.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' / ')} | ${(r.ms / 1000).toFixed(1)} |`,
  );
  console.log(
    [
      '',
      'Injected driver faults (test/integration/driver-faults.test.ts)',
      header,
      '|---|---|---|---|---|',
      ...lines,
      `total: ${((Date.now() - fileStartedAt) / 1000).toFixed(1)} s`,
      '',
    ].join('\n'),
  );
  expect(table.length).toBe(plannedRows);
  for (const row of table) {
    expect(row.outcome, row.fault).toBe(row.expected);
    expect(row.reason, row.fault).not.toBe('');
  }
});

describe('qemu-img and the domain fail under a cold snapshot', () => {
  let service: ServiceProcess;
  let calls: CallLog;
  let full: TestDomain;
  let vanishing: TestDomain;
  let corrupt: TestDomain;
  let imagesMount: string | undefined;
  let mounted = false;

  beforeAll(async () => {
    service = await ServiceProcess.create();
    // The image store on a small filesystem of its own (the events stay on the data disk).
    // 16 MiB of data measure about 16 MiB; the space check wants that plus 64 MiB of margin.
    imagesMount = join(service.dataDir, 'images');
    await mkdir(imagesMount, { mode: 0o700 });
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=104m,mode=0700', 'tmpfs', imagesMount]);
    mounted = true;
    [full, vanishing, corrupt] = await Promise.all([
      createTestDomain({ name: 'enospc', start: true, dataMiB: 16 }),
      createTestDomain({ name: 'undefined', start: true }),
      createTestDomain({ name: 'corrupt' }),
    ]);
    await service.start({
      SNAPLEDGER_LIVE_SNAPSHOT: 'off',
      // qemu-img convert -r: the conversion lasts long enough to act during it.
      SNAPLEDGER_CONVERT_RATE_LIMIT: String(4 * MiB),
    });
    calls = new CallLog(service);
    expect((await calls.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    if (imagesMount && mounted) await execa('umount', [imagesMount]);
    await service?.dispose();
    await full?.destroy();
    await vanishing?.destroy();
    await corrupt?.destroy();
  });

  it("qemu-img cannot read a corrupt source disk: killed at extract with qemu-img's own words, nothing staged", async () => {
    // The first L1 entry now points at an unaligned L2 table: `qemu-img info` still works
    // (the plan passes), but reading the allocation (measure, convert) fails.
    await corruptFirstL2Pointer(corrupt.diskPath);
    const started = Date.now();
    plannedRows += 1;
    const imageId = await calls.createImage(corrupt, 'corrupt');
    const row = await calls.settled(corrupt.uuid, imageId);
    await expectKilledEverywhere(calls, corrupt, imageId, row);
    expect(row.mode).toBe('offline');
    expect(row.failed_step).toBe('extract');
    expect(row.failure_reason).toMatch(/^qemu-img measure .*disk\.qcow2 failed \(exit 1\): /);
    expect(row.failure_reason).toMatch(/L2 table offset 0x[0-9a-f]+ unaligned/);
    expect(eventsOf(service, imageId).map((e) => e.type)).not.toContain('SnapshotStepRetried');
    expect(await corrupt.state()).toBe('shut off');
    await expectNoDataLeft(service.dataDir, imageId);
    expect(calls.serverErrors()).toEqual([]);
    table.push({
      fault: 'qemu-img fails: corrupt qcow2 source (unaligned L2 pointer)',
      path: 'offline',
      outcome: `${row.result} at ${row.failed_step}; domain ${await corrupt.state()}`,
      expected: 'killed at extract; domain shut off',
      reason: row.failure_reason ?? '',
      ms: Date.now() - started,
    });
  });

  it('the image store fills up during qemu-img convert: killed at extract saying the disk is full, domain running again', async () => {
    const started = Date.now();
    plannedRows += 1;
    const imageId = await calls.createImage(full, 'enospc');
    const partial = join(imagesMount!, '.staging', `${imageId}.partial`);
    // The space check passed and qemu-img is writing: now the disk fills up under it.
    await waitFor('the conversion to start', () => existsSync(partial));
    const filler = join(imagesMount!, 'filler');
    expect(await fillUp(filler)).toBeGreaterThan(0);

    const row = await calls.settled(full.uuid, imageId);
    await rm(filler, { force: true });
    await expectKilledEverywhere(calls, full, imageId, row);
    expect(row.failed_step).toBe('extract');
    expect(row.failure_reason).toMatch(/No space left on device/);
    expect(row.failure_reason).toMatch(/the disk it writes to is full/);
    // A full disk is permanent for this try: no retry.
    expect(eventsOf(service, imageId).map((e) => e.type)).not.toContain('SnapshotStepRetried');

    expect(await full.state()).toBe('running');
    expect(await managedSave(full)).toBe(false);
    await expectNoDataLeft(service.dataDir, imageId);
    expect(calls.serverErrors()).toEqual([]);
    table.push({
      fault: 'image store disk full (ENOSPC) during qemu-img convert',
      path: 'cold',
      outcome: `${row.result} at ${row.failed_step}; domain ${await full.state()}`,
      expected: 'killed at extract; domain running',
      reason: row.failure_reason ?? '',
      ms: Date.now() - started,
    });
  });

  it('the domain is undefined (with its managed save) during the conversion: killed at restore naming the domain, restore given up', async () => {
    const started = Date.now();
    plannedRows += 1;
    const imageId = await calls.createImage(vanishing, 'vanishing');
    const partial = join(imagesMount!, '.staging', `${imageId}.partial`);
    await waitFor('the conversion to start', () => existsSync(partial));
    expect(await vanishing.state()).toBe('shut off'); // managed-saved by us
    await runVirsh(TEST_LIBVIRT_URI, ['undefine', '--domain', vanishing.uuid, '--managed-save']);

    const row = await calls.settled(vanishing.uuid, imageId);
    await expectKilledEverywhere(calls, vanishing, imageId, row, true);
    expect(row.failed_step).toBe('restore');
    expect(row.failure_reason).toBe(`domain ${vanishing.uuid} not found`);
    const released = releaseReason(service, imageId);
    expect(released).toBe(
      `snapshot failed at restore: domain ${vanishing.uuid} not found; the domain was not restored, restoring it was given up: domain ${vanishing.uuid} not found`,
    );
    const types = eventsOf(service, imageId).map((e) => e.type);
    expect(types).toContain('ImageExtracted');
    expect(types).not.toContain('DomainRestored');
    expect(types).not.toContain('Uploaded');

    await expectNoDataLeft(service.dataDir, imageId);
    // The service keeps answering. Once the snapshot has released it, the instance whose
    // domain is gone is deleted (not left holding a task state): 404, as in Nova.
    expect((await calls.api('GET', '/v2.1/servers/detail')).status).toBe(200);
    await waitFor(
      'the instance to be deleted',
      async () => (await calls.api('GET', `/v2.1/servers/${vanishing.uuid}`)).status === 404,
      10_000,
    );
    const deletedAt = service.events().findIndex((e) => e.type === 'InstanceDeleted');
    const releasedAt = service
      .events()
      .findIndex(
        (e) =>
          e.type === 'TaskStateChanged' &&
          (JSON.parse(e.data) as { imageId: string; to: string | null }).imageId === imageId &&
          (JSON.parse(e.data) as { to: string | null }).to === null,
      );
    expect(deletedAt).toBeGreaterThan(releasedAt);
    expect(calls.serverErrors()).toEqual([]);
    table.push({
      fault: 'domain undefined (--managed-save) during qemu-img convert',
      path: 'cold',
      outcome: `${row.result} at ${row.failed_step}; restore given up`,
      expected: 'killed at restore; restore given up',
      reason: released ?? '',
      ms: Date.now() - started,
    });
  });
});

describe('the domain is destroyed during a live snapshot; the store refuses the write', () => {
  let service: ServiceProcess;
  let calls: CallLog;
  let deltaDir: string;
  let destroyed: TestDomain;
  let stored: TestDomain;
  let imagesMount: string | undefined;
  let mounted = false;

  beforeAll(async () => {
    const parent = await mkdtemp('/var/tmp/snapledger-faults-');
    await chmod(parent, 0o711);
    deltaDir = join(parent, 'deltas');
    service = await ServiceProcess.create();
    imagesMount = join(service.dataDir, 'images');
    await mkdir(imagesMount, { mode: 0o700 });
    // tmpfs takes chattr +i, which stops even root from renaming into the store.
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=96m,mode=0700', 'tmpfs', imagesMount]);
    mounted = true;
    await mkdir(join(imagesMount, '.staging'), { mode: 0o700 });
    [destroyed, stored] = await Promise.all([
      createTestDomain({ name: 'destroyed', start: true }),
      createTestDomain({ name: 'store-fails', start: true }),
    ]);
    await service.start({
      SNAPLEDGER_DELTA_DIR: deltaDir,
      // Holds the live path just before its block copy, so the test can act at that step.
      SNAPLEDGER_FAULTS: 'stall:mirror@2500',
      SNAPLEDGER_STEP_ATTEMPTS: '3',
      SNAPLEDGER_STEP_BACKOFF_MS: '200',
    });
    calls = new CallLog(service);
    expect((await calls.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    if (imagesMount && mounted) {
      await execa('chattr', ['-i', imagesMount], { reject: false });
    }
    await service?.stop();
    if (imagesMount && mounted) await execa('umount', [imagesMount]);
    await service?.dispose();
    await destroyed?.destroy();
    await stored?.destroy();
    if (deltaDir) await rm(join(deltaDir, '..'), { recursive: true, force: true });
  });

  it('the domain is destroyed before its block copy: killed at mirror naming the domain, delta removed, definition untouched', async () => {
    const started = Date.now();
    plannedRows += 1;
    const persistentXml = await destroyed.virsh('dumpxml', '--inactive');
    const imageId = await calls.createImage(destroyed, 'destroyed-live');
    await waitFor('the live plan and the move to image_pending_upload', () =>
      eventsOf(service, imageId).some(
        (e) =>
          e.type === 'TaskStateChanged' &&
          (JSON.parse(e.data) as { to: string | null }).to === 'image_pending_upload',
      ),
    );
    await destroyed.virsh('destroy');

    const row = await calls.settled(destroyed.uuid, imageId);
    await expectKilledEverywhere(calls, destroyed, imageId, row);
    expect(row.mode).toBe('live');
    expect(row.failed_step).toBe('mirror');
    expect(row.failure_reason).toMatch(
      new RegExp(`^domain ${destroyed.name} became shut off during its live snapshot$`),
    );
    const types = eventsOf(service, imageId).map((e) => e.type);
    expect(types).toContain('DeltaRemoved');
    expect(types).not.toContain('DiskMirrored');
    // We never start a domain an operator destroyed; its definition is as it was.
    expect(await destroyed.state()).toBe('shut off');
    expect(await managedSave(destroyed)).toBe(false);
    expect(await destroyed.virsh('dumpxml', '--inactive')).toBe(persistentXml);
    expect(await filesUnder(deltaDir)).toEqual([]);
    await expectNoDataLeft(service.dataDir, imageId);
    expect(calls.serverErrors()).toEqual([]);
    table.push({
      fault: 'domain destroyed before the block copy',
      path: 'live',
      outcome: `${row.result} at ${row.failed_step}; domain ${await destroyed.state()}`,
      expected: 'killed at mirror; domain shut off',
      reason: row.failure_reason ?? '',
      ms: Date.now() - started,
    });
  });

  it('the store refuses the final write (images/ immutable): retried, then killed at upload, staging emptied', async () => {
    const started = Date.now();
    plannedRows += 1;
    // Made immutable before the snapshot: qemu-img may write in .staging, but nothing may
    // be renamed into images/ (chattr +i stops root too, unlike chmod).
    await execa('chattr', ['+i', imagesMount!]);
    const imageId = await calls.createImage(stored, 'store-fails');
    const row = await calls.settled(stored.uuid, imageId);
    await execa('chattr', ['-i', imagesMount!]);

    await expectKilledEverywhere(calls, stored, imageId, row);
    expect(row.failed_step).toBe('upload');
    expect(row.failure_reason).toMatch(/^EPERM: operation not permitted, rename '.*\.staged' -> /);
    const retries = eventsOf(service, imageId).filter((e) => e.type === 'SnapshotStepRetried');
    expect(retries.map((e) => (JSON.parse(e.data) as { attempt: number }).attempt)).toEqual([1, 2]);
    expect(await stored.state()).toBe('running'); // live: never stopped
    expect(await managedSave(stored)).toBe(false);
    expect(await filesUnder(deltaDir)).toEqual([]);
    await expectNoDataLeft(service.dataDir, imageId);
    expect(calls.serverErrors()).toEqual([]);
    table.push({
      fault: 'image store write refused (chattr +i images/)',
      path: 'live',
      outcome: `${row.result} at ${row.failed_step} after ${retries.length} retries; domain ${await stored.state()}`,
      expected: 'killed at upload after 2 retries; domain running',
      reason: row.failure_reason ?? '',
      ms: Date.now() - started,
    });
  });
});

describe('libvirtd stops during a snapshot (runs last: it disturbs everything on the host)', () => {
  let service: ServiceProcess;
  let calls: CallLog;
  let running: TestDomain;
  let other: TestDomain;

  beforeAll(async () => {
    [running, other] = await Promise.all([
      createTestDomain({ name: 'libvirtd', start: true }),
      createTestDomain({ name: 'libvirtd-other' }),
    ]);
    service = await ServiceProcess.create();
  }, 120_000);

  afterAll(async () => {
    // Whatever happened, libvirtd runs again before anything else.
    await startLibvirtd();
    await service?.dispose();
    await running?.destroy();
    await other?.destroy();
  });

  /** Starts the service for a cold, slowed snapshot with the given retry bound. */
  async function startService(attempts: number, backoffMs: number, maxMs: number) {
    await service.stop(); // a no-op unless an earlier scenario failed half-way
    await service.start({
      SNAPLEDGER_LIVE_SNAPSHOT: 'off',
      SNAPLEDGER_CONVERT_RATE_LIMIT: String(2 * MiB),
      SNAPLEDGER_STEP_ATTEMPTS: String(attempts),
      SNAPLEDGER_STEP_BACKOFF_MS: String(backoffMs),
      SNAPLEDGER_STEP_BACKOFF_MAX_MS: String(maxMs),
    });
    calls = new CallLog(service);
    expect((await calls.api('POST', '/v1/admin/instances/sync')).status).toBe(200);
  }

  it('a brief restart is survived: the restore is retried with back-off and the snapshot completes', async () => {
    await startService(8, 500, 2000);
    const started = Date.now();
    plannedRows += 2; // the survived restart, and the createImage made meanwhile
    const imageId = await calls.createImage(running, 'survives');
    const partial = join(service.dataDir, 'images', '.staging', `${imageId}.partial`);
    await waitFor('the conversion to start', () => existsSync(partial));
    await stopLibvirtd();
    const stoppedAt = Date.now();

    // The conversion ends, the restore finds no libvirtd: retried, recorded.
    await waitFor(
      'a recorded retry',
      () => eventsOf(service, imageId).some((e) => e.type === 'SnapshotStepRetried'),
      30_000,
    );
    // Reads come from the views: they answer while libvirtd is down.
    for (const path of [
      '/v2.1/servers/detail',
      `/v2.1/servers/${running.uuid}`,
      '/v2/images',
      `/v2/images/${imageId}`,
      `/v1/instances/${running.uuid}/snapshots`,
      '/v1/audit',
    ]) {
      expect((await calls.api('GET', path)).status, path).toBe(200);
    }
    // A new snapshot of another instance is accepted (or refused cleanly) meanwhile.
    const res = await calls.api<{ image_id?: string }>(
      'POST',
      `/v2.1/servers/${other.uuid}/action`,
      { createImage: { name: 'while-libvirtd-is-down' } },
    );
    expect([202, 503]).toContain(res.status);
    await delay(Math.max(0, 2500 - (Date.now() - stoppedAt)));
    await startLibvirtd();
    const downMs = Date.now() - stoppedAt;

    const row = await calls.settled(running.uuid, imageId);
    expect(row.result).toBe('active');
    expect(row.failed_step).toBeNull();
    const retries = eventsOf(service, imageId)
      .filter((e) => e.type === 'SnapshotStepRetried')
      .map((e) => JSON.parse(e.data) as { step: string; attempt: number; reason: string });
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.length).toBeLessThan(8);
    expect(retries[0].step).toBe('restore');
    expect(retries[0].reason).toMatch(/failed to connect/i);
    expect(await running.state()).toBe('running');
    expect(await managedSave(running)).toBe(false);
    expect(existsSync(join(service.dataDir, 'images', imageId))).toBe(true);

    if (res.status === 202 && res.body.image_id) {
      const second = await calls.settled(other.uuid, res.body.image_id);
      expect(second.result).toBe('active');
      expect(await other.state()).toBe('shut off');
    }
    expect(await filesUnder(join(service.dataDir, 'images', '.staging'))).toEqual([]);
    const image = await calls.api<{ status: string }>('GET', `/v2/images/${imageId}`);
    expect(image.body.status).toBe('active');
    expect(calls.serverErrors()).toEqual([]);
    table.push({
      fault: `libvirtd stopped ${(downMs / 1000).toFixed(1)} s during convert/restore`,
      path: 'cold',
      outcome: `${row.result} after ${retries.length} retries; domain ${await running.state()}`,
      expected: `active after ${retries.length} retries; domain running`,
      reason: `survived; retried: ${retries[0].reason}`,
      ms: Date.now() - started,
    });
    table.push({
      fault: 'createImage on another instance while libvirtd is down',
      path: 'offline',
      outcome: `HTTP ${res.status}`,
      expected: res.status === 202 ? 'HTTP 202' : 'HTTP 503',
      reason: res.status === 202 ? 'accepted; completed once libvirtd was back' : 'refused cleanly',
      ms: 0,
    });
    await service.stop();
  });

  it('down longer than the bounded retries: killed at restore, and the domain is restored once libvirtd is back', async () => {
    await startService(2, 300, 1000);
    const started = Date.now();
    plannedRows += 1;
    const imageId = await calls.createImage(running, 'outlasted');
    const partial = join(service.dataDir, 'images', '.staging', `${imageId}.partial`);
    await waitFor('the conversion to start', () => existsSync(partial));
    await stopLibvirtd();

    await waitFor(
      'the snapshot to fail',
      () => eventsOf(service, imageId).some((e) => e.type === 'SnapshotFailed'),
      30_000,
    );
    const killed = await calls.api<{ status: string }>('GET', `/v2/images/${imageId}`);
    expect(killed.body.status).toBe('killed');
    // Compensation keeps trying to restore the domain: the task is still held.
    await delay(2000);
    const held = await calls.api<{ instance: { task_state: string | null } }>(
      'GET',
      `/v1/instances/${running.uuid}`,
    );
    expect(held.body.instance.task_state).not.toBeNull();
    await startLibvirtd();

    const row = await calls.settled(running.uuid, imageId);
    await expectKilledEverywhere(calls, running, imageId, row);
    expect(row.failed_step).toBe('restore');
    expect(row.failure_reason).toMatch(/^virsh (start|dominfo) .* failed: .*failed to connect/i);
    const types = eventsOf(service, imageId).map((e) => e.type);
    expect(types.filter((t) => t === 'SnapshotStepRetried')).toHaveLength(1);
    expect(types.filter((t) => t === 'DomainRestored')).toHaveLength(1);
    expect(releaseReason(service, imageId)).not.toMatch(/given up/);
    expect(await running.state()).toBe('running');
    expect(await managedSave(running)).toBe(false);
    await expectNoDataLeft(service.dataDir, imageId);
    expect(calls.serverErrors()).toEqual([]);
    table.push({
      fault: 'libvirtd down longer than the retries (2 tries)',
      path: 'cold',
      outcome: `${row.result} at ${row.failed_step}; domain ${await running.state()}`,
      expected: 'killed at restore; domain running',
      reason: row.failure_reason ?? '',
      ms: Date.now() - started,
    });
  });
});
