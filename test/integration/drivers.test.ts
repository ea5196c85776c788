/**
 * The drivers against the real thing: virsh + libvirtd + QEMU, qemu-img, the filesystem.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskImageToolError } from '../../src/drivers/disk-image.port';
import {
  DomainNotFoundError,
  DomainStateError,
  TransientHypervisorError,
} from '../../src/drivers/hypervisor.port';
import { digestFile } from '../../src/drivers/file-digest';
import { LocalImageStore } from '../../src/drivers/local-image-store';
import { QemuImgTool } from '../../src/drivers/qemu-img.driver';
import { VirshHypervisor } from '../../src/drivers/virsh.driver';
import {
  TEST_LIBVIRT_URI,
  TEST_ROOT,
  createTestDomain,
  imagesHaveSameContent,
  type TestDomain,
} from '../support/test-domain';

const NOVA_OWNER = { projectId: randomUUID(), userId: randomUUID(), via: 'nova' as const };
const SL_OWNER = { projectId: randomUUID(), userId: randomUUID(), via: 'snapledger' as const };

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await run();
  } finally {
    console.info(`[timing] ${label}: ${Math.round(performance.now() - started)} ms`);
  }
}

describe('VirshHypervisor (real libvirt)', () => {
  const hv = new VirshHypervisor(TEST_LIBVIRT_URI);
  let nova: TestDomain; // running, Nova metadata
  let owned: TestDomain; // shut off, snapledger metadata
  let bare: TestDomain; // shut off, no owner

  beforeAll(async () => {
    [nova, owned, bare] = await Promise.all([
      createTestDomain({ name: 'nova', owner: NOVA_OWNER, start: true }),
      createTestDomain({ name: 'owned', owner: SL_OWNER }),
      createTestDomain({ name: 'bare' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([nova, owned, bare].filter(Boolean).map((d) => d.destroy()));
  });

  it('lists the test domains by uuid and name', async () => {
    const domains = await hv.listDomains();
    for (const d of [nova, owned, bare])
      expect(domains).toContainEqual({ uuid: d.uuid, name: d.name });
  });

  it('describes a running domain with Nova owner metadata', async () => {
    const details = await hv.describe(nova.uuid);
    expect(details).toEqual({
      uuid: nova.uuid,
      name: nova.name,
      state: 'running',
      hasManagedSave: false,
      persistent: true,
      vcpus: 1,
      memoryMiB: 128,
      snapshotDisk: { path: nova.diskPath, kind: 'file', format: 'qcow2', target: 'vda' },
      // The test domains have no org.qemu.guest_agent.0 channel.
      guestAgent: false,
      owner: { projectId: NOVA_OWNER.projectId, userId: NOVA_OWNER.userId, source: 'nova' },
    });
    // By name as well as by uuid.
    expect((await hv.describe(nova.name)).uuid).toBe(nova.uuid);
  });

  it('describes snapledger owner metadata, and a null owner without metadata', async () => {
    const withOwner = await hv.describe(owned.uuid);
    expect(withOwner.state).toBe('shut off');
    expect(withOwner.owner).toEqual({
      projectId: SL_OWNER.projectId,
      userId: SL_OWNER.userId,
      source: 'snapledger',
    });
    expect(withOwner.snapshotDisk).toEqual({
      path: owned.diskPath,
      kind: 'file',
      format: 'qcow2',
      target: 'vda',
    });

    const without = await hv.describe(bare.uuid);
    expect(without.owner).toBeNull();
    expect(without.persistent).toBe(true);
  });

  it('refuses to managedsave a domain that is shut off with no managed-save image', async () => {
    await expect(hv.managedSave(bare.uuid)).rejects.toBeInstanceOf(DomainStateError);
    expect(await hv.state(bare.uuid)).toEqual({ state: 'shut off', hasManagedSave: false });
  });

  it('maps running, paused and shut off', async () => {
    expect(await hv.state(bare.uuid)).toEqual({ state: 'shut off', hasManagedSave: false });
    await hv.start(bare.uuid, { paused: false });
    expect(await hv.state(bare.uuid)).toEqual({ state: 'running', hasManagedSave: false });
    await hv.suspend(bare.uuid);
    await hv.suspend(bare.uuid); // idempotent
    expect((await hv.state(bare.uuid)).state).toBe('paused');
    expect(await bare.state()).toBe('paused');
    await hv.resume(bare.uuid);
    await hv.resume(bare.uuid); // idempotent
    expect((await hv.state(bare.uuid)).state).toBe('running');
    await bare.virsh('destroy');
    expect(await hv.state(bare.uuid)).toEqual({ state: 'shut off', hasManagedSave: false });
  });

  it('managedsaves a running domain and starts it again, idempotently', async () => {
    await timed('managedsave (running)', () => hv.managedSave(nova.uuid));
    expect(await hv.state(nova.uuid)).toEqual({ state: 'shut off', hasManagedSave: true });
    expect((await hv.describe(nova.uuid)).hasManagedSave).toBe(true);
    await timed('managedsave again (no-op)', () => hv.managedSave(nova.uuid));
    expect(await hv.state(nova.uuid)).toEqual({ state: 'shut off', hasManagedSave: true });
    // The disk is quiescent and intact while saved.
    expect(await nova.sha256OfGuestData()).toBe(nova.expectedDataHash);

    await timed('start (restore)', () => hv.start(nova.uuid, { paused: false }));
    expect(await hv.state(nova.uuid)).toEqual({ state: 'running', hasManagedSave: false });
    await timed('start again (no-op)', () => hv.start(nova.uuid, { paused: false }));
    expect(await hv.state(nova.uuid)).toEqual({ state: 'running', hasManagedSave: false });
  });

  it('restores a domain saved while paused as paused, or running when asked', async () => {
    await hv.suspend(nova.uuid);
    await timed('managedsave (paused)', () => hv.managedSave(nova.uuid));
    expect(await hv.state(nova.uuid)).toEqual({ state: 'shut off', hasManagedSave: true });
    await timed('start paused (restore)', () => hv.start(nova.uuid, { paused: true }));
    expect(await hv.state(nova.uuid)).toEqual({ state: 'paused', hasManagedSave: false });
    await hv.start(nova.uuid, { paused: true }); // no-op
    expect((await hv.state(nova.uuid)).state).toBe('paused');

    // Saved while paused, restored running: plain `virsh start` would leave it paused.
    await hv.managedSave(nova.uuid);
    await hv.start(nova.uuid, { paused: false });
    expect(await hv.state(nova.uuid)).toEqual({ state: 'running', hasManagedSave: false });

    // start() also moves between running and paused.
    await hv.start(nova.uuid, { paused: true });
    expect((await hv.state(nova.uuid)).state).toBe('paused');
    await hv.start(nova.uuid, { paused: false });
    expect((await hv.state(nova.uuid)).state).toBe('running');
    expect(await nova.sha256OfGuestData()).toBe(nova.expectedDataHash);
  });

  it('throws DomainNotFoundError for an unknown domain, and never reads a domain as an option', async () => {
    const unknown = randomUUID();
    await expect(hv.describe(unknown)).rejects.toBeInstanceOf(DomainNotFoundError);
    await expect(hv.state(unknown)).rejects.toBeInstanceOf(DomainNotFoundError);
    await expect(hv.managedSave(unknown)).rejects.toBeInstanceOf(DomainNotFoundError);
    await expect(hv.start(unknown, { paused: false })).rejects.toBeInstanceOf(DomainNotFoundError);
    await expect(hv.describe('--all')).rejects.toBeInstanceOf(DomainNotFoundError);
    await expect(hv.state('-h')).rejects.toBeInstanceOf(DomainNotFoundError);
  });

  it('reports an unreachable libvirtd as a TransientHypervisorError', async () => {
    const nowhere = new VirshHypervisor('qemu+unix:///system?socket=/nonexistent/libvirt-sock');
    await expect(nowhere.listDomains()).rejects.toBeInstanceOf(TransientHypervisorError);
    await expect(nowhere.state(nova.uuid)).rejects.toBeInstanceOf(TransientHypervisorError);
  });
});

describe('QemuImgTool (real qemu-img)', () => {
  const tool = new QemuImgTool();
  let running: TestDomain;
  let stopped: TestDomain;
  let outDir: string;

  beforeAll(async () => {
    [running, stopped] = await Promise.all([
      createTestDomain({ name: 'img-running', start: true }),
      createTestDomain({ name: 'img-stopped', diskMiB: 96, dataMiB: 16 }),
    ]);
    outDir = await mkdtemp(join(tmpdir(), 'snapledger-qemu-img-'));
  });

  afterAll(async () => {
    await Promise.all([running, stopped].filter(Boolean).map((d) => d.destroy()));
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('reads info of a running domain disk only with -U (shared)', async () => {
    await expect(tool.info(running.diskPath)).rejects.toBeInstanceOf(DiskImageToolError);
    await expect(tool.info(running.diskPath)).rejects.toThrow(/lock/i);
    const info = await tool.info(running.diskPath, { shared: true });
    expect(info).toMatchObject({
      format: 'qcow2',
      virtualSize: 64 * 1024 * 1024,
      backingFile: null,
    });
    expect(info.actualSize).toBeGreaterThan(0);

    const stoppedInfo = await tool.info(stopped.diskPath);
    expect(stoppedInfo).toMatchObject({ format: 'qcow2', virtualSize: 96 * 1024 * 1024 });
  });

  it('converts qcow2 -> qcow2 and qcow2 -> raw with progress', async () => {
    for (const targetFormat of ['qcow2', 'raw'] as const) {
      const target = join(outDir, `out.${targetFormat}`);
      const progress: number[] = [];
      await timed(`convert 96 MiB (16 MiB data) qcow2 -> ${targetFormat}`, () =>
        tool.convert({
          source: stopped.diskPath,
          sourceFormat: 'qcow2',
          target,
          targetFormat,
          onProgress: (p) => progress.push(p),
        }),
      );
      expect(progress.at(-1)).toBe(100);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(progress.every((p) => p >= 0 && p <= 100)).toBe(true);

      const info = await tool.info(target);
      expect(info.format).toBe(targetFormat);
      expect(info.virtualSize).toBe(96 * 1024 * 1024);
      expect(
        await imagesHaveSameContent(
          { path: stopped.diskPath, format: 'qcow2' },
          { path: target, format: targetFormat },
          { sameSize: true },
        ),
      ).toBe(true);
      expect(await stopped.sha256OfGuestData(target, targetFormat)).toBe(stopped.expectedDataHash);
      expect(await tool.check(target, targetFormat)).toMatchObject({ ok: true });
    }
    // Different content is detected.
    expect(
      await imagesHaveSameContent(
        { path: stopped.diskPath, format: 'qcow2' },
        { path: running.diskPath, format: 'qcow2' },
      ),
    ).toBe(false);
  });

  it('maps failures to DiskImageToolError with qemu-img stderr', async () => {
    const missing = join(outDir, 'missing.qcow2');
    const error = await tool
      .convert({
        source: missing,
        sourceFormat: 'qcow2',
        target: join(outDir, 'x.raw'),
        targetFormat: 'raw',
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskImageToolError);
    expect((error as DiskImageToolError).stderr).toMatch(/Could not open/);

    const noDir = join(outDir, 'no', 'such', 'dir', 'x.raw');
    await expect(
      tool.convert({
        source: stopped.diskPath,
        sourceFormat: 'qcow2',
        target: noDir,
        targetFormat: 'raw',
      }),
    ).rejects.toBeInstanceOf(DiskImageToolError);
    await expect(
      tool.convert({
        source: stopped.diskPath,
        sourceFormat: 'qcow2; rm -rf /',
        target: noDir,
        targetFormat: 'raw',
      }),
    ).rejects.toBeInstanceOf(DiskImageToolError);
    await expect(tool.info(missing)).rejects.toBeInstanceOf(DiskImageToolError);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      tool.convert({
        source: stopped.diskPath,
        sourceFormat: 'qcow2',
        target: join(outDir, 'aborted.raw'),
        targetFormat: 'raw',
        signal: controller.signal,
      }),
    ).rejects.toThrow(/abort/i);
  });

  it('checks qcow2 and raw images', async () => {
    const qcow2 = await tool.check(stopped.diskPath, 'qcow2');
    expect(qcow2.ok).toBe(true);
    expect(qcow2.output).toMatch(/No errors were found/);

    const raw = join(outDir, 'check.raw');
    await writeFile(raw, Buffer.alloc(1024 * 1024));
    const rawCheck = await tool.check(raw, 'raw');
    expect(rawCheck.ok).toBe(true);
    expect(rawCheck.output).toMatch(/does not support checks/);

    // A qcow2 with a clobbered header is not ok.
    const broken = join(outDir, 'broken.qcow2');
    await writeFile(
      broken,
      Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(4096, 0xff)]),
    );
    expect((await tool.check(broken, 'qcow2')).ok).toBe(false);
  });
});

describe('LocalImageStore (real filesystem)', () => {
  let dataDir: string;
  let store: LocalImageStore;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'snapledger-store-'));
    store = new LocalImageStore(join(dataDir, 'data', 'images'));
  });

  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function stage(id: string, content: Buffer): Promise<void> {
    await writeFile(store.stagingPath(id), content);
    await store.markStaged(id);
  }

  it('stages, commits by rename with md5 and sha512 of the data, idempotently', async () => {
    const id = randomUUID();
    const content = Buffer.from(
      createHash('sha512').update('snapledger').digest('hex').repeat(5000),
    );
    const partial = store.stagingPath(id);
    expect(partial).toBe(join(dataDir, 'data', 'images', '.staging', `${id}.partial`));
    expect((await stat(join(dataDir, 'data', 'images'))).mode & 0o777).toBe(0o700);

    await writeFile(partial, content);
    expect(await store.hasStaged(id)).toBe(false);
    await store.markStaged(id);
    await store.markStaged(id); // idempotent
    expect(await store.hasStaged(id)).toBe(true);
    const stagedIno = (await stat(join(dataDir, 'data', 'images', '.staging', `${id}.staged`))).ino;

    const stored = await store.commit(id);
    expect(stored).toEqual({
      size: content.length,
      checksum: createHash('md5').update(content).digest('hex'),
      osHashValue: createHash('sha512').update(content).digest('hex'),
    });
    const dataPath = await store.dataPath(id);
    expect(dataPath).toBe(join(dataDir, 'data', 'images', id));
    expect((await stat(dataPath!)).ino).toBe(stagedIno); // renamed, not copied
    expect((await readFile(dataPath!)).equals(content)).toBe(true);
    expect(await store.has(id)).toBe(true);
    expect(await store.hasStaged(id)).toBe(false);
    expect(await readdir(join(dataDir, 'data', 'images', '.staging'))).not.toContain(
      `${id}.staged`,
    );
    expect(await readdir(join(dataDir, 'data', 'images', '.staging'))).not.toContain(
      `${id}.partial`,
    );

    expect(await store.commit(id)).toEqual(stored); // idempotent
    await store.markStaged(id); // after commit: still a no-op
  });

  it('hashes a file staged before a restore in one thread, to the same checksums', async () => {
    const id = randomUUID();
    // Over a few of the worker's 1 MiB reads, and not a whole number of them.
    const content = Buffer.alloc(3 * 1024 * 1024 + 12345);
    for (let i = 0; i < content.length; i += 1) content[i] = (i * 7919) % 251;
    await writeFile(store.stagingPath(id), content);
    await store.markStaged(id, { restoreFollows: true });
    expect(await store.commit(id)).toEqual({
      size: content.length,
      checksum: createHash('md5').update(content).digest('hex'),
      osHashValue: createHash('sha512').update(content).digest('hex'),
    });
    const path = (await store.dataPath(id))!;
    expect(await digestFile(path, { threads: 'one' })).toEqual(
      await digestFile(path, { threads: 'both' }),
    );
  });

  it('stores a real qemu-img conversion written to the staging path', async () => {
    const tool = new QemuImgTool();
    const domain = await createTestDomain({ name: 'store' });
    try {
      const id = randomUUID();
      await tool.convert({
        source: domain.diskPath,
        sourceFormat: 'qcow2',
        target: store.stagingPath(id),
        targetFormat: 'qcow2',
      });
      await store.markStaged(id);
      const stored = await store.commit(id);
      const dataPath = (await store.dataPath(id))!;
      const bytes = await readFile(dataPath);
      expect(stored.size).toBe(bytes.length);
      expect(stored.checksum).toBe(createHash('md5').update(bytes).digest('hex'));
      expect(await domain.sha256OfGuestData(dataPath, 'qcow2')).toBe(domain.expectedDataHash);
    } finally {
      await domain.destroy();
    }
  });

  it('discards partial, staged and stored data', async () => {
    const a = randomUUID();
    const b = randomUUID();
    await stage(a, Buffer.from('a'));
    await store.commit(a);
    await stage(b, Buffer.from('b'));
    await writeFile(store.stagingPath(a), 'again');
    await store.discard(a);
    await store.discard(b);
    await store.discard(b); // absent files are fine
    expect(await store.has(a)).toBe(false);
    expect(await store.dataPath(a)).toBeNull();
    expect(await store.hasStaged(b)).toBe(false);
    expect(existsSync(store.stagingPath(a))).toBe(false);
    await expect(store.commit(a)).rejects.toThrow(/nothing staged/);
  });

  it('sweeps staging leftovers that are not kept, and every scratch copy', async () => {
    const keep = randomUUID();
    const dropPartial = randomUUID();
    const dropStaged = randomUUID();
    await writeFile(store.stagingPath(keep), 'keep');
    await writeFile(store.stagingPath(dropPartial), 'partial');
    await stage(dropStaged, Buffer.from('staged'));
    const stagingDir = join(dataDir, 'data', 'images', '.staging');
    await writeFile(join(stagingDir, 'README'), 'not ours');
    // A kept image's scratch copy, left by a process that was killed while it hashed.
    const flat = `${keep}.${randomUUID()}.flat`;
    await writeFile(join(stagingDir, flat), 'scratch');

    const removed = await store.sweepStaging(new Set([keep.toUpperCase()]));
    expect(removed.sort()).toEqual([`${dropPartial}.partial`, `${dropStaged}.staged`, flat].sort());
    expect((await readdir(stagingDir)).sort()).toEqual(['README', `${keep}.partial`].sort());
    expect(await store.sweepStaging(new Set([keep]))).toEqual([]);
    expect(
      await new LocalImageStore(join(dataDir, 'fresh', 'images')).sweepStaging(new Set()),
    ).toEqual([]);
  });

  it('rejects anything that is not a uuid', async () => {
    for (const bad of [
      '../etc',
      '../../etc/passwd',
      '',
      'abc',
      `${randomUUID()}/..`,
      `${randomUUID()}\n`,
      ' ' + randomUUID(),
    ]) {
      expect(() => store.stagingPath(bad)).toThrow(/invalid image id/);
      await expect(store.commit(bad)).rejects.toThrow(/invalid image id/);
      await expect(store.markStaged(bad)).rejects.toThrow(/invalid image id/);
      await expect(store.hasStaged(bad)).rejects.toThrow(/invalid image id/);
      await expect(store.has(bad)).rejects.toThrow(/invalid image id/);
      await expect(store.dataPath(bad)).rejects.toThrow(/invalid image id/);
      await expect(store.discard(bad)).rejects.toThrow(/invalid image id/);
    }
  });
});

describe('test-domain helpers', () => {
  it('leave nothing behind after destroy()', async () => {
    const domain = await createTestDomain({
      name: 'helpers',
      paused: true,
      diskMiB: 16,
      dataMiB: 1,
    });
    expect(await domain.state()).toBe('paused');
    expect(domain.workDir.startsWith(`${TEST_ROOT}/`)).toBe(true);
    expect((await stat(domain.workDir)).mode & 0o777).toBe(0o711);
    expect(await domain.sha256OfGuestData()).toBe(domain.expectedDataHash);
    await domain.virsh('resume');
    await domain.virsh('managedsave');
    await domain.destroy();
    await domain.destroy(); // idempotent
    expect(existsSync(domain.workDir)).toBe(false);
    const hv = new VirshHypervisor(TEST_LIBVIRT_URI);
    await expect(hv.state(domain.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
  });
});
